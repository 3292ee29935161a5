-- Keys that expire and rotate (issue 21, points 1 and 2; the same as SQLite's 0010).
-- A tenant's maximum key lifetime (`maxApiKeyLifetimeDays`, in seconds here); NULL: none.
ALTER TABLE tenants ADD COLUMN max_key_lifetime_seconds bigint;
-- When the key's value was last replaced by a rotation; NULL: never rotated.
ALTER TABLE api_keys ADD COLUMN rotated_at timestamptz;
-- Whether `key.expired` was recorded for the key: once per key.
ALTER TABLE api_keys ADD COLUMN expiry_recorded boolean NOT NULL DEFAULT false;
-- The values a rotation superseded: each still lets its key in until `valid_until`, and
-- then answers that it was rotated. Deleting the key ends them with it.
CREATE TABLE api_key_previous (
    digest       bytea PRIMARY KEY,          -- HMAC-SHA256(pepper, old key)
    key_id       uuid NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    preview      text NOT NULL,              -- the old value's kf_…last4
    valid_until  timestamptz NOT NULL
);
CREATE INDEX api_key_previous_by_key ON api_key_previous (key_id);
