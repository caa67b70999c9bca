-- Verification (验真). Each guarantee gets a verification code when it is
-- numbered (printed on it and carried in its QR code); anyone holding the
-- number and the code can ask the institution for the guarantee's status.
-- The sealed files issued are recorded by their SM3 digest, so that an
-- uploaded file can be recognised as one the institution issued.

-- +goose Up
CREATE TABLE inst_verify_codes (
    application_id TEXT PRIMARY KEY REFERENCES inst_applications (id),
    baohanno       TEXT NOT NULL,
    code           TEXT NOT NULL,           -- 验真码, 8 characters
    created_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX inst_verify_codes_baohanno ON inst_verify_codes (baohanno);

CREATE TABLE inst_issued_files (
    sm3            TEXT PRIMARY KEY,        -- hex SM3 of the sealed OFD as issued
    application_id TEXT NOT NULL REFERENCES inst_applications (id),
    filetype       INTEGER NOT NULL,        -- 1 ciphertext, 2 plaintext
    created_at     BIGINT NOT NULL
);
CREATE INDEX inst_issued_files_application ON inst_issued_files (application_id);

-- +goose Down
DROP TABLE inst_issued_files;
DROP TABLE inst_verify_codes;
