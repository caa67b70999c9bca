-- The platform's own tables. The outbox, message log, seen signs and blobs
-- belong to package store and are migrated by it.
-- Portable SQL (SQLite and PostgreSQL): times in Unix microseconds like the
-- store's tables, money and rates as exact decimal text, booleans as 0/1.

-- +goose Up

-- 标段: a bid section. The project key (项目密钥) encrypts the four project
-- fields of every applydata for the section and is released to the
-- institutions by baohanrestore at the bid opening (开标), never before.
CREATE TABLE plat_sections (
    section_no      TEXT PRIMARY KEY,         -- 标段编号 (biaoduanno)
    name            TEXT NOT NULL,            -- 标段名称 (biaoduanname)
    tenderer        TEXT NOT NULL,            -- 招标人 (zbr)
    tenderer_code   TEXT NOT NULL DEFAULT '', -- 招标人统一社会信用代码 (zbrorgnum)
    bond_amount     TEXT NOT NULL,            -- 保证金金额, decimal text
    kaibiao_at      BIGINT NOT NULL,          -- 开标时间
    key_sealed      TEXT NOT NULL,            -- the 16-byte SM4 project key under the master key
    key_released_at BIGINT NOT NULL DEFAULT 0, -- when a restore first carried the key out
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX plat_sections_kaibiao ON plat_sections (kaibiao_at);

-- 投标人: a bidder and its CA certificate (the digital envelope is
-- sealed for the certificate's SM2 key).
CREATE TABLE plat_bidders (
    credit_code     TEXT PRIMARY KEY,         -- 统一社会信用代码
    name            TEXT NOT NULL,
    cert_pem        TEXT NOT NULL,
    cert_subject    TEXT NOT NULL DEFAULT '',
    cert_not_after  BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- 投保申请: one application of one bidder for one section at one
-- institution, and where it stands (state.go).
CREATE TABLE plat_applications (
    applyno         TEXT PRIMARY KEY,         -- 业务流水号, BH + date + random
    section_no      TEXT NOT NULL REFERENCES plat_sections (section_no),
    bidder_code     TEXT NOT NULL REFERENCES plat_bidders (credit_code),
    institution     TEXT NOT NULL,            -- configured institution name
    product         TEXT NOT NULL,
    rate            TEXT NOT NULL,            -- the product's rate when applying
    bond_amount     TEXT NOT NULL,
    state           TEXT NOT NULL,
    prev_state      TEXT NOT NULL DEFAULT '', -- the state before quit_requested
    pending         TEXT NOT NULL DEFAULT '', -- the call awaiting the institution's answer
    version         BIGINT NOT NULL,          -- optimistic lock; the seq of the last event
    redirect_url    TEXT NOT NULL DEFAULT '', -- from the answer to baohanapply
    baohanno        TEXT NOT NULL DEFAULT '', -- 保函编号 from baohannotice
    notice          TEXT NOT NULL DEFAULT '', -- JSON of the accepted baohannotice fields
    notice_at       BIGINT NOT NULL DEFAULT 0,
    tuibaotime      TEXT NOT NULL DEFAULT '', -- 退保时间, wire form
    invoice         TEXT NOT NULL DEFAULT '', -- JSON of the invoice request and invoicenotice
    last_message    TEXT NOT NULL DEFAULT '', -- the institution's latest refusal or remark
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX plat_applications_baohanno ON plat_applications (institution, baohanno) WHERE baohanno <> '';
CREATE INDEX plat_applications_state ON plat_applications (state, created_at);
CREATE INDEX plat_applications_section ON plat_applications (section_no, state);
CREATE INDEX plat_applications_institution ON plat_applications (institution, created_at);
CREATE INDEX plat_applications_bidder ON plat_applications (bidder_code, section_no);
CREATE INDEX plat_applications_created ON plat_applications (created_at);

-- Every move of the state machine, and the few events worth keeping that
-- do not move it (key issued, upload discarded, answer ignored).
CREATE TABLE plat_application_events (
    applyno         TEXT NOT NULL REFERENCES plat_applications (applyno),
    seq             BIGINT NOT NULL,
    at              BIGINT NOT NULL,
    event           TEXT NOT NULL,
    from_state      TEXT NOT NULL,
    to_state        TEXT NOT NULL,
    actor           TEXT NOT NULL,            -- admin, institution:<name>, outbox, scheduler
    detail          TEXT NOT NULL DEFAULT '', -- JSON, never secrets
    PRIMARY KEY (applyno, seq)
);

-- downloadpublickey: one SM2 key pair per applyno, created on the first
-- request and stable afterwards.
CREATE TABLE plat_apply_keys (
    applyno         TEXT PRIMARY KEY REFERENCES plat_applications (applyno),
    public_key      TEXT NOT NULL,            -- hex 04||X||Y
    private_sealed  TEXT NOT NULL,            -- PKCS#8 PEM under the master key
    created_at      BIGINT NOT NULL
);

-- uploadbaohanfile: the encrypted chunks as received, in the blob store.
CREATE TABLE plat_chunks (
    applyno         TEXT NOT NULL REFERENCES plat_applications (applyno),
    baohanno        TEXT NOT NULL,
    filetype        INTEGER NOT NULL,
    idx             INTEGER NOT NULL,         -- index as sent (0- or 1-based)
    size            BIGINT NOT NULL,
    digest          TEXT NOT NULL,            -- SM3 of the chunk bytes
    blob            TEXT NOT NULL,            -- blob key
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (applyno, baohanno, filetype, idx)
);

-- Guarantee files accepted by baohanfilecompletenotice: the decrypted OFD,
-- its digest and the verification of its seals.
CREATE TABLE plat_guarantees (
    applyno         TEXT NOT NULL REFERENCES plat_applications (applyno),
    filetype        INTEGER NOT NULL,         -- 1 密文, 2 明文
    baohanno        TEXT NOT NULL,
    digest          TEXT NOT NULL,            -- baohanfilemd5 as checked, lowercase hex
    digest_alg      TEXT NOT NULL,            -- sm3 | md5
    sm3             TEXT NOT NULL,            -- SM3 of the OFD
    size            BIGINT NOT NULL,
    blob            TEXT NOT NULL,            -- blob key of the OFD
    chunks          INTEGER NOT NULL,
    seals_ok        INTEGER NOT NULL,         -- 1 when every seal verified
    report          TEXT NOT NULL,            -- JSON of the seal verification
    received_at     BIGINT NOT NULL,
    PRIMARY KEY (applyno, filetype)
);

-- +goose Down
DROP TABLE plat_guarantees;
DROP TABLE plat_chunks;
DROP TABLE plat_apply_keys;
DROP TABLE plat_application_events;
DROP TABLE plat_applications;
DROP TABLE plat_bidders;
DROP TABLE plat_sections;
