-- +goose Up
-- iOS rollback App Store versions, withdrawal and re-preparation.
--
-- A rollback build now records the App Store version Ripcord created for it
-- (id, last seen appVersionState, when it was first seen approved) and when
-- the target was released (the start of the window with no approved
-- rollback), may be
-- withdrawn (its App Store version deleted so the team's next version can
-- be created), and may be superseded: when a hotfix takes its version or
-- build number, or the live release changes, or the signing material
-- expires, the row is kept for provenance with superseded_at set and a new
-- row is prepared for the same target. The unique key on app, platform and
-- target therefore covers current rows only (a partial unique index), and
-- the version stays unique across all rows, superseded or not, so a
-- re-preparation never reuses a version the store may have seen.
--
-- SQLite cannot change a CHECK or drop a UNIQUE constraint in place, so the
-- table is rebuilt. Its reservations point at it with ON DELETE CASCADE:
-- they are copied aside and restored, so dropping the old table loses none.
CREATE TEMPORARY TABLE rb_00010 AS SELECT * FROM rollback_builds;
CREATE TEMPORARY TABLE res_00010 AS SELECT * FROM build_number_reservations;
DROP TABLE build_number_reservations;
DROP TABLE rollback_builds;

CREATE TABLE rollback_builds (
    id                  INTEGER PRIMARY KEY,
    app_id              INTEGER NOT NULL REFERENCES apps (id) ON DELETE RESTRICT,
    platform            TEXT NOT NULL CHECK (platform IN ('ios', 'android')),
    target_version      TEXT NOT NULL,
    version             TEXT NOT NULL,
    build_number        TEXT NOT NULL,
    source_build_id     INTEGER NOT NULL REFERENCES builds (id) ON DELETE RESTRICT,
    source_sha256       TEXT NOT NULL,
    state               TEXT NOT NULL CHECK (state IN ('allocated', 'signed', 'uploaded', 'ready', 'invalid', 'not_shippable', 'withdrawn')),
    reason              TEXT NOT NULL DEFAULT '',
    build_id            INTEGER REFERENCES builds (id) ON DELETE RESTRICT,
    sha256              TEXT NOT NULL DEFAULT '',
    signer_cert_sha256  TEXT NOT NULL DEFAULT '',
    findings            TEXT NOT NULL DEFAULT '[]',
    store_ref           TEXT NOT NULL DEFAULT '',
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    store_version_id    TEXT NOT NULL DEFAULT '',
    store_version_state TEXT NOT NULL DEFAULT '',
    approved_at         TIMESTAMP,
    target_released_at  TIMESTAMP,
    superseded_at       TIMESTAMP,
    UNIQUE (app_id, platform, version)
);
CREATE UNIQUE INDEX rollback_builds_current ON rollback_builds (app_id, platform, target_version) WHERE superseded_at IS NULL;

CREATE TABLE build_number_reservations (
    app_id       INTEGER NOT NULL REFERENCES apps (id) ON DELETE RESTRICT,
    platform     TEXT NOT NULL CHECK (platform IN ('ios', 'android')),
    build_number TEXT NOT NULL,
    reserved_for INTEGER NOT NULL REFERENCES rollback_builds (id) ON DELETE CASCADE,
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (app_id, platform, build_number)
);

INSERT INTO rollback_builds (id, app_id, platform, target_version, version, build_number, source_build_id, source_sha256,
    state, reason, build_id, sha256, signer_cert_sha256, findings, store_ref, created_at, updated_at)
SELECT id, app_id, platform, target_version, version, build_number, source_build_id, source_sha256,
    state, reason, build_id, sha256, signer_cert_sha256, findings, store_ref, created_at, updated_at FROM rb_00010;
INSERT INTO build_number_reservations SELECT * FROM res_00010;
DROP TABLE rb_00010;
DROP TABLE res_00010;

-- +goose Down
-- Superseded rows and the withdrawn state do not exist before this
-- migration: superseded rows go (their reservations with them, which frees
-- numbers the store may have seen, so only roll back when none exist) and
-- withdrawn rows become invalid.
DELETE FROM rollback_builds WHERE superseded_at IS NOT NULL;
UPDATE rollback_builds SET state = 'invalid', reason = 'withdrawn from the App Store' WHERE state = 'withdrawn';
CREATE TEMPORARY TABLE rb_00010 AS SELECT * FROM rollback_builds;
CREATE TEMPORARY TABLE res_00010 AS SELECT * FROM build_number_reservations;
DROP TABLE build_number_reservations;
DROP TABLE rollback_builds;

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

CREATE TABLE build_number_reservations (
    app_id       INTEGER NOT NULL REFERENCES apps (id) ON DELETE RESTRICT,
    platform     TEXT NOT NULL CHECK (platform IN ('ios', 'android')),
    build_number TEXT NOT NULL,
    reserved_for INTEGER NOT NULL REFERENCES rollback_builds (id) ON DELETE CASCADE,
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (app_id, platform, build_number)
);

INSERT INTO rollback_builds SELECT id, app_id, platform, target_version, version, build_number, source_build_id, source_sha256,
    state, reason, build_id, sha256, signer_cert_sha256, findings, store_ref, created_at, updated_at FROM rb_00010;
INSERT INTO build_number_reservations SELECT * FROM res_00010 WHERE reserved_for IN (SELECT id FROM rollback_builds);
DROP TABLE rb_00010;
DROP TABLE res_00010;
