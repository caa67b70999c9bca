-- Searches and lists that read every row of a grown platform (`baohan
-- bench --seed`): an application by its 保函编号 alone (the unique index
-- leads with the institution), and the guarantee files newest first (the
-- console's 保函 page sorted every file on each view).

-- +goose Up
CREATE INDEX plat_applications_baohanno_search ON plat_applications (baohanno);
CREATE INDEX plat_guarantees_received ON plat_guarantees (received_at DESC, applyno, filetype);

-- +goose Down
DROP INDEX plat_guarantees_received;
DROP INDEX plat_applications_baohanno_search;
