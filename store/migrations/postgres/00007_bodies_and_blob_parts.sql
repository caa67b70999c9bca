-- Large message log bodies out of the row, and database blobs in parts.
-- Kept in step with the SQLite migration of the same number.
--
-- message_log_bodies: the request and response bodies above the inline
-- threshold, content-addressed by their SM3 (lowercase hex), written in
-- the transaction of the entry that names them. An entry with a body
-- there has its SM3 in request_sm3 / response_sm3 (empty: the body is
-- inline) and its chain hash covers that digest (store/messagelog.go).
--
-- blob_parts: a DBBlobs blob written as a stream, in parts of at most
-- 1 MiB, so that neither a Put nor an Open holds the whole file; the
-- blobs row names the generation of its parts (parts > 0) and keeps no
-- data. Rows written before keep their data inline (parts = 0).
--
-- Ciphertext, zip files and base64 bodies are stored without TOAST
-- compression (STORAGE EXTERNAL): pglz gains little on them and costs
-- a pass over every byte on the database server.

-- +goose Up
CREATE TABLE message_log_bodies (
    sm3  TEXT  PRIMARY KEY,
    data BYTEA NOT NULL
);
ALTER TABLE message_log_bodies ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE message_log ADD COLUMN request_sm3 TEXT NOT NULL DEFAULT '';
ALTER TABLE message_log ADD COLUMN response_sm3 TEXT NOT NULL DEFAULT '';

CREATE TABLE blob_parts (
    blob_key TEXT    NOT NULL,
    gen      TEXT    NOT NULL,
    n        INTEGER NOT NULL,
    data     BYTEA   NOT NULL,
    PRIMARY KEY (blob_key, gen, n)
);
ALTER TABLE blob_parts ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE blobs ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE blobs ADD COLUMN parts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE blobs ADD COLUMN gen TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE blobs DROP COLUMN gen;
ALTER TABLE blobs DROP COLUMN parts;
DROP TABLE blob_parts;
ALTER TABLE message_log DROP COLUMN response_sm3;
ALTER TABLE message_log DROP COLUMN request_sm3;
DROP TABLE message_log_bodies;
