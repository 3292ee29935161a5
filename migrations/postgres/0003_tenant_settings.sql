-- A tenant's settings (TenantSettingsAPI), as the JSON text they were last set with (text, not
-- jsonb, like a flow's settings: jsonb cannot hold U+0000 and would reorder the keys); NULL
-- until an administrator sets them.
ALTER TABLE tenants ADD COLUMN settings TEXT;
