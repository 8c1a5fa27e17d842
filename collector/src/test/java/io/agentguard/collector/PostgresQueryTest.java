package io.agentguard.collector;

import org.junit.jupiter.api.extension.RegisterExtension;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.util.List;
import java.util.UUID;

/** The query contract on a real PostgreSQL (scripts/postgres-for-tests.sh), each test in a schema of its own. */
class PostgresQueryTest extends QueryContract {
    @RegisterExtension
    final PgDatabases databases = new PgDatabases();

    @Override
    String emptyDatabase() throws Exception {
        return databases.create();
    }

    @Override
    void sql(String url, String... statements) throws Exception {
        databases.sql(url, statements);
    }

    @Override
    List<String> missingDatabases() throws Exception {
        String empty = emptyDatabase();   // a schema without the collector's tables
        String base = System.getenv("AGENTGUARD_TEST_PG_URL");
        String noDb = base.substring(0, base.lastIndexOf('/') + 1) + "agentguard_no_such_db_" + UUID.randomUUID()
                .toString().substring(0, 8);
        return List.of(empty, noDb);
    }

    @Override
    boolean created(String url) throws Exception {
        String base = System.getenv("AGENTGUARD_TEST_PG_URL");
        try (Connection c = DriverManager.getConnection(base, System.getenv("PGUSER"), System.getenv("PGPASSWORD"))) {
            if (url.contains("currentSchema=")) {
                String schema = url.substring(url.indexOf("currentSchema=") + "currentSchema=".length());
                try (ResultSet rs = c.createStatement().executeQuery("SELECT COUNT(*) FROM information_schema.tables"
                        + " WHERE table_schema = '" + schema + "'")) {
                    rs.next();
                    return rs.getInt(1) > 0;
                }
            }
            String name = url.substring(url.lastIndexOf('/') + 1);
            try (ResultSet rs = c.createStatement().executeQuery("SELECT COUNT(*) FROM pg_database WHERE datname = '"
                    + name + "'")) {
                rs.next();
                return rs.getInt(1) > 0;
            }
        }
    }
}
