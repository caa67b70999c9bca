-- The bidder's challenges (POST /bidder/<token>/challenge) are stateless
-- (bidderauth.Challenges: random, expiry and an HMAC-SM3 under a key
-- derived from the master key, bound to the application and the action):
-- issuing one writes nothing, so inst_bidder_challenges goes. A challenge
-- serves once: it is recorded here when a quit or give-up signed over it
-- by the bidder's certificate is accepted, and the record goes once the
-- challenge has expired. id is the challenge's nonce (hex).

-- +goose Up
DROP TABLE inst_bidder_challenges;
CREATE TABLE inst_used_challenges (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL,           -- whose action used it
    expires_at     BIGINT NOT NULL          -- Unix microseconds
);
CREATE INDEX inst_used_challenges_expires ON inst_used_challenges (expires_at);

-- +goose Down
DROP TABLE inst_used_challenges;
CREATE TABLE inst_bidder_challenges (
    challenge      TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES inst_applications (id),
    action         TEXT NOT NULL,
    expires_at     BIGINT NOT NULL
);
CREATE INDEX inst_bidder_challenges_expires ON inst_bidder_challenges (expires_at);
CREATE INDEX inst_bidder_challenges_app ON inst_bidder_challenges (application_id, expires_at);
