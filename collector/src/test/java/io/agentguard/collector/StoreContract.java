package io.agentguard.collector;

import com.google.protobuf.Timestamp;
import io.agentguard.collector.store.JdbcStore;
import io.agentguard.proto.v1.AgentHello;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.Record;
import io.agentguard.proto.v1.Violation;
import io.agentguard.proto.v1.Workload;
import io.agentguard.proto.v1.WorkloadKind;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What every store must do: the same tests run on SQLite and on a real PostgreSQL. */
abstract class StoreContract {
    static final String E = "00112233445566778899aabbccddeeff";

    /** A URL for JdbcStore.open on a database (or schema) with no tables. */
    abstract String emptyDatabase() throws Exception;

    /** Runs SQL directly on such a database (to build an older schema). */
    abstract void sql(String url, String... statements) throws Exception;

    abstract boolean postgres();

    JdbcStore store() throws Exception {
        return JdbcStore.open(emptyDatabase());
    }

    static Record violation(long seq, String rule, Priority p, long timeSeconds) {
        return Record.newBuilder().setSequence(seq).setViolation(Violation.newBuilder().setRule(rule).setPriority(p)
                .setTime(Timestamp.newBuilder().setSeconds(timeSeconds)).setOutput("v" + seq)).build();
    }

    @Test
    void eachNodeSequenceIsStoredOnceAndTheLastSequenceIsKept() throws Exception {
        try (JdbcStore s = store()) {
            s.hello("n1", E, AgentHello.newBuilder().setNode("n1").setAgentVersion("1").build());
            long now = Instant.now().getEpochSecond();
            assertThat(s.append("n1", E, List.of(violation(1, "a", Priority.PRIORITY_CRITICAL, now),
                    violation(2, "b", Priority.PRIORITY_WARNING, now)), "t").stored()).isEqualTo(2);
            // resent after a reconnect: nothing stored twice
            var resent = s.append("n1", E, List.of(violation(2, "b", Priority.PRIORITY_WARNING, now),
                    violation(3, "a", Priority.PRIORITY_NOTICE, now)), "t");
            assertThat(resent.stored()).isEqualTo(1);
            assertThat(resent.duplicates()).isEqualTo(1);
            assertThat(resent.conflicts()).isEmpty();
            assertThat(s.append("n2", E, List.of(violation(1, "a", Priority.PRIORITY_CRITICAL, now)), "t").stored())
                    .isEqualTo(1);
            assertThat(s.append("n1", E, List.of(Record.newBuilder().setSequence(4).setEvent(Event.newBuilder()
                    .setTime(Timestamp.newBuilder().setSeconds(now))).build()), "t").stored()).isEqualTo(1);
            assertThat(s.lastSequence("n1", E)).isEqualTo(4);
            assertThat(s.lastSequence("n2", E)).isEqualTo(1);
            assertThat(s.lastSequence("n3", E)).isZero();
            assertThat(s.lastSequence("n1", "another")).isZero();
            assertThat(s.sequences("n1", "violations")).containsExactly(1L, 2L, 3L);
            assertThat(s.sequences("n1", "events")).containsExactly(4L);
        }
    }

    @Test
    void aRecordUnderAHeldKeyIsADuplicateOnlyIfByteIdenticalElseAConflictKeptBesideIt() throws Exception {
        try (JdbcStore s = store()) {
            long now = Instant.now().getEpochSecond();
            s.append("n", E, List.of(violation(1, "a", Priority.PRIORITY_CRITICAL, now)), "first");
            var again = s.append("n", E, List.of(violation(1, "a", Priority.PRIORITY_CRITICAL, now)), "first");
            assertThat(again.duplicates()).isEqualTo(1);
            assertThat(again.conflicts()).isEmpty();
            var other = s.append("n", E, List.of(violation(1, "b", Priority.PRIORITY_CRITICAL, now)), "second");
            assertThat(other.conflicts()).containsExactly(1L);
            assertThat(other.newConflicts()).isEqualTo(1);
            assertThat(s.append("n", E, List.of(violation(1, "b", Priority.PRIORITY_CRITICAL, now)), "second")
                    .newConflicts()).isZero();   // the same other version again: still a conflict, kept once
            // the same key as the other kind (an event where a violation is held) is a conflict too
            var event = s.append("n", E, List.of(Record.newBuilder().setSequence(1).setEvent(Event.newBuilder()
                    .setTime(Timestamp.newBuilder().setSeconds(now))).build()), "third");
            assertThat(event.conflicts()).containsExactly(1L);
            assertThat(s.sequences("n", "events")).isEmpty();
            assertThat(s.conflicts(null, 0, 10)).extracting(JdbcStore.Conflict::kind, JdbcStore.Conflict::firstKind,
                    JdbcStore.Conflict::peer).containsExactly(org.assertj.core.groups.Tuple.tuple("violation", "violation",
                    "second"), org.assertj.core.groups.Tuple.tuple("event", "violation", "third"));
            assertThat(s.query(new JdbcStore.Filter(null, "n", null, null, 0, 10))).singleElement()
                    .matches(JdbcStore.StoredViolation::conflicted).matches(v -> v.violation().getRule().equals("a"));
            // another epoch is another key space: no conflict
            assertThat(s.append("n", "ffeeddccbbaa99887766554433221100", List.of(violation(1, "b",
                    Priority.PRIORITY_CRITICAL, now)), "x").stored()).isEqualTo(1);
        }
    }

    @Test
    void aDatabaseFromBeforeEpochsIsUpgradedInPlaceAndANewerOneRefused() throws Exception {
        String url = emptyDatabase();
        String blob = postgres() ? "BYTEA" : "BLOB";
        String id = postgres() ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT";
        long now = Instant.now().getEpochSecond();
        String data = java.util.HexFormat.of().formatHex(violation(1, "old", Priority.PRIORITY_ALERT, now).getViolation()
                .toByteArray());
        String literal = postgres() ? "'\\x" + data + "'" : "X'" + data + "'";
        // version 1, as collectors wrote it before epochs
        sql(url, "CREATE TABLE violations (id " + id + ", node TEXT NOT NULL, sequence BIGINT NOT NULL,"
                        + " received_ms BIGINT NOT NULL, time_ms BIGINT NOT NULL, rule TEXT NOT NULL, priority INTEGER NOT NULL,"
                        + " cgroup TEXT, pid BIGINT, exe TEXT, data " + blob + " NOT NULL, UNIQUE (node, sequence))",
                "CREATE TABLE events (id " + id + ", node TEXT NOT NULL, sequence BIGINT NOT NULL,"
                        + " received_ms BIGINT NOT NULL, time_ms BIGINT NOT NULL, data " + blob + " NOT NULL,"
                        + " UNIQUE (node, sequence))",
                "CREATE TABLE nodes (node TEXT PRIMARY KEY, last_sequence BIGINT NOT NULL DEFAULT 0,"
                        + " agent_version TEXT, kernel TEXT, mode TEXT, last_seen_ms BIGINT, heartbeat " + blob + ")",
                "INSERT INTO violations (node, sequence, received_ms, time_ms, rule, priority, data)"
                        + " VALUES ('n-old', 1, 1, " + now * 1000 + ", 'old', 2, " + literal + ")",
                "INSERT INTO nodes (node, last_sequence) VALUES ('n-old', 1)");
        try (JdbcStore s = JdbcStore.open(url)) {
            assertThat(s.schemaVersion()).isEqualTo(JdbcStore.SCHEMA_VERSION);
            assertThat(s.query(new JdbcStore.Filter(null, "n-old", null, null, 0, 10))).singleElement()
                    .matches(v -> v.epoch().isEmpty() && v.violation().getRule().equals("old"));
            assertThat(s.lastSequence("n-old", "")).isEqualTo(1);
            // its rows compare by content like new ones (hash computed from the stored bytes)
            assertThat(s.append("n-old", "", List.of(violation(1, "old", Priority.PRIORITY_ALERT, now)), "t")
                    .duplicates()).isEqualTo(1);
            assertThat(s.append("n-old", "", List.of(violation(1, "forged", Priority.PRIORITY_ALERT, now)), "t")
                    .conflicts()).containsExactly(1L);
            assertThat(s.append("n-old", E, List.of(violation(1, "new", Priority.PRIORITY_ALERT, now)), "t")
                    .stored()).isEqualTo(1);
        }
        // a newer collector migrated it further (Flyway's history names a migration this code lacks)
        sql(url, "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum,"
                + " installed_by, installed_on, execution_time, success) VALUES (99, '" + (JdbcStore.SCHEMA_VERSION + 1)
                + "', 'from the future', 'SQL', 'V" + (JdbcStore.SCHEMA_VERSION + 1) + "__future.sql', 0, 'test',"
                + " CURRENT_TIMESTAMP, 0, " + (postgres() ? "true" : "1") + ")");
        assertThatThrownBy(() -> JdbcStore.open(url)).isInstanceOf(java.sql.SQLException.class)
                .hasMessageContaining("schema is version " + (JdbcStore.SCHEMA_VERSION + 1) + ", newer than this collector's ("
                        + JdbcStore.SCHEMA_VERSION + "): upgrade the collector");
    }

    @Test
    void aDatabaseFromBeforeFlywayThatClaimsANewerSchemaIsRefusedUntouched() throws Exception {
        String url = emptyDatabase();
        sql(url, legacyV3());
        sql(url, "UPDATE schema_info SET version = " + (JdbcStore.SCHEMA_VERSION + 1));
        assertThatThrownBy(() -> JdbcStore.open(url)).isInstanceOf(java.sql.SQLException.class)
                .hasMessageContaining("schema is version " + (JdbcStore.SCHEMA_VERSION + 1) + ", newer than this collector's");
        assertThat(rows(url, "SELECT COUNT(*) FROM violations")).containsExactly(List.of("0"));
        assertThat(columns(url, "violations")).doesNotContain("container_id");
    }

    /** Opens a plain JDBC connection to the database behind a store URL. */
    abstract java.sql.Connection connect(String url) throws Exception;

    /** The statements of the pre-Flyway schema-3 fixture (SQL captured from the collector before Flyway). */
    String[] legacyV3() throws Exception {
        String name = "legacy-v3-" + (postgres() ? "postgresql" : "sqlite") + ".sql";
        try (var in = StoreContract.class.getResourceAsStream(name)) {
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).lines()
                    .filter(l -> !l.isBlank() && !l.startsWith("--")).map(l -> l.substring(0, l.lastIndexOf(';')))
                    .toArray(String[]::new);
        }
    }

    /** Each row as strings. */
    List<List<String>> rows(String url, String query) throws Exception {
        List<List<String>> out = new java.util.ArrayList<>();
        try (java.sql.Connection c = connect(url); java.sql.Statement st = c.createStatement();
             java.sql.ResultSet rs = st.executeQuery(query)) {
            while (rs.next()) {
                List<String> row = new java.util.ArrayList<>();
                for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
                    row.add(rs.getString(i));
                }
                out.add(row);
            }
        }
        return out;
    }

    java.util.Set<String> columns(String url, String table) throws Exception {
        return rows(url, postgres()
                ? "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '"
                        + table + "'"
                : "SELECT name FROM pragma_table_info('" + table + "')").stream().map(List::getFirst)
                .collect(java.util.stream.Collectors.toSet());
    }

    java.util.Set<String> indexes(String url, String table) throws Exception {
        return rows(url, postgres()
                ? "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = '" + table + "'"
                : "SELECT name FROM pragma_index_list('" + table + "')").stream().map(List::getFirst)
                .collect(java.util.stream.Collectors.toSet());
    }

    static final List<String> WORKLOAD_COLUMNS = List.of("workload_kind", "container_id", "pod_uid", "job_id", "unit",
            "container_name", "pod_name", "pod_namespace");

    @Test
    void aSchema3DatabaseMadeBeforeFlywayIsMigratedInPlaceWithEveryRowAndGainsTheWorkloadColumns() throws Exception {
        String url = emptyDatabase();
        sql(url, legacyV3());
        long now = Instant.now().getEpochSecond();
        String blob = postgres() ? "'\\x" : "X'";   // a byte literal opens with this, closes with '
        String v1 = java.util.HexFormat.of().formatHex(violation(1, "old-a", Priority.PRIORITY_ALERT, now).getViolation()
                .toByteArray());
        String v2 = java.util.HexFormat.of().formatHex(aggregated(2, "k", 1, false, now).getViolation().toByteArray());
        String ev = java.util.HexFormat.of().formatHex(Event.newBuilder().setTime(Timestamp.newBuilder().setSeconds(now))
                .build().toByteArray());
        // rows as the old collector wrote them: a violation, an aggregated one folded to 40, an event,
        // the node, its spool and a conflict
        sql(url, "INSERT INTO violations (node, epoch, sequence, received_ms, time_ms, rule, priority, cgroup, pid, exe, data,"
                        + " occurrences, aggregation_key, last_time_ms) VALUES ('n-old', '" + E + "', 1, 1, " + now * 1000
                        + ", 'old-a', 2, '/agents/a', 42, '/usr/bin/x', " + blob + v1 + "', 1, NULL, NULL)",
                "INSERT INTO violations (node, epoch, sequence, received_ms, time_ms, rule, priority, data, occurrences,"
                        + " aggregation_key, last_time_ms) VALUES ('n-old', '" + E + "', 2, 1, " + now * 1000
                        + ", 'agentguard: connection denied by egress policy', 5, " + blob + v2
                        + "', 40, 'k', " + (now + 9) * 1000 + ")",
                "INSERT INTO events (node, epoch, sequence, received_ms, time_ms, data) VALUES ('n-old', '" + E + "', 3, 1, "
                        + now * 1000 + ", " + blob + ev + "')",
                "INSERT INTO nodes (node, last_sequence, agent_version, epoch) VALUES ('n-old', 3, '0.0.9', '" + E + "')",
                "INSERT INTO spools (node, epoch, last_sequence, first_seen_ms, last_seen_ms) VALUES ('n-old', '" + E
                        + "', 3, 1, 2)",
                "INSERT INTO conflicts (node, epoch, sequence, received_ms, kind, hash, data, peer) VALUES ('n-old', '" + E
                        + "', 1, 5, 'violation', " + blob + "00', " + blob
                        + v2 + "', 'peer')");
        try (JdbcStore s = JdbcStore.open(url)) {
            assertThat(s.schemaVersion()).isEqualTo(JdbcStore.SCHEMA_VERSION);
            assertThat(s.query(new JdbcStore.Filter(null, "n-old", null, null, 0, 10)))
                    .extracting(r -> r.sequence() + ":" + r.violation().getRule() + ":" + Math.max(1, r.violation().getCount()))
                    .containsExactly("1:old-a:1", "2:agentguard: connection denied by egress policy:40");
            assertThat(s.sequences("n-old", "events")).containsExactly(3L);
            assertThat(s.lastSequence("n-old", E)).isEqualTo(3);
            assertThat(s.conflictCount()).isEqualTo(1);
            // old rows compare by content as before: a resend is a duplicate, the next sequence is stored
            assertThat(s.append("n-old", E, List.of(violation(1, "old-a", Priority.PRIORITY_ALERT, now)), "t")
                    .duplicates()).isEqualTo(1);
            assertThat(s.append("n-old", E, List.of(violation(4, "new", Priority.PRIORITY_ALERT, now)), "t")
                    .stored()).isEqualTo(1);
        }
        assertThat(rows(url, "SELECT COUNT(*) FROM violations")).containsExactly(List.of("3"));
        assertThat(rows(url, "SELECT COUNT(*) FROM events")).containsExactly(List.of("1"));
        assertThat(rows(url, "SELECT node, last_sequence, agent_version FROM nodes"))
                .containsExactly(List.of("n-old", "3", "0.0.9"));
        assertThat(rows(url, "SELECT cgroup, pid, exe, container_id, pod_uid FROM violations WHERE sequence = 1"))
                .containsExactly(java.util.Arrays.asList("/agents/a", "42", "/usr/bin/x", null, null));
        assertThat(columns(url, "violations")).containsAll(WORKLOAD_COLUMNS);
        assertThat(columns(url, "events")).containsAll(WORKLOAD_COLUMNS).contains("cgroup");
        assertThat(indexes(url, "violations")).contains("violations_container", "violations_pod", "violations_job",
                "violations_time", "violations_aggregation");
        assertThat(indexes(url, "events")).contains("events_container", "events_pod", "events_job", "events_time");
        // Flyway recorded the old schema as its baseline and ran only what came after it
        assertThat(rows(url, "SELECT version, type FROM flyway_schema_history ORDER BY installed_rank"))
                .containsExactly(List.of("3", "BASELINE"), List.of("4", "SQL"), List.of("5", "SQL"), List.of("6", "SQL"));
        // collectors from before Flyway read schema_info and refuse this schema
        assertThat(rows(url, "SELECT version FROM schema_info")).containsExactly(List.of(String.valueOf(JdbcStore.SCHEMA_VERSION)));
        try (JdbcStore s = JdbcStore.open(url)) {   // reopening migrates nothing
            assertThat(s.schemaVersion()).isEqualTo(JdbcStore.SCHEMA_VERSION);
        }
        assertThat(rows(url, "SELECT COUNT(*) FROM flyway_schema_history")).containsExactly(List.of("4"));
    }

    @Test
    void anEmptyDatabaseGetsEveryMigrationAndTheSameSchemaAsAnUpgradedOne() throws Exception {
        String fresh = emptyDatabase();
        JdbcStore.open(fresh).close();
        assertThat(rows(fresh, "SELECT version FROM flyway_schema_history ORDER BY installed_rank"))
                .containsExactly(List.of("1"), List.of("2"), List.of("3"), List.of("4"), List.of("5"), List.of("6"));
        String upgraded = emptyDatabase();
        sql(upgraded, legacyV3());
        JdbcStore.open(upgraded).close();
        for (String table : List.of("violations", "events", "nodes", "spools", "conflicts", "schema_info",
                "export_positions", "export_dead_letters")) {
            assertThat(columns(fresh, table)).as(table).isEqualTo(columns(upgraded, table));
            assertThat(indexes(fresh, table).size()).as(table).isEqualTo(indexes(upgraded, table).size());
        }
    }

    @Test
    void queriesFilterByNodeRulePriorityAndTimeAndFollowFromAnId() throws Exception {
        try (JdbcStore s = store()) {
            long now = Instant.now().getEpochSecond();
            s.append("n1", E, List.of(violation(1, "a", Priority.PRIORITY_CRITICAL, now),
                    violation(2, "b", Priority.PRIORITY_WARNING, now), violation(3, "a", Priority.PRIORITY_DEBUG, now - 7200)),
                    "t");
            s.append("n2", E, List.of(violation(1, "a", Priority.PRIORITY_ALERT, now)), "t");
            assertThat(s.query(new JdbcStore.Filter(null, "n1", null, null, 0, 100))).hasSize(3);
            assertThat(s.query(new JdbcStore.Filter(null, null, "a", null, 0, 100))).hasSize(3);
            assertThat(s.query(new JdbcStore.Filter(null, null, null, Priority.PRIORITY_WARNING_VALUE, 0, 100)))
                    .extracting(v -> v.violation().getRule() + "@" + v.node()).containsExactly("a@n1", "b@n1", "a@n2");
            assertThat(s.query(new JdbcStore.Filter(Instant.now().minusSeconds(3600), null, null, null, 0, 100))).hasSize(3);
            var firstTwo = s.query(new JdbcStore.Filter(null, null, null, null, 0, 2));
            assertThat(firstTwo).hasSize(2);
            var rest = s.query(new JdbcStore.Filter(null, null, null, null, s.lastQueryMaxId(), 100));
            assertThat(rest).extracting(JdbcStore.StoredViolation::sequence).containsExactly(3L, 1L);
            assertThat(s.deleteOlderThan(Instant.now().minusSeconds(3600))).isEqualTo(1);
            assertThat(s.sequences("n1", "violations")).containsExactly(1L, 2L);
        }
    }

    static Record aggregated(long seq, String key, long count, boolean summary, long timeSeconds) {
        Violation.Builder v = Violation.newBuilder().setRule("agentguard: connection denied by egress policy")
                .setPriority(Priority.PRIORITY_WARNING).setTime(Timestamp.newBuilder().setSeconds(timeSeconds))
                .setOutput("denied " + seq).setCount(count).setAggregationKey(key).setSummary(summary)
                .setBlockKind(io.agentguard.proto.v1.BlockKind.BLOCK_KIND_CONNECT);
        if (summary) {
            v.setLastTime(Timestamp.newBuilder().setSeconds(timeSeconds + 9));
        }
        return Record.newBuilder().setSequence(seq).setViolation(v).build();
    }

    @Test
    void aSummaryFoldsIntoItsFirstOccurrenceSoAnAggregatedViolationIsOneRowWithItsCount() throws Exception {
        try (JdbcStore s = store()) {
            long now = Instant.now().getEpochSecond();
            s.append("n", E, List.of(aggregated(1, "k1", 1, false, now), violation(2, "other", Priority.PRIORITY_ERROR, now)),
                    "t");
            s.append("n", E, List.of(aggregated(3, "k1", 1000, true, now)), "t");
            var rows = s.query(new JdbcStore.Filter(null, "n", null, null, 0, 100));
            assertThat(rows).extracting(r -> r.sequence() + ":" + Math.max(1, r.violation().getCount()))
                    .containsExactly("1:1000", "2:1");
            assertThat(rows.getFirst().violation().getLastTime().getSeconds()).isEqualTo(now + 9);
            assertThat(s.sequences("n", "violations")).containsExactly(1L, 2L, 3L);   // every record held
            // a resent summary is a duplicate and counts nothing twice
            assertThat(s.append("n", E, List.of(aggregated(3, "k1", 1000, true, now)), "t").duplicates()).isEqualTo(1);
            assertThat(s.query(new JdbcStore.Filter(null, "n", null, null, 0, 100)).getFirst().violation().getCount())
                    .isEqualTo(1000);
            // following: the summary is shown too, after the first it belongs to
            assertThat(s.query(new JdbcStore.Filter(null, "n", null, null, 0, 100), true)).hasSize(3);
            // a summary whose first is not held stands alone, with its count
            s.append("n", E, List.of(aggregated(4, "k2", 7, true, now)), "t");
            assertThat(s.query(new JdbcStore.Filter(null, "n", null, null, 0, 100)))
                    .extracting(r -> r.sequence() + ":" + r.violation().getCount()).contains("4:7");
        }
    }

    @Test
    void aVersion2DatabaseGainsTheAggregationColumnsInPlaceItsRowsOneOccurrenceEach() throws Exception {
        String url = emptyDatabase();
        String blob = postgres() ? "BYTEA" : "BLOB";
        String id = postgres() ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT";
        long now = Instant.now().getEpochSecond();
        String data = java.util.HexFormat.of().formatHex(violation(1, "v2", Priority.PRIORITY_ALERT, now).getViolation()
                .toByteArray());
        String literal = postgres() ? "'\\x" + data + "'" : "X'" + data + "'";
        sql(url, "CREATE TABLE violations (id " + id + ", node TEXT NOT NULL, epoch TEXT NOT NULL DEFAULT '',"
                        + " sequence BIGINT NOT NULL, received_ms BIGINT NOT NULL, time_ms BIGINT NOT NULL, rule TEXT NOT NULL,"
                        + " priority INTEGER NOT NULL, cgroup TEXT, pid BIGINT, exe TEXT, data " + blob + " NOT NULL,"
                        + " hash " + blob + ", conflicted INTEGER NOT NULL DEFAULT 0, UNIQUE (node, epoch, sequence))",
                // the other tables of schema 2, as the collector before Flyway made them
                "CREATE TABLE events (id " + id + ", node TEXT NOT NULL, epoch TEXT NOT NULL DEFAULT '', sequence BIGINT NOT NULL,"
                        + " received_ms BIGINT NOT NULL, time_ms BIGINT NOT NULL, data " + blob + " NOT NULL, hash " + blob + ","
                        + " conflicted INTEGER NOT NULL DEFAULT 0, UNIQUE (node, epoch, sequence))",
                "CREATE TABLE nodes (node TEXT PRIMARY KEY, last_sequence BIGINT NOT NULL DEFAULT 0, agent_version TEXT,"
                        + " kernel TEXT, mode TEXT, last_seen_ms BIGINT, heartbeat " + blob + ", epoch TEXT)",
                "CREATE TABLE spools (node TEXT NOT NULL, epoch TEXT NOT NULL, last_sequence BIGINT NOT NULL DEFAULT 0,"
                        + " first_seen_ms BIGINT NOT NULL, last_seen_ms BIGINT NOT NULL, PRIMARY KEY (node, epoch))",
                "CREATE TABLE conflicts (id " + id + ", node TEXT NOT NULL, epoch TEXT NOT NULL, sequence BIGINT NOT NULL,"
                        + " received_ms BIGINT NOT NULL, kind TEXT NOT NULL, hash " + blob + " NOT NULL, data " + blob
                        + " NOT NULL, peer TEXT, UNIQUE (node, epoch, sequence, hash))",
                "CREATE TABLE schema_info (version INTEGER NOT NULL)", "INSERT INTO schema_info (version) VALUES (2)",
                "INSERT INTO violations (node, epoch, sequence, received_ms, time_ms, rule, priority, data)"
                        + " VALUES ('n2', '" + E + "', 1, 1, " + now * 1000 + ", 'v2', 2, " + literal + ")");
        try (JdbcStore s = JdbcStore.open(url)) {
            assertThat(s.schemaVersion()).isEqualTo(JdbcStore.SCHEMA_VERSION);
            assertThat(s.query(new JdbcStore.Filter(null, "n2", null, null, 0, 10))).singleElement()
                    .matches(v -> v.violation().getRule().equals("v2") && v.violation().getCount() == 0);
            s.append("n2", E, List.of(aggregated(2, "k", 1, false, now), aggregated(3, "k", 5, true, now)), "t");
            assertThat(s.query(new JdbcStore.Filter(null, "n2", null, null, 0, 10)))
                    .extracting(r -> r.sequence() + ":" + r.violation().getCount()).containsExactly("1:0", "2:5");
            // version 4 on the upgraded tables: the old row has no workload, a new one is found by its container
            s.append("n2", E, List.of(inWorkload(4, Workload.newBuilder().setKind(WorkloadKind.WORKLOAD_KIND_CONTAINER)
                    .setContainerId(CONTAINER).build())), "t");
            assertThat(s.query(new JdbcStore.Filter(null, null, null, null, 0, 10, CONTAINER.substring(0, 12), null, null,
                    null))).extracting(JdbcStore.StoredViolation::sequence).containsExactly(4L);
        }
    }

    static final String CONTAINER = "3f4e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f";
    static final String OTHER_CONTAINER = "3f4e5a6b7c8d0000000000000000000000000000000000000000000000000000";
    static final String POD = "0d8e4a8c-1b2f-4c7e-9a51-6f0c2b7d9e13";

    static Record inWorkload(long seq, Workload w) {
        return Record.newBuilder().setSequence(seq).setViolation(Violation.newBuilder().setRule("r")
                .setPriority(Priority.PRIORITY_WARNING).setTime(Timestamp.newBuilder().setSeconds(Instant.now().getEpochSecond()))
                .setOutput("v" + seq).setWorkload(w)).build();
    }

    @Test
    void violationsAreFilteredByContainerPodJobAndUnitAsTheAgentReportedThem() throws Exception {
        try (JdbcStore s = store()) {
            s.append("n", E, List.of(
                    inWorkload(1, Workload.newBuilder().setKind(WorkloadKind.WORKLOAD_KIND_KUBERNETES).setRuntime("containerd")
                            .setContainerId(CONTAINER).setPodUid(POD).setUnit("cri-containerd-" + CONTAINER + ".scope")
                            .setPodName("trainer-7").setPodNamespace("ml").build()),
                    inWorkload(2, Workload.newBuilder().setKind(WorkloadKind.WORKLOAD_KIND_CONTAINER).setRuntime("podman")
                            .setContainerId(OTHER_CONTAINER).build()),
                    inWorkload(3, Workload.newBuilder().setKind(WorkloadKind.WORKLOAD_KIND_SLURM).setRuntime("slurm")
                            .setJobId("4242").setStepId("0").setUnit("slurmstepd.scope").build()),
                    inWorkload(4, Workload.getDefaultInstance()),
                    inWorkload(5, Workload.newBuilder().setKind(WorkloadKind.WORKLOAD_KIND_SLURM).setJobId("42").build())), "t");
            s.append("n", E, List.of(Record.newBuilder().setSequence(6).setEvent(Event.newBuilder()
                    .setProcess(io.agentguard.proto.v1.ProcessInfo.newBuilder().setCgroupPath("system.slice/docker-" + CONTAINER
                            + ".scope").setWorkload(Workload.newBuilder().setContainerId(CONTAINER)))).build()), "t");
            // a 12-character prefix (as docker ps shows it) finds both containers that share it; the full id, one
            assertThat(s.query(filter(CONTAINER.substring(0, 12), null, null, null))).extracting(JdbcStore.StoredViolation::sequence)
                    .containsExactly(1L, 2L);
            assertThat(s.query(filter(CONTAINER, null, null, null))).extracting(JdbcStore.StoredViolation::sequence)
                    .containsExactly(1L);
            assertThat(s.query(filter(CONTAINER.substring(0, 20), null, null, null))).extracting(JdbcStore.StoredViolation::sequence)
                    .containsExactly(1L);
            assertThat(s.query(filter(null, POD, null, null))).singleElement()
                    .matches(v -> v.violation().getWorkload().getPodName().equals("trainer-7"));
            // a job id is exact: job 42 is not job 4242
            assertThat(s.query(filter(null, null, "4242", null))).extracting(JdbcStore.StoredViolation::sequence)
                    .containsExactly(3L);
            assertThat(s.query(filter(null, null, "42", null))).extracting(JdbcStore.StoredViolation::sequence)
                    .containsExactly(5L);
            assertThat(s.query(filter(null, null, null, "slurmstepd.scope"))).extracting(JdbcStore.StoredViolation::sequence)
                    .containsExactly(3L);
            assertThat(s.query(filter(CONTAINER, "00000000-0000-0000-0000-000000000000", null, null))).isEmpty();
            // a LIKE wildcard or a short prefix is refused, not widened to everything
            for (String bad : List.of("3f4e5a6b7c8", "3f4e5a6b7c8d%", "%%%%%%%%%%%%", "3F4E5A6B7C8D")) {
                assertThatThrownBy(() -> filter(bad, null, null, null)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("12 to 64 lowercase hex");
            }
        }
    }

    static JdbcStore.Filter filter(String container, String pod, String job, String unit) {
        return new JdbcStore.Filter(null, null, null, null, 0, 100, container, pod, job, unit);
    }
}
