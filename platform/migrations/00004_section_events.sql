-- The history of a section: every move of its bid opening (开标时间),
-- with who moved it, from when, to when and why. The opening is when the
-- project keys go out, so a move earlier (kaibiao_advanced) releases them
-- earlier than announced; it needs an administrator and a reason, and is
-- kept here even when no application of the section was moved with it.

-- +goose Up
CREATE TABLE plat_section_events (
    section_no      TEXT NOT NULL REFERENCES plat_sections (section_no),
    seq             BIGINT NOT NULL,
    at              BIGINT NOT NULL,
    event           TEXT NOT NULL,            -- kaibiao_postponed | kaibiao_advanced
    actor           TEXT NOT NULL,
    from_at         BIGINT NOT NULL,          -- the opening before the move
    to_at           BIGINT NOT NULL,          -- the opening after it
    reason          TEXT NOT NULL DEFAULT '',
    applications    INTEGER NOT NULL,         -- applications waiting for the opening, moved with it
    PRIMARY KEY (section_no, seq)
);

-- +goose Down
DROP TABLE plat_section_events;
