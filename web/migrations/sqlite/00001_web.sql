-- Tables of package web (the consoles), SQLite. Times are Unix microseconds (UTC).
-- realm is the console ("platform", "institution"), so that both can share one database.

-- +goose Up
CREATE TABLE web_users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    realm           TEXT    NOT NULL,
    username        TEXT    NOT NULL,
    display_name    TEXT    NOT NULL DEFAULT '',
    role            TEXT    NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    password_hash   TEXT    NOT NULL,
    disabled        INTEGER NOT NULL DEFAULT 0,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (realm, username)
);

CREATE TABLE web_sessions (
    token_hash   TEXT    PRIMARY KEY,
    realm        TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('staff', 'bidder')),
    user_id      INTEGER NOT NULL DEFAULT 0,
    subject      TEXT    NOT NULL,
    display_name TEXT    NOT NULL DEFAULT '',
    role         TEXT    NOT NULL,
    csrf         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
CREATE INDEX web_sessions_user ON web_sessions (realm, user_id);

CREATE TABLE web_challenges (
    challenge  TEXT    PRIMARY KEY,
    realm      TEXT    NOT NULL,
    binding    TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX web_challenges_expires ON web_challenges (expires_at);

CREATE TABLE web_audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    realm   TEXT    NOT NULL,
    at      INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    role    TEXT    NOT NULL DEFAULT '',
    action  TEXT    NOT NULL,
    target  TEXT    NOT NULL DEFAULT '',
    detail  TEXT    NOT NULL DEFAULT '',
    ok      INTEGER NOT NULL DEFAULT 1,
    ip      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX web_audit_realm ON web_audit (realm, id);

-- +goose Down
DROP TABLE web_audit;
DROP TABLE web_challenges;
DROP TABLE web_sessions;
DROP TABLE web_users;
