package io.agentguard.collector;

import io.agentguard.collector.store.JdbcStore;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.ArrayList;
import java.util.List;

/**
 * The store contract against a real PostgreSQL server, which scripts/test.sh (and so CI)
 * starts: AGENTGUARD_TEST_PG_URL, PGUSER, PGPASSWORD; each store in a schema of its own
 * ({@link PgSchema}). Without them the tests are skipped, except under
 * AGENTGUARD_REQUIRE_BPF=1 (CI), where they fail.
 */
class PostgresStoreTest extends StoreContract {
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
    java.sql.Connection connect(String url) throws Exception {
        return java.sql.DriverManager.getConnection(url, System.getenv("PGUSER"), System.getenv("PGPASSWORD"));
    }

    /**
     * Replicas that start together on one database migrate it once: Flyway's lock, and ours
     * around reading a schema from before Flyway and baselining it.
     */
    @org.junit.jupiter.api.Test
    void collectorsStartingTogetherOnOneDatabaseMigrateItOnce() throws Exception {
        for (boolean legacy : List.of(false, true)) {
            String url = emptyDatabase();
            if (legacy) {
                sql(url, legacyV3());
            }
            int replicas = 4;
            var start = new java.util.concurrent.CyclicBarrier(replicas);
            var pool = java.util.concurrent.Executors.newFixedThreadPool(replicas);
            try {
                List<java.util.concurrent.Future<Integer>> opened = new ArrayList<>();
                for (int i = 0; i < replicas; i++) {
                    opened.add(pool.submit(() -> {
                        start.await();
                        try (JdbcStore s = JdbcStore.open(url)) {
                            return s.schemaVersion();
                        }
                    }));
                }
                for (var f : opened) {
                    org.assertj.core.api.Assertions.assertThat(f.get()).isEqualTo(JdbcStore.SCHEMA_VERSION);
                }
            } finally {
                pool.shutdownNow();
            }
            org.assertj.core.api.Assertions.assertThat(rows(url,
                    "SELECT version, COUNT(*) FROM flyway_schema_history GROUP BY version ORDER BY version"))
                    .as(legacy ? "from schema 3" : "empty").containsExactlyElementsOf(legacy
                            ? List.of(List.of("3", "1"), List.of("4", "1"), List.of("5", "1"), List.of("6", "1"))
                            : List.of(List.of("1", "1"), List.of("2", "1"), List.of("3", "1"), List.of("4", "1"),
                                    List.of("5", "1"), List.of("6", "1")));
            org.assertj.core.api.Assertions.assertThat(rows(url, "SELECT COUNT(*) FROM schema_info"))
                    .containsExactly(List.of("1"));
        }
    }

    @Override
    boolean postgres() {
        return true;
    }
}
