-- +goose Up
-- Store credentials and signing material per app, encrypted at rest by the
-- server's secret key (AES-256-GCM; the ciphertext is bound to its row by
-- associated data). metadata holds only non-secret facts (key id, issuer,
-- certificate digest and expiry, profile name...) as JSON, so listings and
-- the daily expiry check never decrypt anything.
CREATE TABLE app_credentials (
    app_id     BIGINT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind <> ''),
    ciphertext BYTEA NOT NULL,
    metadata   TEXT NOT NULL DEFAULT '{}',
    expires_at TIMESTAMPTZ,
    created_by TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (app_id, kind)
);

-- +goose Down
DROP TABLE app_credentials;
