-- +goose Up
-- Web dashboard sessions, kept server-side so signing out (or an admin
-- deleting a session) ends it everywhere at once. Only a SHA-256 of the
-- random session id is stored: a copy of this table signs nobody in. The
-- actor (name, role, team roles) is fixed at sign-in; user_email lets the
-- dashboard re-check the account on each request.
CREATE TABLE web_sessions (
    id_hash     TEXT PRIMARY KEY CHECK (length(id_hash) = 64),
    user_email  TEXT NOT NULL,
    actor       TEXT NOT NULL CHECK (actor <> ''),
    role        TEXT NOT NULL,
    team_roles  TEXT NOT NULL DEFAULT '[]',
    method      TEXT NOT NULL CHECK (method IN ('password', 'oidc')),
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- +goose Down
DROP TABLE web_sessions;
