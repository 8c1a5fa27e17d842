package io.agentguard.daemon;

import io.agentguard.scope.Cgroup2Mount;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The daemon checks its own paths at start and on reload: a configuration file anyone can
 * write (chmod 666, as an agent's root shell would leave it to edit it later) is reported in
 * the log, in status and as a violation, each time; made safe again, status says "paths: ok".
 */
class GuardPathsKernelTest {
    @BeforeAll
    static void needsRoot() {
        KernelAgentExtension.requireRoot();
    }

    private static String status(Path runtime) {
        return CliProcess.status(runtime, false);
    }

    private static String awaitIn(Path file, String text, int times) throws Exception {
        for (int i = 0; i < 3000; i++) {
            String s = Files.exists(file) ? Files.readString(file) : "";
            if (s.split(java.util.regex.Pattern.quote(text), -1).length - 1 >= times) {
                return s;
            }
            Thread.sleep(10);
        }
        return Files.readString(file);
    }

    @Test
    void worldWritableConfigIsReportedAtStartAndAtReload() throws Exception {
        String relative = "agentguard-test/paths-" + UUID.randomUUID().toString().substring(0, 8);
        Path cgroup = Cgroup2Mount.find().resolve(relative);
        Path dir = Files.createTempDirectory("agentguard-paths");
        Path runtime = dir.resolve("run");
        Path config = dir.resolve("agentguard.yaml");
        Files.writeString(config, """
                agent_cgroups: [%s]
                create_missing_cgroups: true
                stats_interval_ms: 0
                runtime_dir: %s
                metrics: {listen: ""}
                rules: {paths: []}
                enforcement: {pin_path: ""}
                """.formatted(relative, runtime));
        Files.setPosixFilePermissions(config, PosixFilePermissions.fromString("rw-rw-rw-"));
        Path out = dir.resolve("out");
        Path err = dir.resolve("err");
        Process p = CliProcess.runText(config, out, err).start();
        String unsafe = "configuration " + config + ": is writable by others (mode 0666)";
        try {
            String log = awaitIn(err, "unsafe guard path (start): " + unsafe, 1);
            assertThat(log).contains("unsafe guard path (start): " + unsafe);
            assertThat(awaitIn(out, "agentguard: unsafe guard path", 1)).contains(unsafe);
            assertThat(status(runtime)).contains("paths: 1 unsafe (checked at start)").contains("UNSAFE: " + unsafe);

            new ProcessBuilder("kill", "-HUP", String.valueOf(p.pid())).start().waitFor();
            assertThat(awaitIn(err, "unsafe guard path (reload (SIGHUP)): " + unsafe, 1))
                    .contains("unsafe guard path (reload (SIGHUP)): " + unsafe);
            assertThat(awaitIn(out, "agentguard: unsafe guard path", 2).split("agentguard: unsafe guard path", -1))
                    .hasSize(3);

            Files.setPosixFilePermissions(config, PosixFilePermissions.fromString("rw-------"));
            new ProcessBuilder("kill", "-HUP", String.valueOf(p.pid())).start().waitFor();
            assertThat(awaitIn(err, "paths: ok (reload (SIGHUP))", 1)).contains("paths: ok (reload (SIGHUP))");
            assertThat(status(runtime)).contains("paths: ok (checked at reload (SIGHUP))");
        } finally {
            p.destroy();
            if (!p.waitFor(15, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
            Files.deleteIfExists(cgroup);
        }
    }
}
