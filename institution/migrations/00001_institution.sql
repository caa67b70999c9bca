-- The institution's own tables. The outbox, message log, seen signs and
-- blobs belong to package store and are migrated by it.
-- Portable SQL (SQLite and PostgreSQL): text ids (UUIDv7), times in Unix
-- microseconds like the store's tables, money and rates as decimal text
-- (exact), wire times in their wire form.

-- +goose Up
CREATE TABLE inst_applications (
    id              TEXT PRIMARY KEY,
    peer            TEXT NOT NULL,          -- configured platform name
    platformcode    TEXT NOT NULL,
    applyno         TEXT NOT NULL,
    state           TEXT NOT NULL,
    applydata       TEXT NOT NULL,          -- as received: SM4 ciphertext, base64
    digitalenvelope TEXT NOT NULL,          -- as received: SM2 ciphertext of the applydata key
    request_hash    TEXT NOT NULL,          -- SM3 of applydata and envelope: same request or not
    token_hash      TEXT NOT NULL,          -- SM3 of the bidder token
    token_sealed    TEXT NOT NULL,          -- the token under the master key, to answer a repeat
    biddername      TEXT NOT NULL DEFAULT '',
    biddercode      TEXT NOT NULL DEFAULT '',
    bond            TEXT NOT NULL DEFAULT '', -- bzjamount
    project_cipher  TEXT NOT NULL DEFAULT '', -- JSON of the four project fields, still ciphertext
    project_sealed  TEXT NOT NULL DEFAULT '', -- plaintext project fields after restore, under the master key
    product         TEXT NOT NULL DEFAULT '',
    rate            TEXT NOT NULL DEFAULT '',
    premium         TEXT NOT NULL DEFAULT '',
    signer          TEXT NOT NULL DEFAULT '', -- subject of the bidder certificate that signed the agreement
    payment_ref     TEXT NOT NULL DEFAULT '',
    payername       TEXT NOT NULL DEFAULT '',
    payeraccount    TEXT NOT NULL DEFAULT '',
    paid_at         BIGINT NOT NULL DEFAULT 0,
    baohanno        TEXT NOT NULL DEFAULT '',
    generatetime    TEXT NOT NULL DEFAULT '', -- wire form, UTC+8
    decision        TEXT NOT NULL DEFAULT '', -- underwriting findings or the reviewer's reason
    decided_by      TEXT NOT NULL DEFAULT '',
    kaibiaotime     TEXT NOT NULL DEFAULT '', -- wire form, UTC+8, from baohanrestore
    publickey       TEXT NOT NULL DEFAULT '', -- from downloadpublickey, as sent
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX inst_applications_applyno ON inst_applications (platformcode, applyno);
CREATE UNIQUE INDEX inst_applications_token ON inst_applications (token_hash);
CREATE UNIQUE INDEX inst_applications_baohanno ON inst_applications (baohanno) WHERE baohanno <> '';
CREATE INDEX inst_applications_state ON inst_applications (state, updated_at);
CREATE INDEX inst_applications_bidder ON inst_applications (biddercode);

-- Every state change with who made it and why.
CREATE TABLE inst_events (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES inst_applications (id),
    at             BIGINT NOT NULL,
    from_state     TEXT NOT NULL,
    to_state       TEXT NOT NULL,
    event          TEXT NOT NULL,
    actor          TEXT NOT NULL,
    detail         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX inst_events_application ON inst_events (application_id, at);

-- Guarantee files: filetype 1 (ciphertext) and 2 (plaintext), each a small
-- machine: sealed → key_requested → uploading → complete.
CREATE TABLE inst_files (
    application_id TEXT NOT NULL REFERENCES inst_applications (id),
    filetype       INTEGER NOT NULL,
    stage          TEXT NOT NULL,
    ofd_blob       TEXT NOT NULL,           -- the sealed OFD (kept)
    enc_blob       TEXT NOT NULL DEFAULT '', -- the SM4-CBC ciphertext (deleted once complete)
    size           BIGINT NOT NULL DEFAULT 0,
    digest         TEXT NOT NULL DEFAULT '', -- of the plaintext OFD, per peer profile
    chunks         INTEGER NOT NULL DEFAULT 0,
    round          INTEGER NOT NULL DEFAULT 0, -- bumped by a re-upload; part of the dedupe keys
    error          TEXT NOT NULL DEFAULT '', -- last refusal from the platform
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (application_id, filetype)
);

CREATE TABLE inst_invoices (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES inst_applications (id),
    request_hash   TEXT NOT NULL,
    status         TEXT NOT NULL,           -- requested | issued | refused
    fields         TEXT NOT NULL,           -- the invoiceapply fields, JSON
    amount         TEXT NOT NULL,
    invoice_type   TEXT NOT NULL,
    invoiceno      TEXT NOT NULL DEFAULT '',
    invoicecode    TEXT NOT NULL DEFAULT '',
    token_hash     TEXT NOT NULL DEFAULT '',
    token_sealed   TEXT NOT NULL DEFAULT '',
    reason         TEXT NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    decided_at     BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX inst_invoices_request ON inst_invoices (application_id, request_hash);
CREATE INDEX inst_invoices_token ON inst_invoices (token_hash);

-- Withdrawals (退保), started at the platform (quitapply) or here.
CREATE TABLE inst_quits (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES inst_applications (id),
    origin         TEXT NOT NULL,           -- platform | institution
    reason         TEXT NOT NULL,
    request_hash   TEXT NOT NULL,
    status         TEXT NOT NULL,           -- accepted | refused
    message        TEXT NOT NULL DEFAULT '',
    tuibaotime     TEXT NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX inst_quits_request ON inst_quits (application_id, request_hash);

CREATE TABLE inst_claims (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES inst_applications (id),
    request_hash   TEXT NOT NULL,
    fields         TEXT NOT NULL,           -- the claimsnotice fields, JSON
    files          TEXT NOT NULL DEFAULT '[]', -- the parsed filelist, JSON array of URLs
    created_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX inst_claims_request ON inst_claims (application_id, request_hash);

-- Give-ups (放弃), started at the platform (giveupapply) or here (giveupnotice).
CREATE TABLE inst_giveups (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES inst_applications (id),
    origin         TEXT NOT NULL,
    status         TEXT NOT NULL,           -- pending | accepted | refused
    message        TEXT NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    decided_at     BIGINT NOT NULL DEFAULT 0
);

-- Number sequences (guarantee and invoice numbers), one row per name and day.
CREATE TABLE inst_sequences (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

-- +goose Down
DROP TABLE inst_sequences;
DROP TABLE inst_giveups;
DROP TABLE inst_claims;
DROP TABLE inst_quits;
DROP TABLE inst_invoices;
DROP TABLE inst_files;
DROP TABLE inst_events;
DROP TABLE inst_applications;
