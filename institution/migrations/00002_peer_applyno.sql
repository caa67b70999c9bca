-- The outbox finds an application by the platform it talks to and the
-- applyno (every answer applied, and every upload message checked before
-- it is sent): an index for it, instead of a scan of the applications.

-- +goose Up
CREATE INDEX inst_applications_peer_applyno ON inst_applications (peer, applyno);

-- +goose Down
DROP INDEX inst_applications_peer_applyno;
