-- keyflow's schema on PostgreSQL: the same tables as SQLite's migrations 0001-0004 leave, in
-- native types (uuid, timestamptz, bytea, boolean). Rows move between the two backends
-- with `keyflow copy`.

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    summary     text,
    created_at  timestamptz NOT NULL
);

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    email          text NOT NULL UNIQUE,   -- lower-cased by the domain type
    first_name     text,
    last_name      text,
    password_hash  text NOT NULL,          -- Argon2id PHC string; '' for no password yet
    created_at     timestamptz NOT NULL
);

CREATE TABLE memberships (
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('ADMINISTRATOR', 'STANDARD_USER')),
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (user_id, tenant_id)
);
CREATE INDEX memberships_by_tenant ON memberships (tenant_id);

-- A pending membership, accepted through its own one-time link (README, "Password links").
CREATE TABLE invitations (
    id               uuid PRIMARY KEY,
    user_id          uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id        uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    role             text NOT NULL CHECK (role IN ('ADMINISTRATOR', 'STANDARD_USER')),
    first_name       text,
    last_name        text,
    link_digest      bytea NOT NULL UNIQUE,  -- HMAC-SHA256(pepper, link token)
    link_expires_at  timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    UNIQUE (user_id, tenant_id)
);
CREATE INDEX invitations_by_tenant ON invitations (tenant_id, created_at);

-- A key belongs to a membership: removing the user from the tenant deletes its keys. The
-- unique constraint keeps key names unique per user and tenant under concurrent creates.
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL,
    tenant_id    uuid NOT NULL,
    name         text NOT NULL,
    digest       bytea NOT NULL UNIQUE,    -- HMAC-SHA256(pepper, key): the only lookup
    preview      text NOT NULL,            -- kf_…last4
    sealed       bytea,                    -- XChaCha20-Poly1305(master key, key); NULL under `never`
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    FOREIGN KEY (user_id, tenant_id) REFERENCES memberships (user_id, tenant_id) ON DELETE CASCADE,
    UNIQUE (user_id, tenant_id, name)
);

CREATE TABLE tokens (
    digest        bytea PRIMARY KEY,       -- HMAC-SHA256(pepper, token)
    user_id       uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    signed_in_at  timestamptz NOT NULL     -- the password sign-in the token comes from
);
CREATE INDEX tokens_by_expiry ON tokens (expires_at);
CREATE INDEX tokens_by_user_tenant ON tokens (user_id, tenant_id);

CREATE TABLE web_sessions (
    digest      bytea PRIMARY KEY,         -- HMAC-SHA256(pepper, session token)
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX web_sessions_by_user ON web_sessions (user_id);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);

-- The version of each flow being edited. who_* are user ids, joined (LEFT) for the names, so
-- a flow outlives its author.
CREATE TABLE flows (
    id                     uuid PRIMARY KEY,
    tenant_id              uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    version_id             uuid NOT NULL,
    editing_token          uuid NOT NULL,
    developer_name         text NOT NULL,
    name_folded            text NOT NULL,  -- Unicode lower case (Rust's), for the filters
    developer_summary      text,
    start_map_element_id   text,
    settings               text NOT NULL,  -- FlowSettings as JSON text: jsonb holds no U+0000,
                                           -- which a flow's documents may carry
    date_created           timestamptz NOT NULL,
    date_modified          timestamptz NOT NULL,
    who_created            uuid NOT NULL,
    who_modified           uuid NOT NULL,
    who_owner              uuid NOT NULL
);
CREATE INDEX flows_by_tenant_name ON flows (tenant_id, name_folded);

-- A frozen version of a flow, with its activation state. Deleting the flow deletes them.
CREATE TABLE flow_snapshots (
    flow_id                uuid NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    version_id             uuid NOT NULL,
    tenant_id              uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    editing_token          uuid NOT NULL,
    developer_name         text NOT NULL,
    name_folded            text NOT NULL,
    developer_summary      text,
    start_map_element_id   text,
    settings               text NOT NULL,  -- as in flows
    date_created           timestamptz NOT NULL,
    date_modified          timestamptz NOT NULL,
    who_created            uuid NOT NULL,
    who_modified           uuid NOT NULL,
    who_owner              uuid NOT NULL,
    comment                text,
    snapped_at             timestamptz NOT NULL,
    is_active              boolean NOT NULL DEFAULT false,
    is_default             boolean NOT NULL DEFAULT false,
    activated_at           timestamptz,
    activated_by_email     text,           -- `alertEmail`: who activated it
    PRIMARY KEY (flow_id, version_id),
    CHECK (NOT is_default OR is_active)
);
CREATE INDEX flow_snapshots_active ON flow_snapshots (tenant_id, is_active, name_folded);

-- The map elements of a flow; keyflow keeps only the START element each flow is created with.
CREATE TABLE map_elements (
    id              uuid PRIMARY KEY,
    flow_id         uuid NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    element_type    text NOT NULL,
    developer_name  text NOT NULL,
    x               integer NOT NULL,
    y               integer NOT NULL,
    date_created    timestamptz NOT NULL
);
CREATE INDEX map_elements_by_flow ON map_elements (flow_id);

CREATE TABLE audit_events (
    id          uuid PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor_id    uuid,
    tenant_id   uuid,
    action      text NOT NULL,
    subject     text
);
CREATE INDEX audit_events_by_time ON audit_events (at);

-- Settings of the database itself: the secrets' fingerprints.
CREATE TABLE meta (
    key    text PRIMARY KEY,
    value  text NOT NULL
);

-- Raised by every write that another instance may have cached, in that write's transaction,
-- which also sends the announcement (src/store/postgres/changes.rs). One row: its lock orders
-- announced writes, so the counter follows commit order.
CREATE TABLE change_counter (
    id     boolean PRIMARY KEY DEFAULT true CHECK (id),
    value  bigint NOT NULL
);
INSERT INTO change_counter (id, value) VALUES (true, 0);
