-- A withdrawal started at the institution waits for the platform's answer
-- to its quitnotice (state quit_pending, quit status pending): prev_state
-- is the state it goes back to when the platform refuses.

-- +goose Up
ALTER TABLE inst_quits ADD COLUMN prev_state TEXT NOT NULL DEFAULT '';

-- +goose Down
UPDATE inst_applications SET state = 'quit' WHERE state = 'quit_pending';
UPDATE inst_quits SET status = 'accepted' WHERE status = 'pending';
ALTER TABLE inst_quits DROP COLUMN prev_state;
