-- +goose Up
-- Incidents: a release going wrong on one platform, opened by a health
-- verdict, a runbook trigger or a person. Only open and resolved are
-- stored (mitigated is derived from the release's audit entries); the
-- partial unique index keeps one open incident per release, platform and
-- trigger, so a repeat breach appends to it even when two ingests race.
CREATE TABLE incidents (
    id           INTEGER PRIMARY KEY,
    app_id       INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    version      TEXT NOT NULL,
    platform     TEXT NOT NULL CHECK (platform IN ('ios', 'android')),
    trigger_name TEXT NOT NULL CHECK (trigger_name <> ''),
    decision     TEXT NOT NULL,
    outcome      TEXT NOT NULL DEFAULT '',
    runbook_id   TEXT NOT NULL DEFAULT '',
    opened_by    TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
    opened_at    TIMESTAMP NOT NULL,
    mitigated_at TIMESTAMP,
    resolved_at  TIMESTAMP,
    resolved_by  TEXT NOT NULL DEFAULT '',
    summary      TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX incidents_one_open ON incidents (app_id, version, platform, trigger_name) WHERE state = 'open';
CREATE INDEX incidents_by_app ON incidents (app_id, id);

-- An incident's own timeline: opened, each repeat breach, resolved.
CREATE TABLE incident_events (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at          TIMESTAMP NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    message     TEXT NOT NULL
);
CREATE INDEX incident_events_by_incident ON incident_events (incident_id, id);

-- Health pollers (Sentry sessions API, Play vitals): per source, app and
-- platform, when data last arrived and how many polls failed in a row, so
-- `release health` shows freshness and an outage alerts once.
CREATE TABLE poller_status (
    source             TEXT NOT NULL,
    app_id             INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    platform           TEXT NOT NULL CHECK (platform IN ('ios', 'android')),
    last_attempt_at    TIMESTAMP,
    last_success_at    TIMESTAMP,
    data_through       TIMESTAMP,
    consecutive_errors INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT NOT NULL DEFAULT '',
    alerted_at         TIMESTAMP,
    PRIMARY KEY (source, app_id, platform)
);

-- What a cumulative poller has already added per release and metric: the
-- next poll adds only the difference, in the same transaction that moves
-- the cursor, so a crash between two polls never counts anything twice.
CREATE TABLE poller_cursors (
    source   TEXT NOT NULL,
    app_id   INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    platform TEXT NOT NULL CHECK (platform IN ('ios', 'android')),
    version  TEXT NOT NULL,
    metric   TEXT NOT NULL,
    bad      INTEGER NOT NULL,
    total    INTEGER NOT NULL,
    PRIMARY KEY (source, app_id, platform, version, metric)
);

-- +goose Down
DROP TABLE poller_cursors;
DROP TABLE poller_status;
DROP TABLE incident_events;
DROP TABLE incidents;
