-- A project key per application. The four project fields of an
-- application's applydata are encrypted with a fresh random SM4 key of
-- its own, sealed here under the master key, and released in that
-- application's baohanrestore at the bid opening. One key per section made
-- equal ciphertexts (SM4-ECB is deterministic) in the applications of a
-- section, which told an institution which of its bidders compete with
-- each other before the opening (名单保密).
--
-- Applications made before keep NULL and their section's key
-- (plat_sections.key_sealed), which their applydata was encrypted with.
-- That is all a section key is for from now on: new sections get none
-- (key_sealed ''), and a section none of whose applications needs its key
-- loses it here.

-- +goose Up
ALTER TABLE plat_applications ADD COLUMN key_sealed TEXT; -- the 16-byte SM4 project key under the master key; NULL: the section's
UPDATE plat_sections SET key_sealed = ''
    WHERE NOT EXISTS (SELECT 1 FROM plat_applications a WHERE a.section_no = plat_sections.section_no);

-- +goose Down
-- The keys of the applications made since the Up are lost, and so are the
-- section keys it cleared: roll back only a database without such
-- applications and sections.
ALTER TABLE plat_applications DROP COLUMN key_sealed;
