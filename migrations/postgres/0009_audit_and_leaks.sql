-- The audit trail in Boomi's shape (`GET /api/audit/1/search`): where each event came from
-- (the client's address and the request's id, NULL from the command line) and what else it
-- says (`data`, a JSON object as text: a refusal's reason and count, a leak report's URL). The
-- indexes serve the search: a tenant's events by time, a user's own by time, and the pruning
-- by time (`audit_events_by_time`, from 0001). The same as SQLite's 0012.
ALTER TABLE audit_events ADD COLUMN address text;
ALTER TABLE audit_events ADD COLUMN request_id text;
ALTER TABLE audit_events ADD COLUMN data text;
CREATE INDEX audit_events_by_tenant ON audit_events (tenant_id, at);
CREATE INDEX audit_events_by_actor ON audit_events (actor_id, at);

-- Keys reported leaked (`POST /api/keys/report-leak`) and revoked for it: what the owner is
-- told on the settings page. The key itself is gone (revoked by deletion), so its name and
-- preview are kept here; the owner's or the tenant's removal ends the notice.
CREATE TABLE leak_reports (
    id          uuid PRIMARY KEY,
    at          timestamptz NOT NULL,
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    key_name    text NOT NULL,
    preview     text NOT NULL,
    url         text,                       -- where the reporter found it, if they said
    address     text                        -- the reporter's address
);
CREATE INDEX leak_reports_by_user ON leak_reports (user_id, at);
