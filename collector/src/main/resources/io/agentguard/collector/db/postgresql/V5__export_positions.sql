-- Schema 5: exports (docs/REPORTING.md, "Exports"). export_positions: the last violation id
-- each export delivered (at-least-once: advanced after delivery); export_dead_letters: each
-- violation a receiver rejected for good.
CREATE TABLE export_positions (export TEXT PRIMARY KEY, last_violation_id BIGINT NOT NULL, updated_ms BIGINT);
CREATE TABLE export_dead_letters (id BIGSERIAL PRIMARY KEY, export TEXT NOT NULL,
    violation_id BIGINT NOT NULL, dead_ms BIGINT NOT NULL, attempts INTEGER NOT NULL, reason TEXT);
CREATE INDEX export_dead_letters_export ON export_dead_letters (export, violation_id);
UPDATE schema_info SET version = 5;
