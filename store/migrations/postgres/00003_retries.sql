-- Retries are answered, not refused. seen_sign keeps, for each sign, the
-- digest of the request (interface and body) and the answer it got, so
-- that the same request sent again is answered as the first was; a
-- NULL answer is a request still being handled. message_log marks the
-- exchanges that were such retries (inbound) or resent bodies
-- (outbound). outbox keeps the exact body of an attempt the peer may
-- have processed, so that the next attempt sends it again unchanged.
-- Kept in step with the SQLite migration of the same number.

-- +goose Up
ALTER TABLE seen_sign ADD COLUMN digest TEXT NOT NULL DEFAULT '';
ALTER TABLE seen_sign ADD COLUMN answer BYTEA;
ALTER TABLE message_log ADD COLUMN retry INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN sent_body TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE outbox DROP COLUMN sent_body;
ALTER TABLE message_log DROP COLUMN retry;
ALTER TABLE seen_sign DROP COLUMN answer;
ALTER TABLE seen_sign DROP COLUMN digest;
