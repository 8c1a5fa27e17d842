package io.agentguard.collector;

import io.agentguard.collector.store.JdbcStore;
import org.junit.jupiter.api.Assumptions;

/**
 * The store contract against a real PostgreSQL server, which scripts/test.sh (and so CI)
 * starts: AGENTGUARD_TEST_PG_URL, PGUSER, PGPASSWORD. Without them the tests are skipped,
 * except under AGENTGUARD_REQUIRE_BPF=1 (CI), where they fail.
 */
class PostgresStoreTest extends StoreContract {
    @Override
    JdbcStore store() throws Exception {
        String url = System.getenv("AGENTGUARD_TEST_PG_URL");
        if (url == null) {
            if ("1".equals(System.getenv("AGENTGUARD_REQUIRE_BPF"))) {
                throw new IllegalStateException("AGENTGUARD_TEST_PG_URL is not set: run the suite with scripts/test.sh");
            }
            Assumptions.abort("no PostgreSQL for tests (scripts/postgres-for-tests.sh provides one)");
        }
        JdbcStore s = JdbcStore.open(url);
        s.truncate();
        return s;
    }
}
