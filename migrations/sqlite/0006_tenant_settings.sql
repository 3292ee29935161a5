-- A tenant's settings (TenantSettingsAPI), as the JSON text they were last set with; NULL
-- until an administrator sets them.
ALTER TABLE tenants ADD COLUMN settings TEXT;
