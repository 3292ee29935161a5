-- Flow snapshots and activation, the START map element of each flow, and the one-time links
-- that let an invited user set a first password.

-- A frozen version of a flow. `flows` keeps the version being edited; a snapshot is a copy of
-- one version, with its activation state. Deleting the flow deletes its snapshots.
CREATE TABLE flow_snapshots (
    flow_id                TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    version_id             TEXT NOT NULL,
    tenant_id              TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    editing_token          TEXT NOT NULL,
    developer_name         TEXT NOT NULL,
    name_folded            TEXT NOT NULL,
    developer_summary      TEXT,
    start_map_element_id   TEXT,
    settings               TEXT NOT NULL,  -- JSON: FlowSettings
    date_created           TEXT NOT NULL,
    date_modified          TEXT NOT NULL,
    who_created            TEXT NOT NULL,
    who_modified           TEXT NOT NULL,
    who_owner              TEXT NOT NULL,
    comment                TEXT,           -- the snapshot's comment
    snapped_at             TEXT NOT NULL,
    is_active              INTEGER NOT NULL DEFAULT 0 CHECK (is_active IN (0, 1)),
    is_default             INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    activated_at           TEXT,
    activated_by_email     TEXT,           -- `alertEmail`: who activated it
    PRIMARY KEY (flow_id, version_id),
    CHECK (is_default = 0 OR is_active = 1)
) STRICT;
CREATE INDEX flow_snapshots_active ON flow_snapshots (tenant_id, is_active, name_folded);

-- The map elements of a flow; keyflow keeps only the START element each flow is created with.
CREATE TABLE map_elements (
    id              TEXT PRIMARY KEY NOT NULL,
    flow_id         TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    element_type    TEXT NOT NULL,
    developer_name  TEXT NOT NULL,
    x               INTEGER NOT NULL,
    y               INTEGER NOT NULL,
    date_created    TEXT NOT NULL
) STRICT;
CREATE INDEX map_elements_by_flow ON map_elements (flow_id);

-- Flows created before this migration get their START element now (a random UUID v4).
INSERT INTO map_elements (id, flow_id, element_type, developer_name, x, y, date_created)
SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2)
             || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2)
             || '-' || hex(randomblob(6))),
       id, 'START', 'Start', 100, 100, date_created
FROM flows WHERE start_map_element_id IS NULL;
UPDATE flows SET start_map_element_id =
    (SELECT m.id FROM map_elements m WHERE m.flow_id = flows.id AND m.element_type = 'START')
WHERE start_map_element_id IS NULL;

-- One-time links to set a password, stored as their peppered digest like every other secret.
CREATE TABLE password_links (
    digest      BLOB PRIMARY KEY NOT NULL, -- HMAC-SHA256(pepper, link token)
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
) STRICT;

-- users.password_hash is '' for an account that has no usable password yet: it was added by
-- an administrator and its password link has not been used.
