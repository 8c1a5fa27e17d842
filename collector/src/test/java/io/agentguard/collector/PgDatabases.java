package io.agentguard.collector;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.ArrayList;
import java.util.List;

/** Empty PostgreSQL databases for the contract tests: a schema of its own each ({@link PgSchema}), dropped after the test. */
final class PgDatabases implements AfterEachCallback {
    private final List<PgSchema> schemas = new ArrayList<>();

    String create() throws Exception {
        PgSchema s = PgSchema.create();
        schemas.add(s);
        return s.url();
    }

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
    public void afterEach(ExtensionContext context) throws Exception {
        for (PgSchema s : schemas) {
            s.drop();
        }
        schemas.clear();
    }
}
