-- Pages of a grown platform (`baohan bench --seed`), the SQLite
-- statements; 00009_growth_paging.postgres.sql is the same version on
-- PostgreSQL. (The applyno prefix search needs no index here: its GLOB
-- seeks the primary key.)
--
-- The listing's order (created_at DESC, applyno) in one index, holding
-- the applyno: the first page without a sort, and a deep page (OFFSET)
-- skipping its rows in the index alone. It replaces the index of
-- created_at alone.

-- +goose Up
CREATE INDEX plat_applications_newest ON plat_applications (created_at DESC, applyno);
DROP INDEX plat_applications_created;

-- +goose Down
CREATE INDEX plat_applications_created ON plat_applications (created_at);
DROP INDEX plat_applications_newest;
