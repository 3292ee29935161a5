-- Running flows (`/api/run/1/…`): one row per state (the same table as SQLite's 0014).
-- `state_token` changes at every invoke, and an invoke writes only where the row still holds
-- the token it read (a conditional UPDATE), so of two invokes racing on one state exactly one
-- wins. The engine's values and history are JSON documents (text, as other documents) the
-- store never reads into. Deleting the flow or the tenant ends its states.
CREATE TABLE flow_states (
    id               uuid PRIMARY KEY,            -- random (UUID v4): unguessable
    tenant_id        uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    flow_id          uuid NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    version_id       uuid NOT NULL,               -- the snapshot the state runs
    state_token      uuid NOT NULL,               -- random, new at every invoke
    current_element  text,                        -- the map element it waits at; NULL once done
    status           text NOT NULL,               -- engine status (IN_PROGRESS, COMPLETE, FAULT)
    state_values     text NOT NULL,               -- JSON: the values the run holds
    history          text NOT NULL,               -- JSON: the map elements passed, in order
    created_by       uuid,                        -- the user who started it; NULL: anonymous
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX flow_states_by_flow ON flow_states (tenant_id, flow_id);
