package io.agentguard.daemon;

import io.agentguard.scope.Cgroup2Mount;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The daemon as systemd runs it (a separate process), against what stops or reconfigures it:
 * the watchdog pings only while the daemon works, and a reload that weakens enforcement is a
 * violation even when an agent made it.
 */
class WatchdogAndReloadServiceKernelTest {
    @BeforeAll
    static void needsRoot() {
        KernelAgentExtension.requireRoot();
    }

    private static ProcessBuilder agent(Path config, Path dir) {
        return CliProcess.runText(config, dir.resolve("out"), dir.resolve("err"));
    }

    private static String config(String relative, Path runtime, String mode) {
        return """
                agent_cgroups: [%s]
                create_missing_cgroups: true
                mode: %s
                stats_interval_ms: 0
                runtime_dir: %s
                rules: {paths: []}
                enforcement: {pin_path: ""}
                """.formatted(relative, mode, runtime);
    }

    private static String statusJson(Path runtime) {
        return CliProcess.status(runtime, true);
    }

    private static void signal(String sig, long pid) throws Exception {
        assertThat(new ProcessBuilder("kill", "-" + sig, Long.toString(pid)).start().waitFor()).isZero();
    }

    /** The next WATCHDOG=1 within seconds, or false; other messages are skipped. */
    private static boolean ping(NotifySocket notify, int seconds) throws Throwable {
        return notify.await("WATCHDOG=1", seconds) != null;
    }

    @Test
    void aStoppedDaemonStopsPingingTheWatchdogAndPingsAgainOnceContinued() throws Throwable {
        String relative = "agentguard-test/wd-" + UUID.randomUUID().toString().substring(0, 8);
        Path dir = Files.createTempDirectory("agentguard-wd");
        Path runtime = dir.resolve("run");
        Path config = dir.resolve("agentguard.yaml");
        Files.writeString(config, config(relative, runtime, "enforce"));
        try (NotifySocket notify = new NotifySocket(dir.resolve("notify.sock"))) {
            ProcessBuilder pb = agent(config, dir);
            pb.environment().put("NOTIFY_SOCKET", notify.path.toString());
            pb.environment().put("WATCHDOG_USEC", "1000000");   // WatchdogSec=1s: a ping every 500 ms
            Process p = pb.start();
            try {
                assertThat(notify.await("READY=1", 30)).as(Files.readString(dir.resolve("err"))).isNotNull();
                assertThat(ping(notify, 5)).isTrue();
                assertThat(ping(notify, 5)).isTrue();

                signal("STOP", p.pid());   // from outside the agent cgroups: nothing continues it
                Thread.sleep(300);   // a ping already in the socket is not the stopped daemon's
                while (notify.receive() != null) {
                    // drain
                }
                assertThat(ping(notify, 3)).as("a stopped daemon must not ping").isFalse();

                signal("CONT", p.pid());
                assertThat(ping(notify, 10)).isTrue();
                assertThat(statusJson(runtime)).contains("\"watchdog\"").contains("\"intervalMs\": \"1000\"");
                assertThat(Files.readString(dir.resolve("err"))).contains("watchdog: pinging systemd every 500 ms");
            } finally {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                Files.deleteIfExists(Cgroup2Mount.find().resolve(relative));
            }
        }
    }

    @Test
    void aSighupSentThroughFileAsyncIoByTheDaemonsOwnReplyIsRefusedAsAnAgents() throws Throwable {
        String relative = "agentguard-test/rf-" + UUID.randomUUID().toString().substring(0, 8);
        Path cgroup = Cgroup2Mount.find().resolve(relative);
        Path dir = Files.createTempDirectory("agentguard-rf");
        Path runtime = dir.resolve("run");
        Path config = dir.resolve("agentguard.yaml");
        Files.writeString(config, config(relative, runtime, "enforce") + "metrics: {listen: \"127.0.0.1:0\"}\n");
        try (NotifySocket notify = new NotifySocket(dir.resolve("notify.sock"))) {
            ProcessBuilder pb = agent(config, dir);
            pb.environment().put("NOTIFY_SOCKET", notify.path.toString());
            Process p = pb.start();
            try {
                assertThat(notify.await("READY=1", 30)).as(Files.readString(dir.resolve("err"))).isNotNull();
                Matcher port = Pattern.compile("metrics on 127\\.0\\.0\\.1:(\\d+)").matcher(Files.readString(dir.resolve("err")));
                assertThat(port.find()).isTrue();
                // root in the agent cgroup edits the config, then has the daemon's own metrics reply send it SIGHUP
                // (F_SETOWN + F_SETSIG SIGHUP + O_ASYNC on its end): no agent process sends the signal
                Process attacker = new ProcessBuilder("/bin/sh", "-c",
                        "echo $$ > \"$0\" && sed -i 's/^mode: enforce$/mode: monitor/' \"$1\" && exec \"$2\" sigio-own \"$3\" 1"
                                + " 127.0.0.1 \"$4\"",
                        cgroup.resolve("cgroup.procs").toString(), config.toString(),
                        KernelAgentExtension.nativeTool("attacker").toString(), Long.toString(p.pid()), port.group(1))
                        .redirectErrorStream(true).start();
                assertThat(attacker.waitFor(30, TimeUnit.SECONDS)).isTrue();
                assertThat(new String(attacker.getInputStream().readAllBytes())).startsWith("replied ");
                String err = CliProcess.awaitContains(dir.resolve("err"), "reload refused: SIGHUP");
                assertThat(err).contains("reload refused: SIGHUP from an agent cgroup");
                assertThat(Files.readString(config)).contains("mode: monitor");
                // each reply segment and the close may each send one: refused once or more, never reloaded
                assertThat(statusJson(runtime)).contains("\"mode\": \"enforce\"").contains("\"refusedReloadsTotal\"")
                        .doesNotContain("weakeningReloadsTotal");
                String out = CliProcess.awaitContains(dir.resolve("out"), "file-async");
                assertThat(out).contains("SIGHUP sent through file-async I/O; sender unknown");
            } finally {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                Files.deleteIfExists(cgroup);
            }
        }
    }

    @Test
    void aSighupFromAnAgentIsRefusedAndAnOperatorsReloadThatWeakensIsAViolation() throws Throwable {
        String relative = "agentguard-test/rw-" + UUID.randomUUID().toString().substring(0, 8);
        Path cgroup = Cgroup2Mount.find().resolve(relative);
        Path dir = Files.createTempDirectory("agentguard-rw");
        Path runtime = dir.resolve("run");
        Path config = dir.resolve("agentguard.yaml");
        Files.writeString(config, config(relative, runtime, "enforce"));
        try (NotifySocket notify = new NotifySocket(dir.resolve("notify.sock"))) {
            ProcessBuilder pb = agent(config, dir);
            pb.environment().put("NOTIFY_SOCKET", notify.path.toString());
            Process p = pb.start();
            try {
                assertThat(notify.await("READY=1", 30)).as(Files.readString(dir.resolve("err"))).isNotNull();
                // root in the agent cgroup: the file is root's, so it can write it (docs/OPERATIONS.md says how not to)
                Process attacker = new ProcessBuilder("/bin/sh", "-c",
                        "echo $$ > \"$0\" && sed -i 's/^mode: enforce$/mode: monitor/' \"$1\" && kill -HUP \"$2\"; sleep 5",
                        cgroup.resolve("cgroup.procs").toString(), config.toString(), Long.toString(p.pid())).start();
                assertThat(attacker.waitFor(30, TimeUnit.SECONDS)).isTrue();
                assertThat(attacker.exitValue()).as("the SIGHUP's sender is killed").isEqualTo(128 + 9);
                String err = CliProcess.awaitContains(dir.resolve("err"), "reload refused: SIGHUP");
                assertThat(err).contains("reload refused: SIGHUP from an agent cgroup");
                assertThat(Files.readString(config)).contains("mode: monitor");
                assertThat(statusJson(runtime)).contains("\"mode\": \"enforce\"").contains("\"refusedReloadsTotal\": \"1\"")
                        .doesNotContain("weakeningReloadsTotal");

                // the operator's reload of the same file goes through, and is a violation
                signal("HUP", p.pid());
                assertThat(notify.await("RELOADING=1", 30)).isNotNull();
                assertThat(notify.await("READY=1", 30)).isNotNull();
                String out = CliProcess.awaitContains(dir.resolve("out"), "enforcement weakened by reload");
                assertThat(out).contains("agentguard: enforcement weakened by reload").contains("mode enforce -> monitor");
                assertThat(statusJson(runtime)).contains("\"mode\": \"monitor\"")
                        .contains("\"weakeningReloadsTotal\": \"1\"");
            } finally {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                Files.deleteIfExists(cgroup);
            }
        }
    }
}
