-- A bidder's open challenges are bounded per application: counted by
-- application_id when a new one is issued.

-- +goose Up
CREATE INDEX inst_bidder_challenges_app ON inst_bidder_challenges (application_id, expires_at);

-- +goose Down
DROP INDEX inst_bidder_challenges_app;
