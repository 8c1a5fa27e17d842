package io.agentguard.collector;

import io.agentguard.collector.store.JdbcStore;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.UUID;

class SqliteStoreTest extends StoreContract {
    @TempDir
    Path dir;

    @Override
    JdbcStore store() throws Exception {
        return JdbcStore.open("sqlite:" + dir.resolve(UUID.randomUUID() + ".db"));
    }
}
