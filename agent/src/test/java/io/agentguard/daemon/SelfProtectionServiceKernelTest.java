package io.agentguard.daemon;

import com.google.protobuf.util.JsonFormat;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.TamperKind;
import io.agentguard.proto.v1.Violation;
import io.agentguard.scope.AgentCgroups;
import io.agentguard.scope.Cgroup2Mount;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Stopping and freezing the daemon: it must run as a process of its own, in a cgroup of its
 * own (outside the agent cgroups), as systemd runs it; events and violations come back as
 * JSON lines. Enforcement (the kernel's) holds meanwhile.
 */
class SelfProtectionServiceKernelTest {
    private static final String DENIED = "127.66.12.1";

    private Path dir;
    private Path agentRoot;
    private Path daemonCgroup;
    private Path output;
    private Process daemon;
    private NotifySocket notify;

    @BeforeEach
    void startDaemon() throws Throwable {
        KernelAgentExtension.requireRoot();
        String id = UUID.randomUUID().toString().substring(0, 8);
        Path mount = Cgroup2Mount.find();
        String relative = "agentguard-test/sp-" + id;
        agentRoot = mount.resolve(relative);
        daemonCgroup = mount.resolve("agentguard-test/sp-daemon-" + id);
        Files.createDirectories(daemonCgroup);
        dir = Files.createTempDirectory("agentguard-selfprot");
        output = dir.resolve("out.jsonl");
        Path config = dir.resolve("agentguard.yaml");
        Files.writeString(config, """
                mode: enforce
                agent_cgroups: [%s]
                create_missing_cgroups: true
                stats_interval_ms: 0
                runtime_dir: %s
                metrics: {listen: "127.0.0.1:0"}
                rules: {paths: []}
                enforcement: {pin_path: ""}
                policies:
                  default:
                    egress: {default: allow, deny: [127.66.12.0/24]}
                """.formatted(relative, dir.resolve("run")));
        notify = new NotifySocket(dir.resolve("notify.sock"));
        ProcessBuilder pb = new ProcessBuilder(AgentCgroups.argvInside(daemonCgroup, CliProcess.argv("run", "--config",
                config.toString(), "--format", "json", "--output", output.toString())))
                .redirectOutput(dir.resolve("stdout").toFile()).redirectError(dir.resolve("stderr").toFile());
        pb.environment().put("NOTIFY_SOCKET", notify.path.toString());
        daemon = pb.start();
        assertThat(notify.await("READY=1", 60)).as(Files.readString(dir.resolve("stderr"))).isNotNull();
    }

    @AfterEach
    void stopDaemon() throws Exception {
        if (daemonCgroup != null && Files.exists(daemonCgroup.resolve("cgroup.freeze"))) {
            Files.writeString(daemonCgroup.resolve("cgroup.freeze"), "0");
        }
        if (daemon != null) {
            daemon.destroy();
            new ProcessBuilder("kill", "-CONT", String.valueOf(daemon.pid())).start().waitFor();
            if (!daemon.waitFor(30, TimeUnit.SECONDS)) {
                daemon.destroyForcibly().waitFor();
            }
        }
        if (notify != null) {
            notify.close();
        }
        for (Path cg : List.of(agentRoot, daemonCgroup)) {
            if (cg != null && Files.exists(cg)) {
                try (var children = Files.list(cg)) {
                    for (Path child : children.filter(Files::isDirectory).toList()) {
                        Files.deleteIfExists(child);
                    }
                }
                Files.deleteIfExists(cg);
            }
        }
    }

    private int daemonPid() {
        return (int) daemon.pid();
    }

    private Path agentCgroup(String name) throws IOException {
        Path cg = agentRoot.resolve(name);
        Files.createDirectories(cg);
        return cg;
    }

    private record Run(int exitStatus, String stdout, int pid) {
    }

    private static Run runIn(Path cgroup, String... argv) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(AgentCgroups.argvInside(cgroup, List.of(argv))).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return new Run(p.exitValue(), out, (int) p.pid());
    }

    private List<Violation> violations() throws IOException {
        List<Violation> found = new ArrayList<>();
        for (String line : Files.readAllLines(output)) {
            if (line.contains("\"rule\"")) {
                Violation.Builder b = Violation.newBuilder();
                JsonFormat.parser().ignoringUnknownFields().merge(line, b);
                found.add(b.build());
            }
        }
        return found;
    }

    private List<Event> events() throws IOException {
        List<Event> found = new ArrayList<>();
        for (String line : Files.readAllLines(output)) {
            if (!line.isBlank() && !line.contains("\"rule\"")) {
                Event.Builder b = Event.newBuilder();
                JsonFormat.parser().ignoringUnknownFields().merge(line, b);
                found.add(b.build());
            }
        }
        return found;
    }

    private Violation awaitViolation(Predicate<Violation> filter) throws Exception {
        for (int i = 0; i < 300; i++) {
            for (Violation v : violations()) {
                if (filter.test(v)) {
                    return v;
                }
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no such violation; the daemon wrote " + violations() + "; stderr: "
                + Files.readString(dir.resolve("stderr")));
    }

    private Event awaitEvent(Predicate<Event> filter) throws Exception {
        for (int i = 0; i < 300; i++) {
            for (Event e : events()) {
                if (filter.test(e)) {
                    return e;
                }
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no such event (is the daemon stopped? state " + state() + ")");
    }

    /** The daemon's state letter in /proc/PID/stat: T when stopped. */
    private String state() throws IOException {
        String stat = Files.readString(Path.of("/proc/" + daemonPid() + "/stat"));
        return stat.substring(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    }

    private static String connector() {
        return KernelAgentExtension.nativeTool("connector").toString();
    }

    @Test
    void aStopSignalFromAnAgentCgroupIsUndoneAtOnceAndItsSenderKilled() throws Exception {
        Path cg = agentCgroup("stopper");
        Run stopper = runIn(cg, "/bin/sh", "-c", "kill -STOP " + daemonPid() + "; echo survived");
        assertThat(stopper.stdout()).doesNotContain("survived");
        assertThat(stopper.exitStatus()).isEqualTo(128 + 9);

        // running again by itself: its violation names the sender, and later events are classified
        Violation v = awaitViolation(x -> x.getRule().equals("agentguard: tampering with the agent stopped")
                && x.getProcess().getPid() == stopper.pid());
        Event tamper = v.getEvidence(0);
        assertThat(tamper.getTamper().getKind()).isEqualTo(TamperKind.TAMPER_KIND_STOP);
        assertThat(tamper.getTamper().getSignalName()).isEqualTo("SIGSTOP");
        assertThat(tamper.getTamper().getContinued()).isTrue();
        Run later = runIn(agentCgroup("later"), connector(), "tcp4", DENIED, "80");
        assertThat(later.stdout()).isEqualTo("EPERM\n");
        awaitEvent(e -> e.hasConnect() && e.getProcess().getPid() == later.pid());
        assertThat(state()).isNotEqualTo("T");
    }

    /** The daemon's metrics port, from its log line "metrics on 127.0.0.1:PORT". */
    private int metricsPort() throws Exception {
        for (int i = 0; i < 200; i++) {
            Matcher m = Pattern.compile("metrics on 127\\.0\\.0\\.1:(\\d+)").matcher(Files.readString(dir.resolve("stderr")));
            if (m.find()) {
                return Integer.parseInt(m.group(1));
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no metrics line: " + Files.readString(dir.resolve("stderr")));
    }

    @Test
    void aStopSignalSentThroughFileAsyncIoByTheDaemonsOwnReplyIsUndoneAndReportedWithItsSenderUnknown() throws Exception {
        // the agent makes the daemon the owner of its end of a metrics connection (F_SETOWN, F_SETSIG SIGSTOP,
        // O_ASYNC): the daemon's own write of the reply sends the daemon SIGSTOP, no agent process in sight
        Run attacker = runIn(agentCgroup("sigio"), KernelAgentExtension.nativeTool("attacker").toString(), "sigio-own",
                String.valueOf(daemonPid()), "19", "127.0.0.1", String.valueOf(metricsPort()));
        assertThat(attacker.stdout()).startsWith("replied ");
        assertThat(attacker.exitStatus()).as("nobody is killed: the sender is unknown").isZero();

        Violation v = awaitViolation(x -> x.getRule().equals("agentguard: tampering with the agent through file-async I/O")
                && x.getEvidence(0).getTamper().getSignalName().equals("SIGSTOP"));
        assertThat(v.getOutput()).contains("SIGSTOP sent through file-async I/O; sender unknown").contains("continued");
        Event tamper = v.getEvidence(0);
        assertThat(tamper.getTamper().getKind()).isEqualTo(TamperKind.TAMPER_KIND_STOP);
        assertThat(tamper.getTamper().getFasync()).isTrue();
        assertThat(tamper.getTamper().getContinued()).isTrue();
        assertThat(tamper.getTamper().getKilledByAgent()).isFalse();
        // running: a later event is classified
        Run later = runIn(agentCgroup("after-sigio"), connector(), "tcp4", DENIED, "80");
        assertThat(later.stdout()).isEqualTo("EPERM\n");
        awaitEvent(e -> e.hasConnect() && e.getProcess().getPid() == later.pid());
        assertThat(state()).isNotEqualTo("T");
    }

    @Test
    void freezingTheDaemonsCgroupKillsTheWriterEnforcementHoldsAndTheFreezeIsReportedOnThaw() throws Exception {
        Path cg = agentCgroup("freezer");
        Path freeze = daemonCgroup.resolve("cgroup.freeze");
        Run freezer = runIn(cg, "/bin/sh", "-c", "echo 1 > " + freeze + "; echo survived");
        assertThat(freezer.stdout()).doesNotContain("survived");
        assertThat(freezer.exitStatus()).isEqualTo(128 + 9);
        for (int i = 0; i < 200 && !Files.readString(daemonCgroup.resolve("cgroup.events")).contains("frozen 1"); i++) {
            Thread.sleep(50);
        }
        assertThat(Files.readString(daemonCgroup.resolve("cgroup.events"))).contains("frozen 1");

        // frozen daemon, kernel enforcement unchanged
        Run denied = runIn(agentCgroup("while-frozen"), connector(), "tcp4", DENIED, "80");
        assertThat(denied.stdout()).isEqualTo("EPERM\n");

        // nothing in the daemon can thaw it: the operator (or the watchdog's restart) does; then the record waiting
        // in the ring becomes the violation, naming the writer
        Files.writeString(freeze, "0");
        Violation v = awaitViolation(x -> x.getRule().equals("agentguard: tampering with the agent stopped")
                && x.getProcess().getPid() == freezer.pid());
        assertThat(v.getEvidence(0).getTamper().getKind()).isEqualTo(TamperKind.TAMPER_KIND_FREEZE);
        assertThat(v.getEvidence(0).getTamper().getTargetCgroupId()).isEqualTo(AgentCgroups.inode(daemonCgroup));
        awaitEvent(e -> e.hasConnect() && e.getProcess().getPid() == denied.pid());
    }

    @Test
    void movingTheDaemonIntoAnAlreadyFrozenCgroupKillsTheMoverAndIsReportedOnThaw() throws Exception {
        // no cgroup_freeze fires (the trap's state does not change) and the trap is not the daemon's cgroup
        Path trap = daemonCgroup.resolveSibling(daemonCgroup.getFileName() + "-trap");
        Files.createDirectories(trap);
        try {
            Files.writeString(trap.resolve("cgroup.freeze"), "1");
            Path cg = agentCgroup("mover");
            Run mover = runIn(cg, "/bin/sh", "-c", "echo " + daemonPid() + " > " + trap.resolve("cgroup.procs")
                    + "; echo survived");
            assertThat(mover.stdout()).doesNotContain("survived");
            assertThat(mover.exitStatus()).isEqualTo(128 + 9);

            Run denied = runIn(agentCgroup("while-moved"), connector(), "tcp4", DENIED, "80");
            assertThat(denied.stdout()).isEqualTo("EPERM\n");

            Files.writeString(trap.resolve("cgroup.freeze"), "0");
            Violation v = awaitViolation(x -> x.getRule().equals("agentguard: tampering with the agent stopped")
                    && x.getProcess().getPid() == mover.pid());
            assertThat(v.getEvidence(0).getTamper().getKind()).isEqualTo(TamperKind.TAMPER_KIND_MIGRATE);
            assertThat(v.getEvidence(0).getTamper().getTargetCgroupId()).isEqualTo(AgentCgroups.inode(trap));
        } finally {
            Files.writeString(trap.resolve("cgroup.freeze"), "0");
            Files.writeString(daemonCgroup.resolve("cgroup.procs"), String.valueOf(daemonPid()));
            Files.deleteIfExists(trap);
        }
    }

    @Test
    void movingTheDaemonIntoACgroupV1FreezerKillsTheMoverAndIsReported() throws Exception {
        // the legacy freezer (freezer.state FROZEN) has no tracepoint: the move into it is what can be seen
        Path hierarchy = Files.createDirectories(dir.resolve("freezer-v1"));
        assertThat(new ProcessBuilder("mount", "-t", "cgroup", "-o", "freezer", "agentguard-test", hierarchy.toString())
                .inheritIO().start().waitFor()).isZero();
        Path trap = hierarchy.resolve("agentguard-trap-" + daemonPid());
        try {
            Files.createDirectories(trap);
            Run mover = runIn(agentCgroup("v1-mover"), "/bin/sh", "-c", "echo " + daemonPid() + " > "
                    + trap.resolve("cgroup.procs") + "; echo survived");
            assertThat(mover.stdout()).doesNotContain("survived");
            assertThat(mover.exitStatus()).isEqualTo(128 + 9);
            Violation v = awaitViolation(x -> x.getRule().equals("agentguard: tampering with the agent stopped")
                    && x.getProcess().getPid() == mover.pid());
            assertThat(v.getEvidence(0).getTamper().getKind()).isEqualTo(TamperKind.TAMPER_KIND_MIGRATE);
            assertThat(v.getEvidence(0).getTamper().getTargetPid()).isEqualTo(daemonPid());
        } finally {
            if (Files.exists(trap)) {
                Files.writeString(trap.resolve("freezer.state"), "THAWED");
                Files.writeString(hierarchy.resolve("cgroup.procs"), String.valueOf(daemonPid()));
                Files.deleteIfExists(trap);
            }
            new ProcessBuilder("umount", hierarchy.toString()).inheritIO().start().waitFor();
        }
    }
}
