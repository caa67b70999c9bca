-- The state the platform calls given_up was givenup here: one name for
-- the same state in both services. The admin API answers given_up and
-- still takes givenup as a filter.

-- +goose Up
UPDATE inst_applications SET state = 'given_up' WHERE state = 'givenup';
UPDATE inst_events SET from_state = 'given_up' WHERE from_state = 'givenup';
UPDATE inst_events SET to_state = 'given_up' WHERE to_state = 'givenup';

-- +goose Down
UPDATE inst_applications SET state = 'givenup' WHERE state = 'given_up';
UPDATE inst_events SET from_state = 'givenup' WHERE from_state = 'given_up';
UPDATE inst_events SET to_state = 'givenup' WHERE to_state = 'given_up';
