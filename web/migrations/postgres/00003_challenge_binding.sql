-- Login challenges are bounded per browser (its pre-session cookie,
-- hashed in binding): a new challenge replaces the browser's oldest.

-- +goose Up
CREATE INDEX web_challenges_binding ON web_challenges (realm, binding, expires_at);

-- +goose Down
DROP INDEX web_challenges_binding;
