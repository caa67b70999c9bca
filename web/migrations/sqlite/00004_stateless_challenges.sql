-- Login challenges are stateless (bidderauth.Challenges: random, expiry
-- and an HMAC-SM3 under a key derived from the master key): issuing one
-- writes nothing, so web_challenges goes. A challenge serves once: it is
-- recorded here when a login signed over it by the bidder's registered
-- certificate is accepted, and the record goes once the challenge has
-- expired. id is the challenge's nonce (hex).

-- +goose Up
DROP TABLE web_challenges;
CREATE TABLE web_used_challenges (
    realm      TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (realm, id)
);
CREATE INDEX web_used_challenges_expires ON web_used_challenges (expires_at);

-- +goose Down
DROP TABLE web_used_challenges;
CREATE TABLE web_challenges (
    challenge  TEXT    PRIMARY KEY,
    realm      TEXT    NOT NULL,
    binding    TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX web_challenges_expires ON web_challenges (expires_at);
CREATE INDEX web_challenges_binding ON web_challenges (realm, binding, expires_at);
