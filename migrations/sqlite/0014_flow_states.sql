-- Running flows (`/api/run/1/…`): one row per state. `state_token` changes at every invoke,
-- and an invoke writes only where the row still holds the token it read (a conditional
-- UPDATE), so of two invokes racing on one state exactly one wins. The engine's values and
-- history are JSON documents the store never reads into. Deleting the flow or the tenant
-- ends its states.
CREATE TABLE flow_states (
    id               TEXT PRIMARY KEY NOT NULL,   -- random (UUID v4): unguessable
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    flow_id          TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    version_id       TEXT NOT NULL,               -- the snapshot the state runs
    state_token      TEXT NOT NULL,               -- random, new at every invoke
    current_element  TEXT,                        -- the map element it waits at; NULL once done
    status           TEXT NOT NULL,               -- engine status (IN_PROGRESS, COMPLETE, FAULT)
    state_values     TEXT NOT NULL,               -- JSON: the values the run holds
    history          TEXT NOT NULL,               -- JSON: the map elements passed, in order
    created_by       TEXT,                        -- the user who started it; NULL: anonymous
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
) STRICT;
CREATE INDEX flow_states_by_flow ON flow_states (tenant_id, flow_id);
