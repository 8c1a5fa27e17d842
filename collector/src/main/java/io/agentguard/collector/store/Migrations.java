package io.agentguard.collector.store;

import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.MigrationInfo;
import org.flywaydb.core.api.MigrationVersion;
import org.flywaydb.core.api.output.MigrateResult;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * The collector's schema, as Flyway migrations: versioned SQL per dialect under
 * {@code io/agentguard/collector/db/sqlite} and {@code .../postgresql}, V1 to V3 the history
 * the collector had before Flyway (schema_info 1 to 3), V4 workload identity, V5 export positions, V6 the query columns. Flyway records
 * what it applied in {@code flyway_schema_history} and, on PostgreSQL, holds an advisory lock
 * while it migrates, so replicas that start together migrate once.
 * <p>
 * A database made before Flyway has no history table: its version is read the way the old
 * collector read it (schema_info; without it, a violations table is version 1) and Flyway
 * baselines there, so only the migrations after it run, on the rows in place. A database
 * newer than this code (an applied migration it does not know, or schema_info above it) is
 * refused: an older collector must not write into a schema it does not understand.
 */
final class Migrations {
    /** The advisory lock the pre-Flyway collector took too: one replica inspects and baselines at a time. */
    private static final long PG_LOCK = 4471706542L;
    static final String HISTORY = "flyway_schema_history";

    private Migrations() {
    }

    /**
     * Brings the database behind the connection up to {@code latest}; Flyway works on
     * connections of its own to the same URL (same user, password, schema).
     */
    static void migrate(Connection c, boolean postgres, String url, String user, String password, int latest)
            throws SQLException {
        if (postgres) {
            try (Statement s = c.createStatement()) {
                s.execute("SELECT pg_advisory_lock(" + PG_LOCK + ")");
            }
        }
        try {
            int legacy = tableExists(c, postgres, HISTORY) ? -1 : legacyVersion(c, postgres);
            if (legacy > latest) {
                throw newer(legacy, latest);
            }
            Flyway flyway = Flyway.configure(Migrations.class.getClassLoader())
                    .dataSource(url, user, password)
                    .locations("classpath:io/agentguard/collector/db/" + (postgres ? "postgresql" : "sqlite"))
                    .table(HISTORY)
                    // a schema from before Flyway (or a PostgreSQL schema holding other tables, legacy 0):
                    // recorded as at its version; the migrations after it run
                    .baselineOnMigrate(legacy >= 0)
                    .baselineVersion(MigrationVersion.fromVersion(Integer.toString(Math.max(legacy, 0))))
                    .baselineDescription(legacy > 0 ? "collector schema " + legacy + " from before Flyway (schema_info)"
                            : "baseline")
                    .validateMigrationNaming(true)
                    .load();
            MigrationInfo current = flyway.info().current();
            if (current != null && current.getVersion() != null
                    && current.getVersion().compareTo(MigrationVersion.fromVersion(Integer.toString(latest))) > 0) {
                throw newer(Integer.parseInt(current.getVersion().getVersion().split("\\.")[0]), latest);
            }
            MigrateResult r;
            try {
                r = flyway.migrate();
            } catch (RuntimeException e) {
                throw new SQLException("migrating the collector's schema failed: " + e.getMessage(), e);
            }
            if (r.migrationsExecuted > 0) {
                System.err.println("agentguard-collector: schema migrated from "
                        + (r.initialSchemaVersion == null ? "empty" : "version " + r.initialSchemaVersion)
                        + " to version " + r.targetSchemaVersion + " (" + r.migrationsExecuted + " migrations)");
            }
        } finally {
            if (postgres) {
                try (Statement s = c.createStatement()) {
                    s.execute("SELECT pg_advisory_unlock(" + PG_LOCK + ")");
                }
            }
        }
    }

    private static SQLException newer(int version, int latest) {
        return new SQLException("the database's schema is version " + version + ", newer than this collector's ("
                + latest + "): upgrade the collector");
    }

    /** The applied schema version (Flyway's; schema_info's before Flyway ran); 0: empty. */
    static int version(Connection c, boolean postgres) throws SQLException {
        if (tableExists(c, postgres, HISTORY)) {
            try (Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT version FROM " + HISTORY + " WHERE success"
                         + (postgres ? "" : " = 1") + " AND version IS NOT NULL ORDER BY installed_rank DESC")) {
                int max = 0;
                while (rs.next()) {
                    max = Math.max(max, Integer.parseInt(rs.getString(1).split("\\.")[0]));
                }
                return max;
            }
        }
        return legacyVersion(c, postgres);
    }

    /** As the collector before Flyway read it: schema_info's version; a violations table without it is 1; else 0. */
    private static int legacyVersion(Connection c, boolean postgres) throws SQLException {
        if (tableExists(c, postgres, "schema_info")) {
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT MAX(version) FROM schema_info")) {
                if (rs.next() && rs.getObject(1) != null) {
                    return rs.getInt(1);
                }
            }
        }
        return tableExists(c, postgres, "violations") ? 1 : 0;
    }

    private static boolean tableExists(Connection c, boolean postgres, String table) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(postgres
                ? "SELECT to_regclass(?) IS NOT NULL"     // in the search path (currentSchema), like the statements
                : "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?")) {
            ps.setString(1, table);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }
}
