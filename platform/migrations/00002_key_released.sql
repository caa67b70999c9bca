-- When a baohanrestore first carried the project key out for an
-- application. The restore has happened from then on: the plaintext
-- guarantee (filetype 2) is accepted even when it comes before the
-- institution's answer to the restore has been applied.

-- +goose Up
ALTER TABLE plat_applications ADD COLUMN key_released_at BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE plat_applications DROP COLUMN key_released_at;
