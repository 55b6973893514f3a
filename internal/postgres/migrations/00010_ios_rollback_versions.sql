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
ALTER TABLE rollback_builds
    ADD COLUMN store_version_id TEXT NOT NULL DEFAULT '',
    ADD COLUMN store_version_state TEXT NOT NULL DEFAULT '',
    ADD COLUMN approved_at TIMESTAMPTZ,
    ADD COLUMN target_released_at TIMESTAMPTZ,
    ADD COLUMN superseded_at TIMESTAMPTZ;
ALTER TABLE rollback_builds DROP CONSTRAINT rollback_builds_state_check;
ALTER TABLE rollback_builds ADD CONSTRAINT rollback_builds_state_check
    CHECK (state IN ('allocated', 'signed', 'uploaded', 'ready', 'invalid', 'not_shippable', 'withdrawn'));
ALTER TABLE rollback_builds DROP CONSTRAINT rollback_builds_app_id_platform_target_version_key;
CREATE UNIQUE INDEX rollback_builds_current ON rollback_builds (app_id, platform, target_version) WHERE superseded_at IS NULL;

-- +goose Down
-- Superseded rows and the withdrawn state do not exist before this
-- migration: superseded rows go (their reservations with them) and
-- withdrawn rows become invalid.
DELETE FROM rollback_builds WHERE superseded_at IS NOT NULL;
UPDATE rollback_builds SET state = 'invalid', reason = 'withdrawn from the App Store' WHERE state = 'withdrawn';
DROP INDEX rollback_builds_current;
ALTER TABLE rollback_builds ADD CONSTRAINT rollback_builds_app_id_platform_target_version_key UNIQUE (app_id, platform, target_version);
ALTER TABLE rollback_builds DROP CONSTRAINT rollback_builds_state_check;
ALTER TABLE rollback_builds ADD CONSTRAINT rollback_builds_state_check
    CHECK (state IN ('allocated', 'signed', 'uploaded', 'ready', 'invalid', 'not_shippable'));
ALTER TABLE rollback_builds
    DROP COLUMN store_version_id,
    DROP COLUMN store_version_state,
    DROP COLUMN approved_at,
    DROP COLUMN target_released_at,
    DROP COLUMN superseded_at;
