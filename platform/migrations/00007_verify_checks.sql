-- The platform's checks of received guarantees against their institution's
-- verification (验真): the latest check of each application's latest
-- guarantee file.

-- +goose Up
CREATE TABLE plat_verify_checks (
    applyno    TEXT PRIMARY KEY,
    filetype   INTEGER NOT NULL,
    ok         INTEGER NOT NULL,       -- 1: no problem found
    result     TEXT NOT NULL,          -- the check as JSON (GuaranteeCheck)
    checked_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE plat_verify_checks;
