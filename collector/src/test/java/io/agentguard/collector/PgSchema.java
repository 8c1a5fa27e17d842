package io.agentguard.collector;

import org.junit.jupiter.api.Assumptions;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.UUID;

/**
 * A schema of its own in the test PostgreSQL (scripts/postgres-for-tests.sh: AGENTGUARD_TEST_PG_URL,
 * PGUSER, PGPASSWORD), so tests neither see nor disturb each other's tables; dropped after.
 * Without that server the test is skipped, except under AGENTGUARD_REQUIRE_BPF=1 (CI), where it fails.
 */
record PgSchema(String base, String name) {
    static PgSchema create() throws Exception {
        String url = System.getenv("AGENTGUARD_TEST_PG_URL");
        if (url == null) {
            if ("1".equals(System.getenv("AGENTGUARD_REQUIRE_BPF"))) {
                throw new IllegalStateException("AGENTGUARD_TEST_PG_URL is not set: run the suite with scripts/test.sh");
            }
            Assumptions.abort("no PostgreSQL for tests (scripts/postgres-for-tests.sh provides one)");
        }
        PgSchema s = new PgSchema(url, "t_" + UUID.randomUUID().toString().replace("-", ""));
        s.execute("CREATE SCHEMA " + s.name);
        return s;
    }

    /** A JDBC URL whose tables live in this schema. */
    String url() {
        return base + (base.contains("?") ? "&" : "?") + "currentSchema=" + name;
    }

    void execute(String... sql) throws Exception {
        try (Connection c = DriverManager.getConnection(url(), System.getenv("PGUSER"), System.getenv("PGPASSWORD"));
             Statement st = c.createStatement()) {
            for (String q : sql) {
                st.execute(q);
            }
        }
    }

    void drop() throws Exception {
        execute("DROP SCHEMA " + name + " CASCADE");
    }
}
