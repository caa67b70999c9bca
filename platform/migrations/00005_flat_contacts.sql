-- Contacts that the flat revision of baohanapply carries (EXTENSIONS.md
-- §2): the bidder's contact person and phone, and the insured party's
-- (被保险人, the tenderer's) contact, phone and address. Empty when not
-- registered; an application to an institution of the flat revision
-- needs them.

-- +goose Up
ALTER TABLE plat_bidders ADD COLUMN contact_name TEXT NOT NULL DEFAULT '';
ALTER TABLE plat_bidders ADD COLUMN contact_phone TEXT NOT NULL DEFAULT '';
ALTER TABLE plat_sections ADD COLUMN insured_contact TEXT NOT NULL DEFAULT '';
ALTER TABLE plat_sections ADD COLUMN insured_phone TEXT NOT NULL DEFAULT '';
ALTER TABLE plat_sections ADD COLUMN insured_address TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE plat_sections DROP COLUMN insured_address;
ALTER TABLE plat_sections DROP COLUMN insured_phone;
ALTER TABLE plat_sections DROP COLUMN insured_contact;
ALTER TABLE plat_bidders DROP COLUMN contact_phone;
ALTER TABLE plat_bidders DROP COLUMN contact_name;
