-- Large message log bodies out of the row, and database blobs in parts.
-- Kept in step with the PostgreSQL migration of the same number (which
-- says what each table holds).

-- +goose Up
CREATE TABLE message_log_bodies (
    sm3  TEXT PRIMARY KEY,
    data BLOB NOT NULL
);
ALTER TABLE message_log ADD COLUMN request_sm3 TEXT NOT NULL DEFAULT '';
ALTER TABLE message_log ADD COLUMN response_sm3 TEXT NOT NULL DEFAULT '';

CREATE TABLE blob_parts (
    blob_key TEXT    NOT NULL,
    gen      TEXT    NOT NULL,
    n        INTEGER NOT NULL,
    data     BLOB    NOT NULL,
    PRIMARY KEY (blob_key, gen, n)
);
ALTER TABLE blobs ADD COLUMN parts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE blobs ADD COLUMN gen TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE blobs DROP COLUMN gen;
ALTER TABLE blobs DROP COLUMN parts;
DROP TABLE blob_parts;
ALTER TABLE message_log DROP COLUMN response_sm3;
ALTER TABLE message_log DROP COLUMN request_sm3;
DROP TABLE message_log_bodies;
