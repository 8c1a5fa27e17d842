-- Schema 6: what `query events` and `query nodes` read. events.type (the Event kind: exec,
-- connect, gpu, ...) and events.pid, indexed, so --type and --pid need not decode every row
-- (rows from before: NULL, decoded to judge); nodes.hello, the last AgentHello serialized
-- (its hooks).
ALTER TABLE events ADD COLUMN type TEXT;
ALTER TABLE events ADD COLUMN pid BIGINT;
ALTER TABLE nodes ADD COLUMN hello BLOB;
CREATE INDEX events_type ON events (type);
CREATE INDEX events_pid ON events (pid);
UPDATE schema_info SET version = 6;
