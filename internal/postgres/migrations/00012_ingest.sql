-- +goose Up
-- How far each ingest pipeline's log has been written to the database:
-- the effects of every log record ending at or before position are in
-- the tables, written in the same transaction as this row.
CREATE TABLE ingest_positions (
    name       TEXT PRIMARY KEY,
    position   BIGINT NOT NULL CHECK (position >= 0),
    updated_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE ingest_positions;
