-- Last use of a key (written behind the hot path, at most once a minute per key) and its own
-- rate limit; a tenant's default and upper bound for its keys' rate limits; and the instances
-- that serve the database, each heartbeating so that every one takes its share of a limit.
-- NULL rate columns: the tenant's, else the server's default (`--key-requests-per-second`).
ALTER TABLE api_keys ADD COLUMN last_used_at timestamptz;
ALTER TABLE api_keys ADD COLUMN last_used_address text;
ALTER TABLE api_keys ADD COLUMN rate_per_second bigint;
ALTER TABLE api_keys ADD COLUMN rate_burst bigint;
ALTER TABLE tenants ADD COLUMN key_rate_per_second bigint;
ALTER TABLE tenants ADD COLUMN key_rate_burst bigint;
CREATE TABLE instances (
    id         uuid PRIMARY KEY,
    last_seen  timestamptz NOT NULL
);
