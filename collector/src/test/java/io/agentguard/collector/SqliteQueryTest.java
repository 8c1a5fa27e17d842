package io.agentguard.collector;

import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

class SqliteQueryTest extends QueryContract {
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
    List<String> missingDatabases() throws Exception {
        Files.createDirectories(dir.resolve("empty"));
        Files.createFile(dir.resolve("empty/zero.db"));   // a file, but no collector's tables in it
        return List.of("sqlite:" + dir.resolve("typo/collector.db"), "sqlite:" + dir.resolve("collectr.db"),
                "sqlite:" + dir.resolve("empty/zero.db"));
    }

    @Override
    boolean created(String url) throws Exception {
        Path p = Path.of(url.substring("sqlite:".length()));
        return p.getFileName().toString().equals("zero.db") ? Files.size(p) > 0 : Files.exists(p)
                || Files.exists(p.getParent()) && !p.getParent().equals(dir);
    }
}
