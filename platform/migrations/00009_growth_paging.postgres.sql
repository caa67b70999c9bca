-- Searches and pages of a grown platform (`baohan bench --seed`), the
-- PostgreSQL statements; 00009_growth_paging.sqlite.sql is the same
-- version on SQLite.
--
-- The applyno prefix search: LIKE 'prefix%' can seek a btree on text only
-- in a database whose collation is C, and the prepared statement's
-- generic plan cannot seek for a LIKE pattern that is a parameter at
-- all. The search adds a byte-order range (~>=~, ~<~) on the prefix
-- (Applications), which this index serves in any collation and plan.
--
-- The listing's order (created_at DESC, applyno) in one index, holding
-- the applyno: the first page without a sort, and a deep page (OFFSET)
-- skipping its rows in the index alone. It replaces the index of
-- created_at alone.

-- +goose Up
CREATE INDEX plat_applications_applyno_prefix ON plat_applications (applyno text_pattern_ops);
CREATE INDEX plat_applications_newest ON plat_applications (created_at DESC, applyno);
DROP INDEX plat_applications_created;

-- +goose Down
CREATE INDEX plat_applications_created ON plat_applications (created_at);
DROP INDEX plat_applications_newest;
DROP INDEX plat_applications_applyno_prefix;
