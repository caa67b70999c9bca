-- Login hardening and the SM3 chain of the audit log, SQLite.

-- +goose Up
-- The audit log is chained like the message log (store.Chain): ids come
-- from the head row, each row's hash covers its content and the previous
-- row's hash. Rows written before this migration are chained as they are
-- found when the console starts (adopted_to: the last of them; their ids
-- may have gaps), so that they are protected from then on.
ALTER TABLE web_audit ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE web_audit ADD COLUMN hash TEXT NOT NULL DEFAULT '';
CREATE TABLE web_audit_head (
    k          INTEGER PRIMARY KEY CHECK (k = 1),
    last_id    INTEGER NOT NULL,
    last_hash  TEXT    NOT NULL,
    adopted_to INTEGER NOT NULL
);
INSERT INTO web_audit_head (k, last_id, last_hash, adopted_to)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000',
        (SELECT COALESCE(MAX(id), 0) FROM web_audit));

-- Consecutive lockouts of an account: each lock lasts twice the one before.
ALTER TABLE web_users ADD COLUMN lockouts INTEGER NOT NULL DEFAULT 0;

-- Device cookies: a browser that logged in to an account before is not
-- locked out by other people's failures on it; its own failures count here.
CREATE TABLE web_devices (
    token_hash TEXT    PRIMARY KEY,
    realm      TEXT    NOT NULL,
    user_id    INTEGER NOT NULL,
    failed     INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX web_devices_user ON web_devices (realm, user_id, created_at);
CREATE INDEX web_devices_expires ON web_devices (expires_at);

-- +goose Down
DROP TABLE web_devices;
ALTER TABLE web_users DROP COLUMN lockouts;
DROP TABLE web_audit_head;
ALTER TABLE web_audit DROP COLUMN hash;
ALTER TABLE web_audit DROP COLUMN prev_hash;
