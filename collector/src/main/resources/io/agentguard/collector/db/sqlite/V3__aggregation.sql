-- Schema 3: aggregated violations (a first occurrence and a summary folded into it);
-- old rows are one occurrence each.
ALTER TABLE violations ADD COLUMN occurrences BIGINT NOT NULL DEFAULT 1;
ALTER TABLE violations ADD COLUMN summary INTEGER NOT NULL DEFAULT 0;
ALTER TABLE violations ADD COLUMN aggregation_key TEXT;
ALTER TABLE violations ADD COLUMN block_kind INTEGER NOT NULL DEFAULT 0;
ALTER TABLE violations ADD COLUMN last_time_ms BIGINT;
ALTER TABLE violations ADD COLUMN folded INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS violations_aggregation ON violations (node, aggregation_key);
UPDATE schema_info SET version = 3;
