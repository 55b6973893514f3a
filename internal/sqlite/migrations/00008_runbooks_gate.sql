-- +goose Up
-- Runbooks as code (issue #10). Each push of an app's .ripcord/ directory
-- stores a new version of every runbook whose content changed (identical
-- content, same hash, makes no version) and a removal marker for runbooks no
-- longer in the directory; the current set is each runbook's newest row.
-- confirmed is written by finished rehearsals only: JSON of each rollback
-- level's measured time, bound to this version's content.
CREATE TABLE runbook_versions (
    id           INTEGER PRIMARY KEY,
    app_id       INTEGER NOT NULL REFERENCES apps (id) ON DELETE RESTRICT,
    runbook_id   TEXT NOT NULL CHECK (runbook_id <> ''),
    flow         TEXT NOT NULL DEFAULT '',
    title        TEXT NOT NULL DEFAULT '',
    content      TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    git_sha      TEXT NOT NULL,
    removed      INTEGER NOT NULL DEFAULT 0 CHECK (removed IN (0, 1)),
    confirmed    TEXT NOT NULL DEFAULT '',
    pushed_by    TEXT NOT NULL,
    pushed_at    TIMESTAMP NOT NULL
);
CREATE INDEX runbook_versions_by_runbook ON runbook_versions (app_id, runbook_id, id);

-- The app's gate template (.ripcord/gate.yaml), one row per changed push.
CREATE TABLE gate_versions (
    id           INTEGER PRIMARY KEY,
    app_id       INTEGER NOT NULL REFERENCES apps (id) ON DELETE RESTRICT,
    content      TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    git_sha      TEXT NOT NULL,
    pushed_by    TEXT NOT NULL,
    pushed_at    TIMESTAMP NOT NULL
);
CREATE INDEX gate_versions_by_app ON gate_versions (app_id, id);

-- A rehearsal of one runbook version. record is JSON of who started and
-- ended each step and rollback level and when (server clock); revision
-- guards its read-modify-write against concurrent marks.
CREATE TABLE rehearsals (
    id                 INTEGER PRIMARY KEY,
    app_id             INTEGER NOT NULL REFERENCES apps (id) ON DELETE RESTRICT,
    runbook_version_id INTEGER NOT NULL REFERENCES runbook_versions (id) ON DELETE RESTRICT,
    runbook_id         TEXT NOT NULL,
    content_hash       TEXT NOT NULL,
    env                TEXT NOT NULL,
    state              TEXT NOT NULL CHECK (state IN ('running', 'finished')),
    record             TEXT NOT NULL,
    revision           INTEGER NOT NULL,
    outcome            TEXT NOT NULL DEFAULT '',
    result             TEXT NOT NULL DEFAULT '',
    started_by         TEXT NOT NULL,
    started_at         TIMESTAMP NOT NULL,
    finished_at        TIMESTAMP
);
CREATE INDEX rehearsals_by_runbook ON rehearsals (app_id, runbook_id, id);

-- What a release changes (paths and flags, from CI), matched against the
-- runbooks' covers to find the flows it touches.
CREATE TABLE release_changes (
    app_id      INTEGER NOT NULL REFERENCES apps (id) ON DELETE RESTRICT,
    version     TEXT NOT NULL,
    paths       TEXT NOT NULL,
    flags       TEXT NOT NULL,
    source      TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (app_id, version)
);

-- Approvals and manual checks of gate items, one per item, role and person.
CREATE TABLE gate_approvals (
    id          INTEGER PRIMARY KEY,
    app_id      INTEGER NOT NULL REFERENCES apps (id) ON DELETE RESTRICT,
    version     TEXT NOT NULL,
    item_id     TEXT NOT NULL,
    role        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    evidence    TEXT NOT NULL DEFAULT '',
    approved_at TIMESTAMP NOT NULL,
    UNIQUE (app_id, version, item_id, role, actor)
);

-- Go/no-go decisions: who checked, when, every item's result and a hash of
-- them. Append-only; the newest one per release counts.
CREATE TABLE gate_decisions (
    id          INTEGER PRIMARY KEY,
    app_id      INTEGER NOT NULL REFERENCES apps (id) ON DELETE RESTRICT,
    version     TEXT NOT NULL,
    go          INTEGER NOT NULL CHECK (go IN (0, 1)),
    items       TEXT NOT NULL,
    items_hash  TEXT NOT NULL,
    gate_hash   TEXT NOT NULL,
    decided_by  TEXT NOT NULL,
    decided_at  TIMESTAMP NOT NULL
);
CREATE INDEX gate_decisions_by_release ON gate_decisions (app_id, version, id);

-- A runbook trigger that fired for a release: the primary key lets exactly
-- one ingest open its incident.
CREATE TABLE trigger_firings (
    app_id      INTEGER NOT NULL REFERENCES apps (id) ON DELETE RESTRICT,
    platform    TEXT NOT NULL,
    version     TEXT NOT NULL,
    runbook_id  TEXT NOT NULL,
    trigger_id  TEXT NOT NULL,
    fired_at    TIMESTAMP NOT NULL,
    incident_id INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, platform, version, runbook_id, trigger_id)
);

-- +goose Down
DROP TABLE trigger_firings;
DROP TABLE gate_decisions;
DROP TABLE gate_approvals;
DROP TABLE release_changes;
DROP TABLE rehearsals;
DROP TABLE gate_versions;
DROP TABLE runbook_versions;
