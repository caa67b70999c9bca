-- Challenges for the bidder's actions behind the redirecturl that need the
-- bidder's certificate key (quit, giveup): the bidder signs one with its
-- CA certificate (through the CA agent, as for a console login). Each is
-- bound to one application and one action, serves once and expires.

-- +goose Up
CREATE TABLE inst_bidder_challenges (
    challenge      TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES inst_applications (id),
    action         TEXT NOT NULL,           -- quit | giveup
    expires_at     BIGINT NOT NULL          -- Unix microseconds
);
CREATE INDEX inst_bidder_challenges_expires ON inst_bidder_challenges (expires_at);

-- +goose Down
DROP TABLE inst_bidder_challenges;
