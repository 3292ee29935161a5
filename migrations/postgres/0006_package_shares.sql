-- Packages shared by token (`POST /api/package/1/flow/{flow}/share`): the package frozen when
-- the token was issued, passwords already blanked when asked, which any tenant may import
-- with the token until it expires or the flow's tenant revokes it (the same table as SQLite's
-- 0009). The token itself is never stored, only its digest. Deleting the flow (or its
-- tenant) ends its shares.
CREATE TABLE package_shares (
    digest      bytea PRIMARY KEY,          -- HMAC-SHA256(pepper, sharing token)
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    flow_id     uuid NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    version_id  uuid NOT NULL,              -- the version the package holds
    package     text NOT NULL,              -- the package's JSON (text, not jsonb, as documents)
    created_by  uuid NOT NULL,              -- the sharing user (no key: it outlives them)
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX package_shares_by_flow ON package_shares (tenant_id, flow_id);
CREATE INDEX package_shares_by_expiry ON package_shares (expires_at);
