-- Tokens an API key obtained (`GET /api/draw/1/authentication/{tenantId}` with a key) are
-- bound to it: deleted with it (and so with its owner's membership), never valid past its
-- expiry, and refused whatever the key is refused. NULL: a token of a password sign-in.
ALTER TABLE tokens ADD COLUMN key_id TEXT REFERENCES api_keys(id) ON DELETE CASCADE;
CREATE INDEX tokens_by_key ON tokens (key_id);
