-- When a state expires (`flow_states.expires_at`): the earlier of its start plus the flow's
-- `stateExpirationLength` and its last write plus `idleStateExpirationLength` (seconds; 0:
-- never), set at start and at every write; NULL: never. An expired state is refused by every
-- run endpoint, and `control::state_upkeep` deletes expired rows in bounded batches, oldest
-- expiry first (the index). The tenant index serves the administrators' listing, newest first.
ALTER TABLE flow_states ADD COLUMN expires_at TEXT;
CREATE INDEX flow_states_by_expiry ON flow_states (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX flow_states_by_created ON flow_states (tenant_id, created_at);
