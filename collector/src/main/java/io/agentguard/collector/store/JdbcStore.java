package io.agentguard.collector.store;

import com.google.protobuf.InvalidProtocolBufferException;
import io.agentguard.proto.v1.AgentHello;
import io.agentguard.proto.v1.Heartbeat;
import io.agentguard.proto.v1.Record;
import io.agentguard.proto.v1.Violation;

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
 * collector replicas may share one database). Each (node, sequence) is stored once: inserts
 * ignore a key already there, so resent records and racing replicas cannot duplicate.
 * A batch is one transaction: acknowledged only once committed.
 */
public final class JdbcStore implements AutoCloseable {
    /** A stored violation with where it came from. */
    public record StoredViolation(String node, long sequence, Instant receivedAt, Violation violation) {
    }

    /** Query filters; nulls mean "any". */
    public record Filter(Instant since, String node, String rule, Integer maxPriority, long afterId, int limit) {
    }

    private final Connection connection;
    private final boolean postgres;

    private JdbcStore(Connection connection, boolean postgres) throws SQLException {
        this.connection = connection;
        this.postgres = postgres;
        connection.setAutoCommit(false);
        createSchema();
    }

    /**
     * @param url "sqlite:/path/db.sqlite", a "jdbc:sqlite:" URL, or a "jdbc:postgresql://" URL
     *            (user and password as URL parameters or in the environment PGUSER/PGPASSWORD)
     */
    public static JdbcStore open(String url) throws SQLException {
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
            return new JdbcStore(c, false);
        }
        if (url.startsWith("jdbc:postgresql:") || url.startsWith("postgresql:")) {
            if (url.startsWith("postgresql:")) {
                url = "jdbc:" + url;
            }
            java.util.Properties p = new java.util.Properties();
            if (System.getenv("PGUSER") != null) {
                p.setProperty("user", System.getenv("PGUSER"));
            }
            if (System.getenv("PGPASSWORD") != null) {
                p.setProperty("password", System.getenv("PGPASSWORD"));
            }
            return new JdbcStore(DriverManager.getConnection(url, p), true);
        }
        throw new SQLException("unsupported database '" + url + "': use sqlite:/path/file.db or jdbc:postgresql://host/db");
    }

    private void createSchema() throws SQLException {
        String blob = postgres ? "BYTEA" : "BLOB";
        String id = postgres ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT";
        try (Statement s = connection.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS violations (id " + id + ", node TEXT NOT NULL, sequence BIGINT NOT NULL,"
                    + " received_ms BIGINT NOT NULL, time_ms BIGINT NOT NULL, rule TEXT NOT NULL, priority INTEGER NOT NULL,"
                    + " cgroup TEXT, pid BIGINT, exe TEXT, data " + blob + " NOT NULL, UNIQUE (node, sequence))");
            s.execute("CREATE TABLE IF NOT EXISTS events (id " + id + ", node TEXT NOT NULL, sequence BIGINT NOT NULL,"
                    + " received_ms BIGINT NOT NULL, time_ms BIGINT NOT NULL, data " + blob + " NOT NULL, UNIQUE (node, sequence))");
            s.execute("CREATE TABLE IF NOT EXISTS nodes (node TEXT PRIMARY KEY, last_sequence BIGINT NOT NULL DEFAULT 0,"
                    + " agent_version TEXT, kernel TEXT, mode TEXT, last_seen_ms BIGINT, heartbeat " + blob + ")");
            s.execute("CREATE INDEX IF NOT EXISTS violations_time ON violations (time_ms)");
            s.execute("CREATE INDEX IF NOT EXISTS violations_node_rule ON violations (node, rule)");
            s.execute("CREATE INDEX IF NOT EXISTS events_time ON events (time_ms)");
        }
        connection.commit();
    }

    /** The highest sequence stored for the node (0: none): the agent resends after it. */
    public synchronized long lastSequence(String node) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement("SELECT last_sequence FROM nodes WHERE node = ?")) {
            ps.setString(1, node);
            try (ResultSet rs = ps.executeQuery()) {
                long v = rs.next() ? rs.getLong(1) : 0;
                connection.commit();
                return v;
            }
        }
    }

    public synchronized void hello(String node, AgentHello hello) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(postgres
                ? "INSERT INTO nodes (node, agent_version, kernel, mode, last_seen_ms) VALUES (?, ?, ?, ?, ?)"
                        + " ON CONFLICT (node) DO UPDATE SET agent_version = EXCLUDED.agent_version,"
                        + " kernel = EXCLUDED.kernel, mode = EXCLUDED.mode, last_seen_ms = EXCLUDED.last_seen_ms"
                : "INSERT INTO nodes (node, agent_version, kernel, mode, last_seen_ms) VALUES (?, ?, ?, ?, ?)"
                        + " ON CONFLICT (node) DO UPDATE SET agent_version = excluded.agent_version,"
                        + " kernel = excluded.kernel, mode = excluded.mode, last_seen_ms = excluded.last_seen_ms")) {
            ps.setString(1, node);
            ps.setString(2, hello.getAgentVersion());
            ps.setString(3, hello.getKernel());
            ps.setString(4, hello.getMode());
            ps.setLong(5, System.currentTimeMillis());
            ps.executeUpdate();
            connection.commit();
        } catch (SQLException e) {
            connection.rollback();
            throw e;
        }
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
     * Stores a batch in one transaction; records already stored are ignored. Returns how many
     * were new.
     */
    public synchronized int append(String node, List<Record> records) throws SQLException {
        long now = System.currentTimeMillis();
        int inserted = 0;
        long max = 0;
        try (PreparedStatement v = connection.prepareStatement("INSERT INTO violations (node, sequence, received_ms,"
                + " time_ms, rule, priority, cgroup, pid, exe, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                + " ON CONFLICT (node, sequence) DO NOTHING");
             PreparedStatement e = connection.prepareStatement("INSERT INTO events (node, sequence, received_ms, time_ms,"
                     + " data) VALUES (?, ?, ?, ?, ?) ON CONFLICT (node, sequence) DO NOTHING")) {
            for (Record r : records) {
                max = Math.max(max, r.getSequence());
                if (r.hasViolation()) {
                    Violation x = r.getViolation();
                    v.setString(1, node);
                    v.setLong(2, r.getSequence());
                    v.setLong(3, now);
                    v.setLong(4, x.getTime().getSeconds() * 1000 + x.getTime().getNanos() / 1_000_000);
                    v.setString(5, x.getRule());
                    v.setInt(6, x.getPriorityValue());
                    v.setString(7, x.getCgroupPath());
                    v.setLong(8, x.getProcess().getPid());
                    v.setString(9, x.getProcess().getExe());
                    v.setBytes(10, x.toByteArray());
                    inserted += v.executeUpdate();
                } else {
                    e.setString(1, node);
                    e.setLong(2, r.getSequence());
                    e.setLong(3, now);
                    e.setLong(4, r.getEvent().getTime().getSeconds() * 1000 + r.getEvent().getTime().getNanos() / 1_000_000);
                    e.setBytes(5, r.getEvent().toByteArray());
                    inserted += e.executeUpdate();
                }
            }
            try (PreparedStatement n = connection.prepareStatement(postgres
                    ? "INSERT INTO nodes (node, last_sequence, last_seen_ms) VALUES (?, ?, ?) ON CONFLICT (node) DO UPDATE"
                            + " SET last_sequence = GREATEST(nodes.last_sequence, EXCLUDED.last_sequence),"
                            + " last_seen_ms = EXCLUDED.last_seen_ms"
                    : "INSERT INTO nodes (node, last_sequence, last_seen_ms) VALUES (?, ?, ?) ON CONFLICT (node) DO UPDATE"
                            + " SET last_sequence = MAX(last_sequence, excluded.last_sequence),"
                            + " last_seen_ms = excluded.last_seen_ms")) {
                n.setString(1, node);
                n.setLong(2, max);
                n.setLong(3, now);
                n.executeUpdate();
            }
            connection.commit();
            return inserted;
        } catch (SQLException ex) {
            connection.rollback();
            throw ex;
        }
    }

    /** Violations matching the filter, oldest first (by id). */
    public synchronized List<StoredViolation> query(Filter f) throws SQLException {
        StringBuilder sql = new StringBuilder("SELECT id, node, sequence, received_ms, data FROM violations WHERE id > ?");
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
                    out.add(new StoredViolation(rs.getString(2), rs.getLong(3), Instant.ofEpochMilli(rs.getLong(4)),
                            Violation.parseFrom(rs.getBytes(5))));
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

    /** Sequences stored for a node, ascending (tests and audits). */
    public synchronized List<Long> sequences(String node, String table) throws SQLException {
        List<Long> out = new ArrayList<>();
        try (PreparedStatement ps = connection.prepareStatement("SELECT sequence FROM " + table
                + " WHERE node = ? ORDER BY sequence")) {
            ps.setString(1, node);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getLong(1));
                }
            }
            connection.commit();
        }
        return out;
    }

    /** Deletes violations and events older than the instant; returns rows deleted. */
    public synchronized long deleteOlderThan(Instant cutoff) throws SQLException {
        long deleted = 0;
        try (PreparedStatement v = connection.prepareStatement("DELETE FROM violations WHERE time_ms < ?");
             PreparedStatement e = connection.prepareStatement("DELETE FROM events WHERE time_ms < ?")) {
            v.setLong(1, cutoff.toEpochMilli());
            e.setLong(1, cutoff.toEpochMilli());
            deleted += v.executeUpdate();
            deleted += e.executeUpdate();
            connection.commit();
        } catch (SQLException ex) {
            connection.rollback();
            throw ex;
        }
        return deleted;
    }

    /** Drops everything (tests against a shared PostgreSQL). */
    public synchronized void truncate() throws SQLException {
        try (Statement s = connection.createStatement()) {
            s.execute("DELETE FROM violations");
            s.execute("DELETE FROM events");
            s.execute("DELETE FROM nodes");
        }
        connection.commit();
    }

    @Override
    public synchronized void close() throws SQLException {
        connection.close();
    }
}
