package io.agentguard.collector.store;

import com.google.protobuf.InvalidProtocolBufferException;
import io.agentguard.proto.v1.AgentHello;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Heartbeat;
import io.agentguard.proto.v1.Record;
import io.agentguard.proto.v1.Violation;
import io.agentguard.proto.v1.Workload;
import io.agentguard.proto.v1.WorkloadKind;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The collector's store on SQLite (one file, the default) or PostgreSQL (fleets; several
 * collector replicas may share one database). A record is keyed by (node, spool epoch,
 * sequence) and stored once. A record that arrives again under a key already held is
 * compared by the SHA-256 of its serialized violation or event: byte-identical is a resend
 * (acknowledged, not stored again); different content is a <em>conflict</em> — someone else
 * wrote under that key first — and is kept in the {@code conflicts} table next to the first
 * version, which is flagged; nothing is dropped and the caller learns which sequences
 * conflicted. A batch is one transaction: acknowledged only once committed.
 * <p>
 * Aggregated violations: an agent reports the first occurrence of a violation at once (count
 * 1, an {@code aggregation_key}) and, at the end of its window, a summary with the same key
 * whose count is every occurrence in the window. The summary is stored as a record like any
 * other (its sequence is held, resends and conflicts work as for the rest) and then
 * <em>folded</em> into the first: the first's row takes the summary's count and last time, the
 * summary's row is marked folded and queries leave it out. So a loop of a thousand denied
 * connects is one row with count 1000 at the collector. Setting (not adding) the count keeps
 * a resent summary from counting twice. A summary whose first is not held (deleted by
 * retention) stays a row of its own, with its count.
 * <p>
 * The schema is Flyway's ({@link Migrations}): version 5 (export positions and dead letters), 4 (workload identity columns), 3
 * (aggregation: occurrences, summary, aggregation_key, block_kind, last_time_ms, folded), 2
 * (epochs, hashes, conflicts), 1 (before epochs). A database from any of them, made before
 * or after Flyway, is upgraded in place at open with its rows; a newer one is refused.
 */
public final class JdbcStore implements AutoCloseable {
    /**
     * The schema this code reads and writes: the last of the Flyway migrations under
     * io/agentguard/collector/db/ (also kept in table schema_info, which collectors from
     * before Flyway read to refuse a newer schema).
     */
    public static final int SCHEMA_VERSION = 6;

    /** A stored violation with where it came from; conflicted: another version arrived under its key. */
    public record StoredViolation(String node, long sequence, Instant receivedAt, Violation violation, String epoch,
                                  boolean conflicted) {
    }

    /**
     * Query filters; nulls mean "any". container: a full id or a prefix of at least
     * {@link #MIN_CONTAINER_PREFIX} characters; pod, job, unit: exact.
     */
    public record Filter(Instant since, String node, String rule, Integer maxPriority, long afterId, int limit,
                         String container, String pod, String job, String unit) {
        public Filter(Instant since, String node, String rule, Integer maxPriority, long afterId, int limit) {
            this(since, node, rule, maxPriority, afterId, limit, null, null, null, null);
        }

        public Filter {
            if (container != null && (container.length() < MIN_CONTAINER_PREFIX || container.length() > FULL_CONTAINER_ID
                    || !container.chars().allMatch(c -> c >= '0' && c <= '9' || c >= 'a' && c <= 'f'))) {
                throw new IllegalArgumentException("a container id is " + MIN_CONTAINER_PREFIX + " to " + FULL_CONTAINER_ID
                        + " lowercase hex characters (docker ps shows 12): '" + container + "'");
            }
        }
    }

    /** The shortest container id prefix a query takes (the short id docker ps and Falco show). */
    public static final int MIN_CONTAINER_PREFIX = 12;
    private static final int FULL_CONTAINER_ID = 64;

    /**
     * What a batch did: records stored, resends of identical content, and the sequences whose
     * key already held other content (kept as conflicts; newConflicts of them first seen now).
     */
    public record AppendResult(int stored, int duplicates, List<Long> conflicts, int newConflicts,
                               List<Record> storedRecords) {
        public AppendResult(int stored, int duplicates, List<Long> conflicts, int newConflicts) {
            this(stored, duplicates, conflicts, newConflicts, List.of());
        }
    }

    /**
     * A version that arrived under a key already holding other content: the first version
     * (kind and serialized violation or event) and this one, with when and from whom it came.
     */
    public record Conflict(long id, String node, String epoch, long sequence, Instant receivedAt, String peer,
                           String kind, byte[] data, String firstKind, byte[] firstData) {
    }

    private final Connection connection;
    private final boolean postgres;
    private final MessageDigest sha256;

    private JdbcStore(Connection connection, boolean postgres, String url, String user, String password)
            throws SQLException {
        this.connection = connection;
        this.postgres = postgres;
        try {
            this.sha256 = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        try {
            Migrations.migrate(connection, postgres, url, user, password, SCHEMA_VERSION);
            connection.setAutoCommit(false);
        } catch (SQLException | RuntimeException e) {
            connection.close();
            throw e;
        }
    }

    /**
     * @param url "sqlite:/path/db.sqlite", a "jdbc:sqlite:" URL, or a "jdbc:postgresql://" URL
     *            (user and password as URL parameters or in the environment PGUSER/PGPASSWORD)
     */
    public static JdbcStore open(String url) throws SQLException {
        return open(url, System.getenv("PGUSER"), System.getenv("PGPASSWORD"));
    }

    /**
     * As {@link #open(String)} with the PostgreSQL user and password given (null: not set;
     * ignored for SQLite). Migrates the schema to {@link #SCHEMA_VERSION} first.
     */
    public static JdbcStore open(String url, String user, String password) throws SQLException {
        if (url.startsWith("sqlite:")) {
            url = "jdbc:" + url;
        }
        if (url.startsWith("jdbc:sqlite:")) {
            Connection c = DriverManager.getConnection(url);
            try (Statement s = c.createStatement()) {
                s.execute("PRAGMA journal_mode=WAL");
                s.execute("PRAGMA synchronous=NORMAL");
                s.execute("PRAGMA busy_timeout=10000");
            }
            return new JdbcStore(c, false, url, null, null);
        }
        if (url.startsWith("jdbc:postgresql:") || url.startsWith("postgresql:")) {
            if (url.startsWith("postgresql:")) {
                url = "jdbc:" + url;
            }
            java.util.Properties p = new java.util.Properties();
            if (user != null) {
                p.setProperty("user", user);
            }
            if (password != null) {
                p.setProperty("password", password);
            }
            return new JdbcStore(DriverManager.getConnection(url, p), true, url, user, password);
        }
        throw new SQLException("unsupported database '" + url + "': use sqlite:/path/file.db or jdbc:postgresql://host/db");
    }

    /** Version 4: the workload columns, both tables (TEXT, nullable: rows from before say nothing). */
    private static final List<String> WORKLOAD_COLUMNS = List.of("workload_kind", "container_id", "pod_uid", "job_id",
            "unit", "container_name", "pod_name", "pod_namespace");

    /** Binds the workload columns (in WORKLOAD_COLUMNS order) from a record's workload; "" is stored as NULL. */
    private static void bindWorkload(PreparedStatement ps, int first, Workload w) throws SQLException {
        String kind = w.getKind() == WorkloadKind.WORKLOAD_KIND_UNSPECIFIED || w.getKind() == WorkloadKind.UNRECOGNIZED
                ? "" : w.getKind().name().substring("WORKLOAD_KIND_".length()).toLowerCase(java.util.Locale.ROOT);
        String[] values = {kind, w.getContainerId(), w.getPodUid(), w.getJobId(), w.getUnit(), w.getContainerName(),
                w.getPodName(), w.getPodNamespace()};
        for (int i = 0; i < values.length; i++) {
            ps.setString(first + i, values[i].isEmpty() ? null : values[i]);
        }
    }

    /** The schema version of the open database (after any upgrade). */
    public synchronized int schemaVersion() throws SQLException {
        int v = Migrations.version(connection, postgres);
        connection.commit();
        return v;
    }

    /** The highest sequence stored for the node's spool epoch (0: none). Information for the agent, never a skip. */
    public synchronized long lastSequence(String node, String epoch) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(
                "SELECT last_sequence FROM spools WHERE node = ? AND epoch = ?")) {
            ps.setString(1, node);
            ps.setString(2, epoch);
            try (ResultSet rs = ps.executeQuery()) {
                long v = rs.next() ? rs.getLong(1) : 0;
                connection.commit();
                return v;
            }
        }
    }

    /**
     * Records a hello: the node's version, kernel, mode and current spool epoch. Returns the
     * epoch the node had before if it differs (its spool was created anew), else null.
     */
    public synchronized String hello(String node, String epoch, AgentHello hello) throws SQLException {
        long now = System.currentTimeMillis();
        String previous = null;
        try {
            try (PreparedStatement ps = connection.prepareStatement("SELECT epoch FROM nodes WHERE node = ?")) {
                ps.setString(1, node);
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next() && rs.getString(1) != null && !rs.getString(1).equals(epoch)) {
                        previous = rs.getString(1);
                    }
                }
            }
            try (PreparedStatement ps = connection.prepareStatement(
                    "INSERT INTO nodes (node, agent_version, kernel, mode, last_seen_ms, epoch) VALUES (?, ?, ?, ?, ?, ?)"
                            + " ON CONFLICT (node) DO UPDATE SET agent_version = excluded.agent_version,"
                            + " kernel = excluded.kernel, mode = excluded.mode, last_seen_ms = excluded.last_seen_ms,"
                            + " epoch = excluded.epoch")) {
                ps.setString(1, node);
                ps.setString(2, hello.getAgentVersion());
                ps.setString(3, hello.getKernel());
                ps.setString(4, hello.getMode());
                ps.setLong(5, now);
                ps.setString(6, epoch);
                ps.executeUpdate();
            }
            try (PreparedStatement ps = connection.prepareStatement("UPDATE nodes SET hello = ? WHERE node = ?")) {
                ps.setBytes(1, hello.toByteArray());   // its hooks, for query nodes
                ps.setString(2, node);
                ps.executeUpdate();
            }
            try (PreparedStatement ps = connection.prepareStatement(
                    "INSERT INTO spools (node, epoch, last_sequence, first_seen_ms, last_seen_ms) VALUES (?, ?, 0, ?, ?)"
                            + " ON CONFLICT (node, epoch) DO UPDATE SET last_seen_ms = excluded.last_seen_ms")) {
                ps.setString(1, node);
                ps.setString(2, epoch);
                ps.setLong(3, now);
                ps.setLong(4, now);
                ps.executeUpdate();
            }
            connection.commit();
            return previous;
        } catch (SQLException e) {
            connection.rollback();
            throw e;
        }
    }

    /** A node as last heard: when (ms since the epoch, 0 if never) and its last heartbeat (null if none yet). */
    public record NodeHealth(String node, long lastSeenMs, Heartbeat heartbeat) {
    }

    /** Every node's liveness and spool backlog (the collector's node metrics, read when scraped). */
    public synchronized List<NodeHealth> nodeHealth() throws SQLException {
        List<NodeHealth> nodes = new ArrayList<>();
        try (PreparedStatement ps = connection.prepareStatement("SELECT node, last_seen_ms, heartbeat FROM nodes");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                byte[] hb = rs.getBytes(3);
                Heartbeat heartbeat = null;
                if (hb != null) {
                    try {
                        heartbeat = Heartbeat.parseFrom(hb);
                    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                        heartbeat = null;   // a damaged row: the node still counts, without a backlog
                    }
                }
                nodes.add(new NodeHealth(rs.getString(1), rs.getLong(2), heartbeat));
            }
            connection.commit();
        } catch (SQLException e) {
            connection.rollback();
            throw e;
        }
        return nodes;
    }

    public synchronized void heartbeat(String node, Heartbeat hb) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(
                "UPDATE nodes SET heartbeat = ?, last_seen_ms = ? WHERE node = ?")) {
            ps.setBytes(1, hb.toByteArray());
            ps.setLong(2, System.currentTimeMillis());
            ps.setString(3, node);
            ps.executeUpdate();
            connection.commit();
        } catch (SQLException e) {
            connection.rollback();
            throw e;
        }
    }

    /**
     * Stores a batch of one spool epoch in one transaction. A key not yet held is stored; one
     * held with byte-identical content (same SHA-256) is a resend; one held with other
     * content — of either kind — is a conflict: this version goes to the conflicts table, the
     * first is flagged, and the sequence is returned among the conflicts.
     *
     * @param peer who sent it (address, certificate), kept with conflicts
     */
    public synchronized AppendResult append(String node, String epoch, List<Record> records, String peer)
            throws SQLException {
        long now = System.currentTimeMillis();
        int stored = 0;
        int duplicates = 0;
        int newConflicts = 0;
        List<Long> conflicts = new ArrayList<>();
        List<Record> storedRecords = new ArrayList<>();
        long max = 0;
        try (PreparedStatement insertViolation = connection.prepareStatement("INSERT INTO violations (node, epoch,"
                + " sequence, received_ms, time_ms, rule, priority, cgroup, pid, exe, data, hash, occurrences, summary,"
                + " aggregation_key, block_kind, last_time_ms, " + String.join(", ", WORKLOAD_COLUMNS) + ")"
                + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (node, epoch, sequence) DO NOTHING");
             PreparedStatement foldIntoFirst = connection.prepareStatement("UPDATE violations SET occurrences = "
                     + (postgres ? "GREATEST" : "MAX") + "(occurrences, ?), last_time_ms = ? WHERE node = ?"
                     + " AND aggregation_key = ? AND summary = 0 AND folded = 0");
             PreparedStatement markFolded = connection.prepareStatement(
                     "UPDATE violations SET folded = 1 WHERE node = ? AND epoch = ? AND sequence = ?");
             PreparedStatement insertEvent = connection.prepareStatement("INSERT INTO events (node, epoch, sequence,"
                     + " received_ms, time_ms, data, hash, cgroup, " + String.join(", ", WORKLOAD_COLUMNS) + ", type, pid)"
                     + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                     + " ON CONFLICT (node, epoch, sequence) DO NOTHING");
             PreparedStatement selectViolation = connection.prepareStatement(
                     "SELECT hash, data FROM violations WHERE node = ? AND epoch = ? AND sequence = ?");
             PreparedStatement selectEvent = connection.prepareStatement(
                     "SELECT hash, data FROM events WHERE node = ? AND epoch = ? AND sequence = ?");
             PreparedStatement insertConflict = connection.prepareStatement("INSERT INTO conflicts (node, epoch, sequence,"
                     + " received_ms, kind, hash, data, peer) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                     + " ON CONFLICT (node, epoch, sequence, hash) DO NOTHING");
             PreparedStatement flagViolation = connection.prepareStatement(
                     "UPDATE violations SET conflicted = 1 WHERE node = ? AND epoch = ? AND sequence = ?");
             PreparedStatement flagEvent = connection.prepareStatement(
                     "UPDATE events SET conflicted = 1 WHERE node = ? AND epoch = ? AND sequence = ?")) {
            for (Record r : records) {
                long seq = r.getSequence();
                max = Math.max(max, seq);
                boolean violation = r.hasViolation();
                byte[] data = violation ? r.getViolation().toByteArray() : r.getEvent().toByteArray();
                byte[] hash = sha256.digest(data);
                PreparedStatement other = violation ? selectEvent : selectViolation;
                boolean conflict = held(other, node, epoch, seq) != null;   // the same key as the other kind
                if (!conflict) {
                    int inserted;
                    if (violation) {
                        Violation x = r.getViolation();
                        insertViolation.setString(1, node);
                        insertViolation.setString(2, epoch);
                        insertViolation.setLong(3, seq);
                        insertViolation.setLong(4, now);
                        insertViolation.setLong(5, x.getTime().getSeconds() * 1000 + x.getTime().getNanos() / 1_000_000);
                        insertViolation.setString(6, x.getRule());
                        insertViolation.setInt(7, x.getPriorityValue());
                        insertViolation.setString(8, x.getCgroupPath());
                        insertViolation.setLong(9, x.getProcess().getPid());
                        insertViolation.setString(10, x.getProcess().getExe());
                        insertViolation.setBytes(11, data);
                        insertViolation.setBytes(12, hash);
                        insertViolation.setLong(13, Math.max(1, x.getCount()));
                        insertViolation.setInt(14, x.getSummary() ? 1 : 0);
                        insertViolation.setString(15, x.getAggregationKey().isEmpty() ? null : x.getAggregationKey());
                        insertViolation.setInt(16, x.getBlockKindValue());
                        long last = x.hasLastTime() ? x.getLastTime().getSeconds() * 1000 + x.getLastTime().getNanos() / 1_000_000
                                : x.getTime().getSeconds() * 1000 + x.getTime().getNanos() / 1_000_000;
                        insertViolation.setLong(17, last);
                        bindWorkload(insertViolation, 18, x.hasWorkload() ? x.getWorkload() : x.getProcess().getWorkload());
                        inserted = insertViolation.executeUpdate();
                        if (inserted == 1 && x.getSummary() && !x.getAggregationKey().isEmpty()) {
                            foldIntoFirst.setLong(1, x.getCount());
                            foldIntoFirst.setLong(2, last);
                            foldIntoFirst.setString(3, node);
                            foldIntoFirst.setString(4, x.getAggregationKey());
                            if (foldIntoFirst.executeUpdate() > 0) {
                                markFolded.setString(1, node);
                                markFolded.setString(2, epoch);
                                markFolded.setLong(3, seq);
                                markFolded.executeUpdate();
                            }
                        }
                    } else {
                        insertEvent.setString(1, node);
                        insertEvent.setString(2, epoch);
                        insertEvent.setLong(3, seq);
                        insertEvent.setLong(4, now);
                        insertEvent.setLong(5, r.getEvent().getTime().getSeconds() * 1000
                                + r.getEvent().getTime().getNanos() / 1_000_000);
                        insertEvent.setBytes(6, data);
                        insertEvent.setBytes(7, hash);
                        io.agentguard.proto.v1.ProcessInfo p = r.getEvent().getProcess();
                        insertEvent.setString(8, p.getCgroupPath().isEmpty() ? null : p.getCgroupPath());
                        bindWorkload(insertEvent, 9, p.getWorkload());
                        insertEvent.setString(17, RecordFilter.typeName(r.getEvent().getKindCase()));
                        insertEvent.setLong(18, p.getPid());
                        inserted = insertEvent.executeUpdate();
                    }
                    if (inserted == 1) {
                        stored++;
                        storedRecords.add(r);
                        continue;
                    }
                    byte[] first = held(violation ? selectViolation : selectEvent, node, epoch, seq);
                    if (first != null && MessageDigest.isEqual(first, hash)) {
                        duplicates++;
                        continue;
                    }
                    conflict = true;
                }
                // another version under this key: keep this one beside it, flag the first, tell the sender
                insertConflict.setString(1, node);
                insertConflict.setString(2, epoch);
                insertConflict.setLong(3, seq);
                insertConflict.setLong(4, now);
                insertConflict.setString(5, violation ? "violation" : "event");
                insertConflict.setBytes(6, hash);
                insertConflict.setBytes(7, data);
                insertConflict.setString(8, peer);
                newConflicts += insertConflict.executeUpdate();
                for (PreparedStatement flag : List.of(flagViolation, flagEvent)) {
                    flag.setString(1, node);
                    flag.setString(2, epoch);
                    flag.setLong(3, seq);
                    flag.executeUpdate();
                }
                conflicts.add(seq);
            }
            try (PreparedStatement n = connection.prepareStatement(
                    "INSERT INTO spools (node, epoch, last_sequence, first_seen_ms, last_seen_ms) VALUES (?, ?, ?, ?, ?)"
                            + " ON CONFLICT (node, epoch) DO UPDATE SET last_sequence = "
                            + (postgres ? "GREATEST(spools.last_sequence, excluded.last_sequence)"
                                        : "MAX(last_sequence, excluded.last_sequence)")
                            + ", last_seen_ms = excluded.last_seen_ms")) {
                n.setString(1, node);
                n.setString(2, epoch);
                n.setLong(3, max);
                n.setLong(4, now);
                n.setLong(5, now);
                n.executeUpdate();
            }
            connection.commit();
            return new AppendResult(stored, duplicates, List.copyOf(conflicts), newConflicts, storedRecords);
        } catch (SQLException ex) {
            connection.rollback();
            throw ex;
        }
    }

    /** The SHA-256 of the content held under the key by this select (computed for rows from before hashes), or null. */
    private byte[] held(PreparedStatement select, String node, String epoch, long seq) throws SQLException {
        select.setString(1, node);
        select.setString(2, epoch);
        select.setLong(3, seq);
        try (ResultSet rs = select.executeQuery()) {
            if (!rs.next()) {
                return null;
            }
            byte[] hash = rs.getBytes(1);
            return hash != null ? hash : sha256.digest(rs.getBytes(2));
        }
    }

    /**
     * Violations matching the filter, oldest first (by id); an aggregated one once, its count
     * and last time those of its summary (the summary's own row left out).
     */
    public synchronized List<StoredViolation> query(Filter f) throws SQLException {
        return query(f, false);
    }

    /**
     * As {@link #query(Filter)}; withFoldedSummaries: the summaries folded into an earlier row
     * too (for --follow, which printed that row before the summary came).
     */
    public synchronized List<StoredViolation> query(Filter f, boolean withFoldedSummaries) throws SQLException {
        StringBuilder sql = new StringBuilder("SELECT id, node, sequence, received_ms, data, epoch, conflicted,"
                + " occurrences, last_time_ms FROM violations WHERE id > ?" + (withFoldedSummaries ? "" : " AND folded = 0"));
        List<Object> args = new ArrayList<>();
        args.add(f.afterId());
        if (f.since() != null) {
            sql.append(" AND time_ms >= ?");
            args.add(f.since().toEpochMilli());
        }
        if (f.node() != null) {
            sql.append(" AND node = ?");
            args.add(f.node());
        }
        if (f.rule() != null) {
            sql.append(" AND rule = ?");
            args.add(f.rule());
        }
        if (f.maxPriority() != null) {
            sql.append(" AND priority <= ?");   // 1 = EMERGENCY ... 8 = DEBUG: "at least this severe"
            args.add(f.maxPriority());
        }
        if (f.container() != null) {
            // hex only (checked by Filter): a prefix has no LIKE wildcards to escape; a full id is an equality
            sql.append(f.container().length() == FULL_CONTAINER_ID ? " AND container_id = ?" : " AND container_id LIKE ?");
            args.add(f.container().length() == FULL_CONTAINER_ID ? f.container() : f.container() + "%");
        }
        if (f.pod() != null) {
            sql.append(" AND pod_uid = ?");
            args.add(f.pod());
        }
        if (f.job() != null) {
            sql.append(" AND job_id = ?");
            args.add(f.job());
        }
        if (f.unit() != null) {
            sql.append(" AND unit = ?");
            args.add(f.unit());
        }
        sql.append(" ORDER BY id LIMIT ?");
        args.add(f.limit());
        List<StoredViolation> out = new ArrayList<>();
        lastQueryMaxId = f.afterId();
        try (PreparedStatement ps = connection.prepareStatement(sql.toString())) {
            for (int i = 0; i < args.size(); i++) {
                ps.setObject(i + 1, args.get(i));
            }
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    lastQueryMaxId = Math.max(lastQueryMaxId, rs.getLong(1));
                    Violation v = Violation.parseFrom(rs.getBytes(5));
                    long occurrences = rs.getLong(8);
                    if (occurrences > Math.max(1, v.getCount())) {   // a summary folded into this first occurrence
                        long lastMs = rs.getLong(9);
                        v = v.toBuilder().setCount(occurrences).setLastTime(com.google.protobuf.Timestamp.newBuilder()
                                .setSeconds(Math.floorDiv(lastMs, 1000)).setNanos((int) Math.floorMod(lastMs, 1000) * 1_000_000))
                                .build();
                    }
                    out.add(new StoredViolation(rs.getString(2), rs.getLong(3), Instant.ofEpochMilli(rs.getLong(4)),
                            v, rs.getString(6), rs.getInt(7) != 0));
                }
            }
            connection.commit();
        } catch (InvalidProtocolBufferException e) {
            throw new SQLException("a stored violation does not parse: " + e.getMessage(), e);
        }
        return out;
    }

    private long lastQueryMaxId;

    /** The highest row id the last query returned (for --follow). */
    public synchronized long lastQueryMaxId() {
        return lastQueryMaxId;
    }

    /** Sequences stored for a node (all its epochs), ascending (tests and audits). */
    public synchronized List<Long> sequences(String node, String table) throws SQLException {
        return sequences(node, null, table);
    }

    /** Sequences stored for a node and spool epoch (null: all), ascending (tests and audits). */
    public synchronized List<Long> sequences(String node, String epoch, String table) throws SQLException {
        if (!List.of("violations", "events", "conflicts").contains(table)) {
            throw new IllegalArgumentException("no table " + table);
        }
        List<Long> out = new ArrayList<>();
        try (PreparedStatement ps = connection.prepareStatement("SELECT sequence FROM " + table
                + " WHERE node = ?" + (epoch != null ? " AND epoch = ?" : "") + " ORDER BY sequence")) {
            ps.setString(1, node);
            if (epoch != null) {
                ps.setString(2, epoch);
            }
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getLong(1));
                }
            }
            connection.commit();
        }
        return out;
    }

    /**
     * Conflicting versions (optionally of one node) after the given id, oldest first, each with
     * the first version held under its key.
     */
    public synchronized List<Conflict> conflicts(String node, long afterId, int limit) throws SQLException {
        List<Conflict> out = new ArrayList<>();
        try (PreparedStatement ps = connection.prepareStatement("SELECT c.id, c.node, c.epoch, c.sequence, c.received_ms,"
                + " c.peer, c.kind, c.data FROM conflicts c WHERE c.id > ?" + (node != null ? " AND c.node = ?" : "")
                + " ORDER BY c.id LIMIT ?");
             PreparedStatement firstVersion = connection.prepareStatement("SELECT 'violation', data FROM violations"
                     + " WHERE node = ? AND epoch = ? AND sequence = ? UNION ALL SELECT 'event', data FROM events"
                     + " WHERE node = ? AND epoch = ? AND sequence = ?")) {
            int i = 1;
            ps.setLong(i++, afterId);
            if (node != null) {
                ps.setString(i++, node);
            }
            ps.setInt(i, limit);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String firstKind = null;
                    byte[] firstData = null;
                    for (int k = 0; k < 2; k++) {
                        firstVersion.setString(1 + 3 * k, rs.getString(2));
                        firstVersion.setString(2 + 3 * k, rs.getString(3));
                        firstVersion.setLong(3 + 3 * k, rs.getLong(4));
                    }
                    try (ResultSet f = firstVersion.executeQuery()) {
                        if (f.next()) {
                            firstKind = f.getString(1);
                            firstData = f.getBytes(2);
                        }
                    }
                    out.add(new Conflict(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getLong(4),
                            Instant.ofEpochMilli(rs.getLong(5)), rs.getString(6), rs.getString(7), rs.getBytes(8),
                            firstKind, firstData));
                }
            }
            connection.commit();
        }
        return out;
    }

    /** Conflicting versions held (all nodes). */
    public synchronized long conflictCount() throws SQLException {
        try (Statement s = connection.createStatement(); ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM conflicts")) {
            rs.next();
            long n = rs.getLong(1);
            connection.commit();
            return n;
        }
    }

    /** Deletes violations and events older than the instant, and conflicts received before it; returns rows deleted. */
    public synchronized long deleteOlderThan(Instant cutoff) throws SQLException {
        long deleted = 0;
        try (PreparedStatement v = connection.prepareStatement("DELETE FROM violations WHERE time_ms < ?");
             PreparedStatement e = connection.prepareStatement("DELETE FROM events WHERE time_ms < ?");
             PreparedStatement c = connection.prepareStatement("DELETE FROM conflicts WHERE received_ms < ?")) {
            v.setLong(1, cutoff.toEpochMilli());
            e.setLong(1, cutoff.toEpochMilli());
            c.setLong(1, cutoff.toEpochMilli());
            deleted += v.executeUpdate();
            deleted += e.executeUpdate();
            deleted += c.executeUpdate();
            connection.commit();
        } catch (SQLException ex) {
            connection.rollback();
            throw ex;
        }
        return deleted;
    }

    /** A stored event, decoded, with where it came from. */
    public record StoredEvent(long id, String node, String epoch, long sequence, Instant receivedAt, Event event) {
    }

    /**
     * Events after the given row id that the filter holds, oldest first (by id), at most limit.
     * Node, time, type, pid and the workload columns narrow the rows read; the filter decides
     * on the decoded event (rows from before the type and pid columns are decoded to judge).
     * {@link #lastQueryMaxId()} is then the last row id read.
     */
    public synchronized List<StoredEvent> events(RecordFilter f, long afterId, int limit) throws SQLException {
        StringBuilder sql = new StringBuilder("SELECT id, node, epoch, sequence, received_ms, data FROM events WHERE id > ?");
        List<Object> args = new ArrayList<>();
        if (f.node() != null) {
            sql.append(" AND node = ?");
            args.add(f.node());
        }
        if (f.since() != null) {
            sql.append(" AND time_ms >= ?");
            args.add(f.since().toEpochMilli());
        }
        if (f.until() != null) {
            sql.append(" AND time_ms < ?");
            args.add(f.until().toEpochMilli());
        }
        if (f.type() != null) {
            sql.append(" AND (type = ? OR type IS NULL)");
            args.add(RecordFilter.typeName(f.type()));
        }
        if (f.pid() != 0) {
            sql.append(" AND (pid = ? OR pid IS NULL)");
            args.add((long) f.pid());
        }
        if (f.container() != null) {
            sql.append(f.container().length() == FULL_CONTAINER_ID ? " AND container_id = ?" : " AND container_id LIKE ?");
            args.add(f.container().length() == FULL_CONTAINER_ID ? f.container() : f.container() + "%");
        }
        for (String[] c : new String[][] {{"pod_uid", f.pod()}, {"job_id", f.job()}, {"unit", f.unit()}}) {
            if (c[1] != null) {
                sql.append(" AND ").append(c[0]).append(" = ?");
                args.add(c[1]);
            }
        }
        sql.append(" ORDER BY id LIMIT ?");
        List<StoredEvent> out = new ArrayList<>();
        long after = afterId;
        try (PreparedStatement ps = connection.prepareStatement(sql.toString())) {
            while (out.size() < limit) {   // pages until enough match or the rows run out
                ps.setLong(1, after);
                for (int i = 0; i < args.size(); i++) {
                    ps.setObject(i + 2, args.get(i));
                }
                ps.setInt(args.size() + 2, limit);
                int read = 0;
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next() && out.size() < limit) {
                        read++;
                        after = rs.getLong(1);
                        Event e = Event.parseFrom(rs.getBytes(6));
                        if (f.matches(rs.getString(2), e)) {
                            out.add(new StoredEvent(after, rs.getString(2), rs.getString(3), rs.getLong(4),
                                    Instant.ofEpochMilli(rs.getLong(5)), e));
                        }
                    }
                }
                if (read < limit) {
                    break;
                }
            }
            connection.commit();
        } catch (InvalidProtocolBufferException e) {
            throw new SQLException("a stored event does not parse: " + e.getMessage(), e);
        }
        lastQueryMaxId = after;
        return out;
    }

    /** A node as the collector last heard it; hello and heartbeat null where none was stored. */
    public record NodeInfo(String node, String agentVersion, String kernel, String mode, long lastSeenMs,
                           AgentHello hello, Heartbeat heartbeat) {
    }

    /** Every node, by name. */
    public synchronized List<NodeInfo> nodes() throws SQLException {
        List<NodeInfo> out = new ArrayList<>();
        try (PreparedStatement ps = connection.prepareStatement("SELECT node, agent_version, kernel, mode, last_seen_ms,"
                + " hello, heartbeat FROM nodes ORDER BY node"); ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                AgentHello hello = null;
                Heartbeat hb = null;
                try {
                    hello = rs.getBytes(6) == null ? null : AgentHello.parseFrom(rs.getBytes(6));
                    hb = rs.getBytes(7) == null ? null : Heartbeat.parseFrom(rs.getBytes(7));
                } catch (InvalidProtocolBufferException e) {
                    // a damaged row: the node is still listed, with what parsed
                }
                out.add(new NodeInfo(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getLong(5),
                        hello, hb));
            }
            connection.commit();
        }
        return out;
    }

    /** There is no collector database where a query was pointed (nothing was created there). */
    public static final class NoDatabaseException extends SQLException {
        NoDatabaseException(String message) {
            super(message);
        }
    }

    /**
     * Opens a store that must exist already (queries): a SQLite file that is not there, a
     * PostgreSQL database that does not exist, or one without the collector's tables is a
     * {@link NoDatabaseException}, and nothing is created.
     */
    public static JdbcStore openExisting(String url) throws SQLException {
        String jdbc = url.startsWith("sqlite:") || url.startsWith("postgresql:") ? "jdbc:" + url : url;
        if (jdbc.startsWith("jdbc:sqlite:")) {
            String path = jdbc.substring("jdbc:sqlite:".length());
            path = path.startsWith("file:") ? path.substring("file:".length()) : path;
            path = path.indexOf('?') >= 0 ? path.substring(0, path.indexOf('?')) : path;
            if (path.isEmpty() || path.contains(":memory:") || !java.nio.file.Files.isRegularFile(java.nio.file.Path.of(path))) {
                throw new NoDatabaseException("no database at " + path);
            }
        } else if (!jdbc.startsWith("jdbc:postgresql:")) {
            return open(url);   // its own error
        }
        boolean pg = jdbc.startsWith("jdbc:postgresql:");
        try (Connection c = pg ? DriverManager.getConnection(jdbc, pgProperties()) : DriverManager.getConnection(jdbc);
             PreparedStatement ps = c.prepareStatement(pg ? "SELECT to_regclass('violations') IS NOT NULL"
                     : "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'violations'");
             ResultSet rs = ps.executeQuery()) {
            if (!rs.next() || !rs.getBoolean(1)) {
                throw new NoDatabaseException("no collector database at " + redact(url)
                        + ": it holds no collector tables (a collector creates them at its first start)");
            }
        } catch (NoDatabaseException e) {
            throw e;
        } catch (SQLException e) {
            if ("3D000".equals(e.getSQLState())) {   // invalid_catalog_name: no such database
                throw new NoDatabaseException("no database at " + redact(url) + ": " + e.getMessage());
            }
            throw e;
        }
        return open(url);
    }

    private static java.util.Properties pgProperties() {
        java.util.Properties p = new java.util.Properties();
        if (System.getenv("PGUSER") != null) {
            p.setProperty("user", System.getenv("PGUSER"));
        }
        if (System.getenv("PGPASSWORD") != null) {
            p.setProperty("password", System.getenv("PGPASSWORD"));
        }
        return p;
    }

    /** The URL without a password parameter (error messages). */
    private static String redact(String url) {
        return url.replaceAll("(?i)(password=)[^&]*", "$1***");
    }

    /** Drops everything (tests against a shared PostgreSQL). */
    public synchronized void truncate() throws SQLException {
        try (Statement s = connection.createStatement()) {
            s.execute("DELETE FROM violations");
            s.execute("DELETE FROM events");
            s.execute("DELETE FROM nodes");
            s.execute("DELETE FROM spools");
            s.execute("DELETE FROM conflicts");
        }
        connection.commit();
    }

    /** Work on the store's connection, committed as one transaction (see {@link #write}). */
    @FunctionalInterface
    public interface SqlWork<T> {
        T run(Connection c) throws SQLException;
    }

    /**
     * Runs work on this store's connection and commits it: the single writer for other parts of
     * the collector (the exports' positions), so that on SQLite their writes cannot meet this
     * connection's transactions with SQLITE_BUSY.
     */
    public synchronized <T> T write(SqlWork<T> work) throws SQLException {
        try {
            T result = work.run(connection);
            connection.commit();
            return result;
        } catch (SQLException | RuntimeException e) {
            connection.rollback();
            throw e;
        }
    }

    public boolean postgres() {
        return postgres;
    }

    @Override
    public synchronized void close() throws SQLException {
        connection.close();
    }
}
