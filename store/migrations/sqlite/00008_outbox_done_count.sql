-- The number of delivered messages, kept as they change, so that
-- OutboxCounts (the admin API's /api/outbox/counts, the consoles, the
-- outbox gauge of /metrics) does not count the whole outbox: delivered
-- messages pile up by the million over the years, the others are few and
-- still counted in the outbox_due_order index. Kept by triggers, so that
-- every statement keeps it, whoever runs it. (One row: SQLite has one
-- writer.)
-- Kept in step with the other database's migration of the same number.

-- +goose Up
CREATE TABLE outbox_done_count (
    slot INTEGER PRIMARY KEY,
    n    INTEGER NOT NULL
);
INSERT INTO outbox_done_count (slot, n) SELECT 0, COUNT(*) FROM outbox WHERE state = 'done';

-- +goose StatementBegin
CREATE TRIGGER outbox_done_update AFTER UPDATE OF state ON outbox
WHEN (OLD.state = 'done') <> (NEW.state = 'done')
BEGIN
    UPDATE outbox_done_count SET n = n + CASE WHEN NEW.state = 'done' THEN 1 ELSE -1 END;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER outbox_done_insert AFTER INSERT ON outbox
WHEN NEW.state = 'done'
BEGIN
    UPDATE outbox_done_count SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER outbox_done_delete AFTER DELETE ON outbox
WHEN OLD.state = 'done'
BEGIN
    UPDATE outbox_done_count SET n = n - 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER outbox_done_delete;
DROP TRIGGER outbox_done_insert;
DROP TRIGGER outbox_done_update;
DROP TABLE outbox_done_count;
