-- +goose Up
CREATE TABLE apps (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    ios_bundle_id   TEXT NOT NULL DEFAULT '',
    android_package TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX apps_ios_bundle_id ON apps (ios_bundle_id) WHERE ios_bundle_id <> '';
CREATE UNIQUE INDEX apps_android_package ON apps (android_package) WHERE android_package <> '';

CREATE TABLE builds (
    id            INTEGER PRIMARY KEY,
    app_id        INTEGER NOT NULL REFERENCES apps (id) ON DELETE RESTRICT,
    platform      TEXT NOT NULL CHECK (platform IN ('ios', 'android')),
    version       TEXT NOT NULL,
    build_number  TEXT NOT NULL,
    identity_key  TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    size          INTEGER NOT NULL CHECK (size > 0),
    blob_key      TEXT NOT NULL,
    source_commit TEXT NOT NULL DEFAULT '',
    uploaded_by   TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    UNIQUE (app_id, platform, identity_key),
    UNIQUE (app_id, platform, sha256)
);
CREATE INDEX builds_app_version ON builds (app_id, version);

CREATE TABLE releases (
    id         INTEGER PRIMARY KEY,
    app_id     INTEGER NOT NULL REFERENCES apps (id) ON DELETE RESTRICT,
    version    TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (app_id, version)
);

CREATE TABLE release_platforms (
    release_id INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    platform   TEXT NOT NULL CHECK (platform IN ('ios', 'android')),
    build_id   INTEGER REFERENCES builds (id) ON DELETE RESTRICT,
    status     TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (release_id, platform)
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'engineer', 'release-manager', 'admin')),
    prefix       TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at   TIMESTAMP
);

CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    target       TEXT NOT NULL,
    before_state TEXT NOT NULL,
    after_state  TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX audit_log_target ON audit_log (target, seq);

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

-- +goose Down
DROP TABLE audit_head;
DROP TABLE audit_log;
DROP TABLE api_tokens;
DROP TABLE release_platforms;
DROP TABLE releases;
DROP TABLE builds;
DROP TABLE apps;
