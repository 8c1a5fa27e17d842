package io.agentguard.collector.export;

import io.agentguard.collector.store.JdbcStore;
import io.agentguard.proto.v1.Violation;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;

/**
 * What an export persists: its position (the id of the last violation it is done with:
 * delivered, filtered out or dead-lettered) and its dead letters. Each export reads on its own
 * connection (auto-commit; on PostgreSQL it also holds the export's lease); writes go through
 * the collector store's connection, the database's single writer (on SQLite a second writer
 * would meet the store's transactions with SQLITE_BUSY). Each position write is committed on
 * its own.
 */
public final class ExportStore implements AutoCloseable {
    /** A stored violation as the export reads it. */
    public record Row(long id, String node, Violation violation) {
    }

    private final Connection connection;
    private final JdbcStore writer;
    private final boolean postgres;
    private final String export;
    private final long lockKey;

    /** reader: the export's own connection (closed with this); writer: the collector's store. */
    public ExportStore(Connection connection, JdbcStore writer, String export) throws SQLException {
        this.connection = connection;
        this.writer = writer;
        this.postgres = connection.getMetaData().getURL().startsWith("jdbc:postgresql:");
        this.export = export;
        CRC32 crc = new CRC32();
        crc.update(export.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        // a namespace in the high half so that an export's lock cannot collide with the schema lock
        this.lockKey = (0x61674578L << 32) | crc.getValue();
        connection.setAutoCommit(true);   // the tables: Flyway migration V5 (JdbcStore opened the database)
    }

    /**
     * Takes the export's lease: on PostgreSQL a session advisory lock, so that of several
     * replicas sharing the database one delivers this export at a time (the lock goes with the
     * connection if the replica dies). SQLite: one collector owns the file; always true.
     */
    public boolean tryLease() throws SQLException {
        if (!postgres) {
            return true;
        }
        try (PreparedStatement ps = connection.prepareStatement("SELECT pg_try_advisory_lock(?)")) {
            ps.setLong(1, lockKey);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    public boolean postgres() {
        return postgres;
    }

    /** The position: 0 for a new export (it starts from the oldest violation held). */
    public long position() throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(
                "SELECT last_violation_id FROM export_positions WHERE export = ?")) {
            ps.setString(1, export);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getLong(1) : 0;
            }
        }
    }

    public void advance(long violationId) throws SQLException {
        writer.write(c -> {
            advance(c, violationId);
            return null;
        });
    }

    private void advance(Connection c, long violationId) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO export_positions (export, last_violation_id,"
                + " updated_ms) VALUES (?, ?, ?) ON CONFLICT (export) DO UPDATE SET last_violation_id ="
                + " excluded.last_violation_id, updated_ms = excluded.updated_ms")) {
            ps.setString(1, export);
            ps.setLong(2, violationId);
            ps.setLong(3, System.currentTimeMillis());
            ps.executeUpdate();
        }
    }

    /** Records a violation given up on and moves the position past it, in one transaction. */
    public void deadLetter(long violationId, int attempts, String reason) throws SQLException {
        writer.write(c -> {
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO export_dead_letters (export, violation_id,"
                    + " dead_ms, attempts, reason) VALUES (?, ?, ?, ?, ?)")) {
                ps.setString(1, export);
                ps.setLong(2, violationId);
                ps.setLong(3, System.currentTimeMillis());
                ps.setInt(4, attempts);
                ps.setString(5, reason.length() > 1000 ? reason.substring(0, 1000) : reason);
                ps.executeUpdate();
            }
            advance(c, violationId);
            return null;
        });
    }

    public long deadLetterCount() throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement("SELECT COUNT(*) FROM export_dead_letters WHERE export = ?")) {
            ps.setString(1, export);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    /** Up to limit violations after the position, by id. */
    public List<Row> after(long position, int limit) throws SQLException {
        List<Row> rows = new ArrayList<>();
        try (PreparedStatement ps = connection.prepareStatement(
                "SELECT id, node, data FROM violations WHERE id > ? ORDER BY id LIMIT ?")) {
            ps.setLong(1, position);
            ps.setInt(2, limit);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    Violation v;
                    try {
                        v = Violation.parseFrom(rs.getBytes(3));
                    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                        v = null;   // dead-lettered by the exporter as unformattable
                    }
                    rows.add(new Row(rs.getLong(1), rs.getString(2), v));
                }
            }
        }
        return rows;
    }

    /** Violations held after the position (the lag metric). */
    public long behind(long position) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement("SELECT COUNT(*) FROM violations WHERE id > ?")) {
            ps.setLong(1, position);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    /**
     * PostgreSQL only: whether an id below one already visible may still appear. Ids come from a
     * sequence when a row is inserted but become visible at commit, so with two replicas (or a
     * rolled-back insert, or ON CONFLICT DO NOTHING, which uses up an id) the ids seen can have
     * holes. A hole is final once no other session that could hold an id from before it has an
     * open write: none has a transaction id and none is running a statement that began before
     * seenAtMs (the database clock when the hole was seen).
     */
    public boolean holeMayFill(java.sql.Timestamp seenAt) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement("SELECT COUNT(*) FROM pg_stat_activity"
                + " WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                + " AND (backend_xid IS NOT NULL OR (state = 'active' AND xact_start <= ?))")) {
            ps.setTimestamp(1, seenAt);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1) > 0;
            }
        }
    }

    public java.sql.Timestamp databaseNow() throws SQLException {
        try (Statement s = connection.createStatement(); ResultSet rs = s.executeQuery("SELECT now()")) {
            rs.next();
            return rs.getTimestamp(1);
        }
    }

    @Override
    public void close() throws SQLException {
        connection.close();
    }
}
