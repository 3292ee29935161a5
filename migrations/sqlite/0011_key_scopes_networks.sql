-- A key narrowed to scopes (`flows:read` …, space-separated; empty: what its owner's role
-- allows) and to networks (CIDR ranges, comma-separated; empty: from anywhere). Read into
-- the cached grant, so checking them needs no storage.
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN allowed_networks TEXT NOT NULL DEFAULT '';
