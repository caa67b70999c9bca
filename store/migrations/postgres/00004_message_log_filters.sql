-- The consoles' message log filters on a grown log (`baohan bench
-- --seed`): by interface, newest first, and the failed exchanges, a few
-- among millions of successful ones (the condition is LogFilter.OK's
-- word for word, so that the planner matches the partial index). Without
-- them each such page walked the whole log backwards by id.
-- Kept in step with the other database's migration of the same number.

-- +goose Up
CREATE INDEX message_log_interface ON message_log (interface, id);
CREATE INDEX message_log_failed ON message_log (id) WHERE NOT (error = '' AND http_status = 200 AND code = 1);

-- +goose Down
DROP INDEX message_log_failed;
DROP INDEX message_log_interface;
