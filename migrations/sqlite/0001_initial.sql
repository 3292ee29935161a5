-- keyflow's first schema. Ids are UUID v7 text; timestamps are fixed-width RFC 3339 UTC text,
-- so text order is time order.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    summary     TEXT,
    created_at  TEXT NOT NULL
) STRICT;

CREATE TABLE users (
    id             TEXT PRIMARY KEY NOT NULL,
    email          TEXT NOT NULL UNIQUE,   -- lower-cased by the domain type
    first_name     TEXT,
    last_name      TEXT,
    password_hash  TEXT NOT NULL,          -- Argon2id PHC string
    created_at     TEXT NOT NULL
) STRICT;

CREATE TABLE memberships (
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('ADMINISTRATOR', 'STANDARD_USER')),
    created_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, tenant_id)
) STRICT;
CREATE INDEX memberships_by_tenant ON memberships (tenant_id);

-- A key belongs to a membership: removing the user from the tenant deletes its keys.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL,
    tenant_id    TEXT NOT NULL,
    name         TEXT NOT NULL,
    digest       BLOB NOT NULL UNIQUE,     -- HMAC-SHA256(pepper, key): the only lookup
    preview      TEXT NOT NULL,            -- kf_…last4
    sealed       BLOB,                     -- XChaCha20-Poly1305(master key, key); NULL under `never`
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    FOREIGN KEY (user_id, tenant_id) REFERENCES memberships (user_id, tenant_id) ON DELETE CASCADE,
    UNIQUE (user_id, tenant_id, name)
) STRICT;

CREATE TABLE tokens (
    digest      BLOB PRIMARY KEY NOT NULL, -- HMAC-SHA256(pepper, token)
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
) STRICT;
CREATE INDEX tokens_by_expiry ON tokens (expires_at);

CREATE TABLE flows (
    id                     TEXT PRIMARY KEY NOT NULL,
    tenant_id              TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    version_id             TEXT NOT NULL,
    editing_token          TEXT NOT NULL,
    developer_name         TEXT NOT NULL,
    name_folded            TEXT NOT NULL,  -- Unicode lower case, for the filters
    developer_summary      TEXT,
    start_map_element_id   TEXT,
    settings               TEXT NOT NULL,  -- JSON: FlowSettings
    date_created           TEXT NOT NULL,
    date_modified          TEXT NOT NULL,
    who_created            TEXT NOT NULL,
    who_modified           TEXT NOT NULL,
    who_owner              TEXT NOT NULL
) STRICT;
CREATE INDEX flows_by_tenant_name ON flows (tenant_id, name_folded);

CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY NOT NULL,
    at          TEXT NOT NULL,
    actor_id    TEXT,
    tenant_id   TEXT,
    action      TEXT NOT NULL,
    subject     TEXT
) STRICT;

-- Settings of the database itself: the secrets' fingerprints and the revocation epoch.
CREATE TABLE meta (
    key    TEXT PRIMARY KEY NOT NULL,
    value  TEXT NOT NULL
) STRICT;
INSERT INTO meta (key, value) VALUES ('revocation_epoch', '0');
