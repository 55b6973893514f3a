-- +goose Up
-- People: they sign in to the dashboard (password hash or OIDC) and act
-- through tokens bound to them. team_roles is a JSON array of tags naming
-- the decisions a person holds, which gate approvals require. Users are
-- disabled, never deleted, so the audit log's names keep pointing at
-- someone. password_hash is an argon2id PHC string, '' for none.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE CHECK (email <> ''),
    name          TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'engineer', 'release-manager', 'admin')),
    team_roles    TEXT NOT NULL DEFAULT '[]',
    password_hash TEXT NOT NULL DEFAULT '',
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_by    TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

-- A token bound to a user acts as them. No foreign key: SQLite cannot drop
-- a column that has one, and users are never deleted.
ALTER TABLE api_tokens ADD COLUMN user_id INTEGER;

-- +goose Down
ALTER TABLE api_tokens DROP COLUMN user_id;
DROP TABLE users;
