-- Files a peer named by URL (a claim's file list, a claim outcome's
-- transfer vouchers), fetched after the message was accepted and kept as
-- blobs: one row per file, pending until fetched or failed for good, with
-- the reason of the last failure and when to try again.
-- Kept in step with the SQLite migration of the same number.

-- +goose Up
CREATE TABLE fetched_files (
    owner      TEXT   NOT NULL,
    idx        INTEGER NOT NULL,
    url        TEXT   NOT NULL,
    status     TEXT   NOT NULL DEFAULT 'pending',
    reason     TEXT   NOT NULL DEFAULT '',
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    BIGINT NOT NULL DEFAULT 0,
    blob       TEXT   NOT NULL DEFAULT '',
    sm3        TEXT   NOT NULL DEFAULT '',
    size       BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (owner, idx)
);
CREATE INDEX fetched_files_due ON fetched_files (next_at) WHERE status = 'pending';

-- +goose Down
DROP TABLE fetched_files;
