-- Invitations: a tenant administrator's addition of an email is pending until the account's
-- owner accepts it through that invitation's own one-time link (README, "Password links").
-- A pending member is not in `memberships` at all, so nothing that reads memberships (roles,
-- keys, tokens, sessions, the user's tenant list) can grant it anything by mistake.
-- And tokens remember when their password sign-in happened: a token minted from another
-- token inherits it, and a sign-in covers only the memberships that had begun by then.

CREATE TABLE invitations (
    -- The member's id as the tenant's administrators see it while the invitation is pending:
    -- the account's own id when the invitation created the account, a fresh one otherwise,
    -- so the answer never tells whether the email had an account elsewhere.
    id               TEXT PRIMARY KEY NOT NULL,
    user_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    role             TEXT NOT NULL CHECK (role IN ('ADMINISTRATOR', 'STANDARD_USER')),
    -- The names the inviting administrator gave; an account that has no password yet takes
    -- them when it accepts.
    first_name       TEXT,
    last_name        TEXT,
    link_digest      BLOB NOT NULL UNIQUE,   -- HMAC-SHA256(pepper, link token)
    link_expires_at  TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    UNIQUE (user_id, tenant_id)
) STRICT;
CREATE INDEX invitations_by_tenant ON invitations (tenant_id, created_at);

-- Every membership of an account that has no password yet becomes an invitation: until now a
-- link set the password of an account that other tenants might have added meanwhile. The
-- membership the account was created with (same created_at as the account) keeps its link
-- and the account's id; any other gets a fresh id and a digest no token has (its tenant's
-- administrator removes and adds the email again to make a link).
INSERT INTO invitations (id, user_id, tenant_id, role, first_name, last_name, link_digest,
                         link_expires_at, created_at)
SELECT CASE WHEN m.created_at = u.created_at THEN u.id
            ELSE lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4'
                 || substr(hex(randomblob(2)), 2) || '-'
                 || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2)
                 || '-' || hex(randomblob(6)))
       END,
       m.user_id, m.tenant_id, m.role,
       CASE WHEN m.created_at = u.created_at THEN u.first_name END,
       CASE WHEN m.created_at = u.created_at THEN u.last_name END,
       COALESCE(CASE WHEN m.created_at = u.created_at
                     THEN (SELECT l.digest FROM password_links l WHERE l.user_id = u.id
                           ORDER BY l.created_at DESC LIMIT 1) END,
                randomblob(32)),
       COALESCE(CASE WHEN m.created_at = u.created_at
                     THEN (SELECT l.expires_at FROM password_links l WHERE l.user_id = u.id
                           ORDER BY l.created_at DESC LIMIT 1) END,
                m.created_at),
       m.created_at
FROM memberships m JOIN users u ON u.id = m.user_id
WHERE u.password_hash = '';
DELETE FROM memberships WHERE user_id IN (SELECT id FROM users WHERE password_hash = '');
-- A link whose membership is gone granted nothing; the others moved into `invitations`.
DROP TABLE password_links;

-- When the password sign-in behind a token happened (NULL in rows from before: their own
-- creation, which is what it was for every token issued until now).
ALTER TABLE tokens ADD COLUMN signed_in_at TEXT;
UPDATE tokens SET signed_in_at = created_at;
CREATE INDEX tokens_by_user_tenant ON tokens (user_id, tenant_id);
