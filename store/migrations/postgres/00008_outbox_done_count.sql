-- The number of delivered messages, kept as they change, so that
-- OutboxCounts (the admin API's /api/outbox/counts, the consoles, the
-- outbox gauge of /metrics) does not count the whole outbox: delivered
-- messages pile up by the million over the years, the others are few and
-- still counted in the outbox_due_order index. Kept by triggers, so that
-- every statement keeps it, whoever runs it; the rows of different
-- sessions (slot: the backend's pid modulo 16) so that concurrent
-- deliveries do not queue on one row. Their sum is the count; a slot
-- alone may go below zero.
-- Kept in step with the other database's migration of the same number.

-- +goose Up
CREATE TABLE outbox_done_count (
    slot INTEGER PRIMARY KEY,
    n    BIGINT  NOT NULL
);
INSERT INTO outbox_done_count (slot, n) SELECT g, 0 FROM generate_series(0, 15) AS g;
UPDATE outbox_done_count SET n = (SELECT COUNT(*) FROM outbox WHERE state = 'done') WHERE slot = 0;

-- One row at a time: a delivery marked done (or a done message moved
-- back by hand). Only those rows run it (the WHEN of the trigger), not
-- the claims and other updates.
-- +goose StatementBegin
CREATE FUNCTION outbox_done_count_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE outbox_done_count SET n = n + CASE WHEN NEW.state = 'done' THEN 1 ELSE -1 END
    WHERE slot = pg_backend_pid() % 16;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- Inserts and deletes by the statement: a bulk insert or a purge changes
-- the count once, not once per row.
-- +goose StatementBegin
CREATE FUNCTION outbox_done_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d BIGINT;
BEGIN
    SELECT COUNT(*) INTO d FROM new_rows WHERE state = 'done';
    IF d <> 0 THEN
        UPDATE outbox_done_count SET n = n + d WHERE slot = pg_backend_pid() % 16;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION outbox_done_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d BIGINT;
BEGIN
    SELECT COUNT(*) INTO d FROM old_rows WHERE state = 'done';
    IF d <> 0 THEN
        UPDATE outbox_done_count SET n = n - d WHERE slot = pg_backend_pid() % 16;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER outbox_done_update AFTER UPDATE OF state ON outbox
    FOR EACH ROW WHEN ((OLD.state = 'done') <> (NEW.state = 'done'))
    EXECUTE FUNCTION outbox_done_count_row();
CREATE TRIGGER outbox_done_insert AFTER INSERT ON outbox
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_done_count_insert();
CREATE TRIGGER outbox_done_delete AFTER DELETE ON outbox
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_done_count_delete();

-- +goose Down
DROP TRIGGER outbox_done_delete ON outbox;
DROP TRIGGER outbox_done_insert ON outbox;
DROP TRIGGER outbox_done_update ON outbox;
DROP FUNCTION outbox_done_count_delete();
DROP FUNCTION outbox_done_count_insert();
DROP FUNCTION outbox_done_count_row();
DROP TABLE outbox_done_count;
