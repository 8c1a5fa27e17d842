package io.agentguard.collector;

import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;

class SqliteStoreTest extends StoreContract {
    @TempDir
    Path dir;

    @Override
    String emptyDatabase() {
        return SqliteDatabases.create(dir);
    }

    @Override
    void sql(String url, String... statements) throws Exception {
        SqliteDatabases.sql(url, statements);
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
