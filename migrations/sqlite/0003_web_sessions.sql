-- Sign-in sessions of the web pages. Like tokens, a session is stored only as the peppered
-- digest of the random value its cookie holds; the CSRF token is derived from that value, so
-- nothing here lets a copy of the database act for a user.
CREATE TABLE web_sessions (
    digest      BLOB PRIMARY KEY NOT NULL, -- HMAC-SHA256(pepper, session token)
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
) STRICT;
CREATE INDEX web_sessions_by_user ON web_sessions (user_id);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);
