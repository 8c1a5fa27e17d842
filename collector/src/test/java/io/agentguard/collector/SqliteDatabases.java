package io.agentguard.collector;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.UUID;

/** Empty SQLite databases for the contract tests: a file not yet created under the test's directory. */
final class SqliteDatabases {
    private SqliteDatabases() {
    }

    static String create(Path dir) {
        return "sqlite:" + dir.resolve(UUID.randomUUID() + ".db");
    }

    static void sql(String url, String... statements) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:" + url); Statement s = c.createStatement()) {
            for (String q : statements) {
                s.execute(q);
            }
        }
    }
}
