-- A key narrowed to scopes (`flows:read` …, space-separated; empty: what its owner's role
-- allows) and to networks (CIDR ranges, comma-separated; empty: from anywhere). Read into
-- the cached grant, so checking them needs no storage.
ALTER TABLE api_keys ADD COLUMN scopes text NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN allowed_networks text NOT NULL DEFAULT '';
