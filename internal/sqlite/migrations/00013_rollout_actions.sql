-- +goose Up
-- Rollout actions: a halt, resume or rollback of one release on one
-- platform, run as a job whose completed steps are stored as JSON as they
-- complete. The partial unique index lets at most one action per release
-- and platform be queued or running, so two clicks, two API calls or two
-- instances make one action; the idempotency key makes a retried request
-- find the action it created.
CREATE TABLE rollout_actions (
    id              INTEGER PRIMARY KEY,
    app_id          INTEGER NOT NULL REFERENCES apps (id) ON DELETE RESTRICT,
    release_id      INTEGER NOT NULL REFERENCES releases (id) ON DELETE RESTRICT,
    platform        TEXT NOT NULL CHECK (platform IN ('ios', 'android')),
    kind            TEXT NOT NULL CHECK (kind IN ('halt', 'resume', 'rollback')),
    state           TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    idempotency_key TEXT NOT NULL,
    actor           TEXT NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    steps           TEXT NOT NULL DEFAULT '[]',
    pending_step    TEXT NOT NULL DEFAULT '',
    error           TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    UNIQUE (app_id, idempotency_key)
);

CREATE UNIQUE INDEX rollout_actions_one_active ON rollout_actions (release_id, platform)
    WHERE state IN ('queued', 'running');

CREATE INDEX rollout_actions_by_release ON rollout_actions (release_id, platform, id);

-- +goose Down
DROP TABLE rollout_actions;
