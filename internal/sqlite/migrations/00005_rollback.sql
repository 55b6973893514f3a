-- +goose Up
-- Rollback builds: the live release's binary re-signed with a version above
-- a target release, prepared step by step (allocated -> signed -> uploaded ->
-- ready, or invalid / not_shippable with a reason). One per app, platform
-- and target, so a re-run resumes the row instead of starting over; the
-- version is unique too, so two jobs never hand out the same one.
CREATE TABLE rollback_builds (
    id                 INTEGER PRIMARY KEY,
    app_id             INTEGER NOT NULL REFERENCES apps (id) ON DELETE RESTRICT,
    platform           TEXT NOT NULL CHECK (platform IN ('ios', 'android')),
    target_version     TEXT NOT NULL,
    version            TEXT NOT NULL,
    build_number       TEXT NOT NULL,
    source_build_id    INTEGER NOT NULL REFERENCES builds (id) ON DELETE RESTRICT,
    source_sha256      TEXT NOT NULL,
    state              TEXT NOT NULL CHECK (state IN ('allocated', 'signed', 'uploaded', 'ready', 'invalid', 'not_shippable')),
    reason             TEXT NOT NULL DEFAULT '',
    build_id           INTEGER REFERENCES builds (id) ON DELETE RESTRICT,
    sha256             TEXT NOT NULL DEFAULT '',
    signer_cert_sha256 TEXT NOT NULL DEFAULT '',
    findings           TEXT NOT NULL DEFAULT '[]',
    store_ref          TEXT NOT NULL DEFAULT '',
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL,
    UNIQUE (app_id, platform, target_version),
    UNIQUE (app_id, platform, version)
);

-- A build number handed to a rollback build before any artifact carries
-- it. The primary key is what keeps two preparing jobs from taking the same
-- number: the second insert fails and its job allocates again.
CREATE TABLE build_number_reservations (
    app_id       INTEGER NOT NULL REFERENCES apps (id) ON DELETE RESTRICT,
    platform     TEXT NOT NULL CHECK (platform IN ('ios', 'android')),
    build_number TEXT NOT NULL,
    reserved_for INTEGER NOT NULL REFERENCES rollback_builds (id) ON DELETE CASCADE,
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (app_id, platform, build_number)
);

-- +goose Down
DROP TABLE build_number_reservations;
DROP TABLE rollback_builds;
