package io.agentguard.collector;

import io.agentguard.collector.store.JdbcStore;
import org.junit.jupiter.api.AfterEach;

import java.util.ArrayList;
import java.util.List;

/**
 * The store contract against a real PostgreSQL server, which scripts/test.sh (and so CI)
 * starts: AGENTGUARD_TEST_PG_URL, PGUSER, PGPASSWORD; each store in a schema of its own
 * ({@link PgSchema}). Without them the tests are skipped, except under
 * AGENTGUARD_REQUIRE_BPF=1 (CI), where they fail.
 */
class PostgresStoreTest extends StoreContract {
    private final List<PgSchema> schemas = new ArrayList<>();

    @Override
    String emptyDatabase() throws Exception {
        PgSchema s = PgSchema.create();
        schemas.add(s);
        return s.url();
    }

    @Override
    void sql(String url, String... statements) throws Exception {
        for (PgSchema s : schemas) {
            if (s.url().equals(url)) {
                s.execute(statements);
                return;
            }
        }
        throw new IllegalArgumentException(url);
    }

    @Override
    boolean postgres() {
        return true;
    }

    @AfterEach
    void dropSchemas() throws Exception {
        for (PgSchema s : schemas) {
            s.drop();
        }
    }
}
