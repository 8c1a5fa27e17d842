-- Schema 4: workload identity (container, pod, job, unit) on violations and events, so
-- queries can filter by them; events also get their cgroup path. Old rows: NULL (unknown).
ALTER TABLE violations ADD COLUMN workload_kind TEXT;
ALTER TABLE violations ADD COLUMN container_id TEXT;
ALTER TABLE violations ADD COLUMN pod_uid TEXT;
ALTER TABLE violations ADD COLUMN job_id TEXT;
ALTER TABLE violations ADD COLUMN unit TEXT;
ALTER TABLE violations ADD COLUMN container_name TEXT;
ALTER TABLE violations ADD COLUMN pod_name TEXT;
ALTER TABLE violations ADD COLUMN pod_namespace TEXT;
ALTER TABLE events ADD COLUMN cgroup TEXT;
ALTER TABLE events ADD COLUMN workload_kind TEXT;
ALTER TABLE events ADD COLUMN container_id TEXT;
ALTER TABLE events ADD COLUMN pod_uid TEXT;
ALTER TABLE events ADD COLUMN job_id TEXT;
ALTER TABLE events ADD COLUMN unit TEXT;
ALTER TABLE events ADD COLUMN container_name TEXT;
ALTER TABLE events ADD COLUMN pod_name TEXT;
ALTER TABLE events ADD COLUMN pod_namespace TEXT;
CREATE INDEX violations_container ON violations (container_id);
CREATE INDEX violations_pod ON violations (pod_uid);
CREATE INDEX violations_job ON violations (job_id);
CREATE INDEX events_container ON events (container_id);
CREATE INDEX events_pod ON events (pod_uid);
CREATE INDEX events_job ON events (job_id);
UPDATE schema_info SET version = 4;
