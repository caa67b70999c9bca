-- Tables of package web (the consoles), PostgreSQL. Times are Unix microseconds (UTC).
-- realm is the console ("platform", "institution"), so that both can share one database.

-- +goose Up
CREATE TABLE web_users (
    id              BIGSERIAL PRIMARY KEY,
    realm           TEXT    NOT NULL,
    username        TEXT    NOT NULL,
    display_name    TEXT    NOT NULL DEFAULT '',
    role            TEXT    NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    password_hash   TEXT    NOT NULL,
    disabled        BOOLEAN NOT NULL DEFAULT FALSE,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    BIGINT  NOT NULL DEFAULT 0,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    UNIQUE (realm, username)
);

CREATE TABLE web_sessions (
    token_hash   TEXT    PRIMARY KEY,
    realm        TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('staff', 'bidder')),
    user_id      BIGINT  NOT NULL DEFAULT 0,
    subject      TEXT    NOT NULL,
    display_name TEXT    NOT NULL DEFAULT '',
    role         TEXT    NOT NULL,
    csrf         TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
CREATE INDEX web_sessions_user ON web_sessions (realm, user_id);

CREATE TABLE web_challenges (
    challenge  TEXT    PRIMARY KEY,
    realm      TEXT    NOT NULL,
    binding    TEXT    NOT NULL,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX web_challenges_expires ON web_challenges (expires_at);

CREATE TABLE web_audit (
    id      BIGSERIAL PRIMARY KEY,
    realm   TEXT    NOT NULL,
    at      BIGINT  NOT NULL,
    actor   TEXT    NOT NULL,
    role    TEXT    NOT NULL DEFAULT '',
    action  TEXT    NOT NULL,
    target  TEXT    NOT NULL DEFAULT '',
    detail  TEXT    NOT NULL DEFAULT '',
    ok      BOOLEAN NOT NULL DEFAULT TRUE,
    ip      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX web_audit_realm ON web_audit (realm, id);

-- +goose Down
DROP TABLE web_audit;
DROP TABLE web_challenges;
DROP TABLE web_sessions;
DROP TABLE web_users;
