package io.agentguard.collector;

import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.UUID;

class SqliteStoreTest extends StoreContract {
    @TempDir
    Path dir;

    @Override
    String emptyDatabase() {
        return "sqlite:" + dir.resolve(UUID.randomUUID() + ".db");
    }

    @Override
    void sql(String url, String... statements) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:" + url); Statement s = c.createStatement()) {
            for (String q : statements) {
                s.execute(q);
            }
        }
    }

    @Override
    Connection connect(String url) throws Exception {
        return DriverManager.getConnection("jdbc:" + url);
    }

    @Override
    boolean postgres() {
        return false;
    }
}
