package io.agentguard.daemon;

import io.agentguard.cli.Main;
import io.agentguard.scope.Cgroup2Mount;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Enforcement outlives the daemon: after kill -9 the pinned hooks still deny, a restarted
 * daemon adopts them (and delivers what the ring held meanwhile), and unload removes them.
 * The daemon runs as a real separate process here.
 */
class PinningKernelTest {
    @BeforeAll
    static void needsRoot() {
        KernelAgentExtension.requireRoot();
    }

    private static Process startAgent(Path config, Path out, Path err) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        return new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), "run", "--config", config.toString(),
                "--format", "text").redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    }

    private static void awaitWatching(Process agent, Path err) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            if (Files.readString(err).contains("; watching")) {
                return;
            }
            assertThat(agent.isAlive()).as(Files.readString(err)).isTrue();
            Thread.sleep(50);
        }
        throw new AssertionError("agent did not start: " + Files.readString(err));
    }

    private static String connect(Path cgroup) throws Exception {
        Process p = new ProcessBuilder("/bin/sh", "-c", "echo $$ > \"$0\" && exec \"$@\"",
                cgroup.resolve("cgroup.procs").toString(), KernelAgentExtension.nativeTool("connector").toString(),
                "tcp4", "127.66.9.1", "80").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        p.waitFor();
        return out;
    }

    @Test
    void enforcementSurvivesKillNineAndARestartAdoptsIt() throws Exception {
        String id = UUID.randomUUID().toString().substring(0, 8);
        String relative = "agentguard-test/pin-" + id;
        Path cgroup = Cgroup2Mount.find().resolve(relative);
        Path pins = Path.of("/sys/fs/bpf/agentguard-test-" + id);
        Path dir = Files.createTempDirectory("agentguard-pin");
        Path config = dir.resolve("agentguard.yaml");
        Files.writeString(config, """
                agent_cgroups: [%s]
                create_missing_cgroups: true
                stats_interval_ms: 0
                rules: {paths: []}
                policies:
                  default:
                    egress: {default: allow, deny: [127.66.9.0/24]}
                enforcement:
                  pin_path: %s
                runtime_dir: %s
                metrics: {listen: ""}
                """.formatted(relative, pins, dir.resolve("run")));
        Path out1 = dir.resolve("out1");
        Path err1 = dir.resolve("err1");
        Process first = startAgent(config, out1, err1);
        try {
            awaitWatching(first, err1);
            assertThat(connect(cgroup)).isEqualTo("EPERM");

            first.destroyForcibly();   // SIGKILL: no cleanup at all
            assertThat(first.waitFor(10, TimeUnit.SECONDS)).isTrue();
            assertThat(connect(cgroup)).as("still denied with no agent running").isEqualTo("EPERM");

            Path out2 = dir.resolve("out2");
            Path err2 = dir.resolve("err2");
            Process second = startAgent(config, out2, err2);
            try {
                awaitWatching(second, err2);
                assertThat(Files.readString(err2)).containsPattern("hook pinning: .*: \\d+ attachments adopted from a"
                        + " previous run, 0 made now");
                assertThat(connect(cgroup)).isEqualTo("EPERM");
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (Files.readAllLines(out2).stream().filter(l -> l.contains("connect 127.66.9.1:80")).count() < 2
                        && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
                // the connect made while no agent ran waited in the pinned ring and is delivered now (and the
                // first one too, if the killed agent had not consumed it yet): nothing is lost
                assertThat(Files.readAllLines(out2).stream().filter(l -> l.contains("connect 127.66.9.1:80 stream denied")))
                        .hasSizeBetween(2, 3);
            } finally {
                second.destroy();
                second.waitFor(20, TimeUnit.SECONDS);
            }
            assertThat(connect(cgroup)).as("a clean stop keeps enforcement too").isEqualTo("EPERM");
            assertThat(Main.execute("unload", "--pin-path", pins.toString())).isZero();
            assertThat(pins).doesNotExist();
            assertThat(connect(cgroup)).isEqualTo("ECONNREFUSED");
        } finally {
            first.destroyForcibly();
            if (Files.exists(pins)) {
                Main.execute("unload", "--pin-path", pins.toString());
            }
            Files.deleteIfExists(cgroup);
        }
    }

}
