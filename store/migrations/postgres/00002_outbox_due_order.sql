-- The claim walks the due messages of each state in (next_attempt_at, id)
-- order and stops after a few (Dispatcher.claim): the index must hold id
-- too, or PostgreSQL sorts every due row on every claim (10 ms a claim
-- with 10,000 restores due at one bid opening).

-- +goose Up
CREATE INDEX outbox_due_order ON outbox (state, next_attempt_at, id);
DROP INDEX outbox_due;

-- +goose Down
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
DROP INDEX outbox_due_order;
