-- +goose Up
-- Staged rollouts (internal/stages). An app's rollout plan, when it has
-- set one; apps without a row use ripcord.DefaultRolloutPlan. The plan is
-- the domain type as JSON, validated before it is stored.
CREATE TABLE rollout_plans (
    app_id     INTEGER NOT NULL PRIMARY KEY REFERENCES apps (id) ON DELETE CASCADE,
    plan       TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- A release's rollout progress on one platform, beside its status: the
-- stage it is at (1-based, 0 before the start), when that stage and the
-- rollout began, the plan fixed at the start, the store's handle for the
-- release and why it is where it is (e.g. App Review's rejection). A
-- separate table so the release state machine's table stays as it is.
CREATE TABLE release_rollouts (
    release_id         INTEGER NOT NULL,
    platform           TEXT NOT NULL,
    stage              INTEGER NOT NULL DEFAULT 0 CHECK (stage >= 0),
    stage_started_at   TIMESTAMP,
    rollout_started_at TIMESTAMP,
    plan               TEXT NOT NULL DEFAULT '',
    store_ref          TEXT NOT NULL DEFAULT '',
    reason             TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (release_id, platform),
    FOREIGN KEY (release_id, platform) REFERENCES release_platforms (release_id, platform) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE release_rollouts;
DROP TABLE rollout_plans;
