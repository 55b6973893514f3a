-- +goose Up
CREATE TABLE health_counts (
    app_id   INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    platform TEXT NOT NULL CHECK (platform IN ('ios', 'android')),
    version  TEXT NOT NULL,
    metric   TEXT NOT NULL,
    bucket   TIMESTAMP NOT NULL,
    bad      INTEGER NOT NULL CHECK (bad >= 0),
    total    INTEGER NOT NULL CHECK (total >= 0),
    PRIMARY KEY (app_id, platform, version, metric, bucket)
);

CREATE TABLE health_decisions (
    id         INTEGER PRIMARY KEY,
    app_id     INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    platform   TEXT NOT NULL,
    version    TEXT NOT NULL,
    metric     TEXT NOT NULL,
    decided_at TIMESTAMP NOT NULL,
    outcome    TEXT NOT NULL,
    sentence   TEXT NOT NULL,
    inputs     TEXT NOT NULL
);
CREATE INDEX health_decisions_release ON health_decisions (app_id, platform, version, metric, id);

-- +goose Down
DROP TABLE health_decisions;
DROP TABLE health_counts;
