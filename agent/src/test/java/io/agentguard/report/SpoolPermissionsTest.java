package io.agentguard.report;

import io.agentguard.proto.v1.Record;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** A user-set spool directory holds violations (command lines, tokens): nobody but the daemon's user reads it. */
class SpoolPermissionsTest {
    @Test
    void aSpoolDirectoryTheAgentCreatesIs0700AndItsFiles0600(@TempDir Path dir) throws Exception {
        Path spoolDir = dir.resolve("var/spool/agentguard");   // the parents are created too
        try (Spool spool = new Spool(spoolDir, 1 << 20, 1L << 30)) {
            spool.write(List.of(Record.newBuilder().setViolation(ReportingTest.violation(1)),
                    Record.newBuilder().setViolation(ReportingTest.violation(2))));
            spool.force();
            spool.ack(1);
        }
        for (Path d : List.of(dir.resolve("var"), dir.resolve("var/spool"), spoolDir)) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(d))).as(d.toString()).isEqualTo("rwx------");
        }
        List<Path> files;
        try (Stream<Path> s = Files.list(spoolDir)) {
            files = s.toList();
        }
        assertThat(files).extracting(p -> p.getFileName().toString()).contains("epoch", "acked")
                .anyMatch(n -> n.startsWith("seg-"));
        for (Path f : files) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).as(f.toString()).isEqualTo("rw-------");
        }
    }
}
