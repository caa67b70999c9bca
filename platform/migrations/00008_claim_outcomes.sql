-- What the institution reports after a claim (claimsnotice): its outcome
-- (claimsresultnotice: 待赔付, 已赔付, 不予赔付, 其他) and the recovery of
-- what it paid (claimsrepaynotice: 已追偿, 追偿失败). Both are optional
-- interfaces (EXTENSIONS.md §1). Every notice accepted is kept, in order;
-- the same notice again is recognised by request_hash and answered as
-- before.

-- +goose Up
CREATE TABLE plat_claim_outcomes (
    applyno         TEXT NOT NULL REFERENCES plat_applications (applyno),
    seq             BIGINT NOT NULL,
    interface       TEXT NOT NULL,            -- claimsresultnotice | claimsrepaynotice
    status          TEXT NOT NULL,            -- compensatestatus | repaystatus
    amount          TEXT NOT NULL,            -- compensateamount | repayamount, decimal text
    fields          TEXT NOT NULL,            -- the notice's fields but appkey, timestamp and sign, JSON
    files           TEXT NOT NULL DEFAULT '[]', -- transferfilelist's URLs, JSON array
    request_hash    TEXT NOT NULL,            -- SHA-256 of fields
    received_at     BIGINT NOT NULL,
    PRIMARY KEY (applyno, seq)
);
CREATE UNIQUE INDEX plat_claim_outcomes_request ON plat_claim_outcomes (applyno, interface, request_hash);

-- +goose Down
DROP TABLE plat_claim_outcomes;
