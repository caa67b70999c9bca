-- Kept in step with the PostgreSQL migration of the same number. SQLite
-- appends the rowid (id) to every index entry, so outbox_due already
-- served the claim's (state, next_attempt_at, id) order; naming id makes
-- that explicit and the two schemas alike.

-- +goose Up
CREATE INDEX outbox_due_order ON outbox (state, next_attempt_at, id);
DROP INDEX outbox_due;

-- +goose Down
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
DROP INDEX outbox_due_order;
