-- Shared tables of package store (SQLite). Times are Unix microseconds (UTC).

-- +goose Up
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    peer            TEXT    NOT NULL,
    interface       TEXT    NOT NULL,
    applyno         TEXT    NOT NULL DEFAULT '',
    seq_group       TEXT    NOT NULL DEFAULT '',
    dedupe_key      TEXT    NOT NULL UNIQUE,
    fields          TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivering', 'done', 'failed', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    lease_owner     TEXT    NOT NULL DEFAULT '',
    lease_until     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    last_response   TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_seq ON outbox (seq_group, id) WHERE seq_group <> '';
CREATE INDEX outbox_applyno ON outbox (applyno);

CREATE TABLE message_log (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    direction   TEXT    NOT NULL,
    interface   TEXT    NOT NULL,
    peer        TEXT    NOT NULL,
    applyno     TEXT    NOT NULL DEFAULT '',
    baohanno    TEXT    NOT NULL DEFAULT '',
    request     BLOB    NOT NULL,
    response    BLOB    NOT NULL,
    http_status INTEGER NOT NULL DEFAULT 0,
    code        INTEGER NOT NULL DEFAULT 0,
    sign_ok     INTEGER NOT NULL DEFAULT 0,
    diagnosis   TEXT    NOT NULL DEFAULT '',
    error       TEXT    NOT NULL DEFAULT '',
    latency_ms  INTEGER NOT NULL DEFAULT 0,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
CREATE INDEX message_log_applyno ON message_log (applyno, id);
CREATE INDEX message_log_peer ON message_log (peer, id);

-- The head of the hash chain: the lock row Record serializes on, and the
-- last id and hash, so that deleting the newest rows is detected too.
CREATE TABLE message_log_head (
    k         INTEGER PRIMARY KEY CHECK (k = 1),
    last_id   INTEGER NOT NULL,
    last_hash TEXT    NOT NULL
);
INSERT INTO message_log_head (k, last_id, last_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE seen_sign (
    appkey TEXT    NOT NULL,
    sign   TEXT    NOT NULL,
    until  INTEGER NOT NULL,
    PRIMARY KEY (appkey, sign)
);
CREATE INDEX seen_sign_until ON seen_sign (until);

CREATE TABLE blobs (
    blob_key   TEXT    PRIMARY KEY,
    size       INTEGER NOT NULL,
    sm3        TEXT    NOT NULL,
    data       BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE blobs;
DROP TABLE seen_sign;
DROP TABLE message_log_head;
DROP TABLE message_log;
DROP TABLE outbox;
