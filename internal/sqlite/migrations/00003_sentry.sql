-- +goose Up
-- One Sentry project (and DSN) per app and platform, as Sentry has one
-- project per platform. Apps that exist already get theirs here.
CREATE TABLE sentry_projects (
    project_id INTEGER PRIMARY KEY,
    app_id     INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    platform   TEXT NOT NULL CHECK (platform IN ('ios', 'android')),
    public_key TEXT NOT NULL UNIQUE CHECK (length(public_key) = 32),
    created_at TIMESTAMP NOT NULL,
    UNIQUE (app_id, platform)
);
INSERT INTO sentry_projects (app_id, platform, public_key, created_at)
    SELECT id, 'ios', lower(hex(randomblob(16))), created_at FROM apps WHERE ios_bundle_id <> '';
INSERT INTO sentry_projects (app_id, platform, public_key, created_at)
    SELECT id, 'android', lower(hex(randomblob(16))), created_at FROM apps WHERE android_package <> '';

-- Per-session state for deduplicating session updates by (sid, seq):
-- the highest seq seen and the facts already counted (bit flags).
CREATE TABLE sentry_sessions (
    project_id INTEGER NOT NULL REFERENCES sentry_projects (project_id) ON DELETE CASCADE,
    sid        TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    flags      INTEGER NOT NULL DEFAULT 0,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (project_id, sid)
);

-- Exact per-release device sets for crash-free users.
CREATE TABLE sentry_devices (
    project_id INTEGER NOT NULL REFERENCES sentry_projects (project_id) ON DELETE CASCADE,
    version    TEXT NOT NULL,
    did        TEXT NOT NULL,
    crashed    INTEGER NOT NULL DEFAULT 0 CHECK (crashed IN (0, 1)),
    PRIMARY KEY (project_id, version, did)
);

-- Event ids already counted.
CREATE TABLE sentry_events (
    project_id INTEGER NOT NULL REFERENCES sentry_projects (project_id) ON DELETE CASCADE,
    event_id   TEXT NOT NULL,
    seen_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (project_id, event_id)
);

-- +goose Down
DROP TABLE sentry_events;
DROP TABLE sentry_devices;
DROP TABLE sentry_sessions;
DROP TABLE sentry_projects;
