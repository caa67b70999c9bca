-- What became of a claim (理赔) after it was accepted: its outcome
-- (待赔付, 已赔付, 不予赔付 with amount, dates, way and transfer vouchers)
-- and the recovery of what was paid from the bidder (已追偿, 追偿失败),
-- recorded by the staff in the console and sent to platforms that enable
-- claimsresultnotice and claimsrepaynotice (EXTENSIONS.md §1).

-- +goose Up
ALTER TABLE inst_claims ADD COLUMN status TEXT NOT NULL DEFAULT 'received';
ALTER TABLE inst_claims ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
ALTER TABLE inst_claims ADD COLUMN recovery TEXT NOT NULL DEFAULT '';
ALTER TABLE inst_claims ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE inst_claims DROP COLUMN updated_at;
ALTER TABLE inst_claims DROP COLUMN recovery;
ALTER TABLE inst_claims DROP COLUMN outcome;
ALTER TABLE inst_claims DROP COLUMN status;
