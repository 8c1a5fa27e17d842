package io.agentguard.daemon;

import io.agentguard.bpf.Libc;
import io.agentguard.config.AgentConfig;
import io.agentguard.config.Policy;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Verdict;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Reverse tunnels against the distribution's real sshd (SshdFixture on 127.66.0.22, outside
 * the agent cgroups), played by an ssh client in an agent cgroup: with egress.tunnels: deny the
 * client is held at exec, judged a forwarding ssh from its command line or the configuration
 * files it would read, and its connect to a destination the policy does not explicitly allow is
 * refused in the kernel, so the remote forward is never bound; the same command with
 * egress.tunnels: allow binds it (the test can fail). Plain ssh (no forwarding) and forwarding to
 * an explicitly allowed destination work.
 */
class TunnelKernelTest {
    private static final String DENY = """
                egress:
                  default: allow
                  tunnels: deny
            """;
    private static final String ALLOW = """
                egress:
                  default: allow
                  tunnels: allow
            """;
    private static final String EXPLICIT = """
                egress:
                  default: allow
                  allow: ["127.66.0.22/32 tcp"]
                  tunnels: deny
            """;

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096).configure(b -> b.enforce(true)
            // a judge that never comes is resumed by the sweep only after 10 s: the tests below see the judge's work
            .tunnels(new AgentConfig.Tunnels(AgentConfig.Tunnels.DEFAULT_PROGRAMS, 10_000)));

    private static SshdFixture sshd;
    private static Path scratch;

    @BeforeAll
    static void startSshd() throws Exception {
        sshd = SshdFixture.start();
        scratch = Files.createTempDirectory("agentguard-tunnel");
    }

    @AfterAll
    static void stopSshd() throws Exception {
        if (sshd != null) {
            sshd.close();
        }
        if (scratch != null) {
            try (var files = Files.walk(scratch)) {
                for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(f);
                }
            }
        }
    }

    /** A new agent cgroup with a policy of its own (enforce). */
    private static Path cgroup(String name, String yaml) throws Exception {
        Path cg = KERNEL.newCgroup(name);
        Policy p = EnforcementKernelTest.policies(yaml).withCgroup(KERNEL.mount().relativize(cg).toString());
        KERNEL.agent().addPolicyForTest(p);
        return cg;
    }

    private static int freeLoopbackPort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0));
            return s.getLocalPort();
        }
    }

    /** ssh [options...] -p PORT [extra...] root@127.66.0.22 [command...]: argv for runIn. */
    private static String[] ssh(String program, List<String> before, List<String> command) {
        List<String> argv = new ArrayList<>();
        argv.add(program);
        argv.addAll(before);
        argv.addAll(sshd.clientArgs());
        argv.add(sshd.destination());
        argv.addAll(command);
        return argv.toArray(String[]::new);
    }

    private static String[] reverse(String program, int port, List<String> extra) {
        List<String> before = new ArrayList<>(extra);
        before.addAll(0, List.of("-fN"));
        return ssh(program, before, List.of());
    }

    private static boolean listeningWithin(int port, long millis) throws Exception {
        long deadline = System.currentTimeMillis() + millis;
        while (System.currentTimeMillis() < deadline) {
            if (SshdFixture.isListening("127.0.0.1", port)) {
                return true;
            }
            Thread.sleep(50);
        }
        return SshdFixture.isListening("127.0.0.1", port);
    }

    /** Kills what a test left in its cgroup (a backgrounded ssh -f). */
    private static void killAll(Path cg) throws Exception {
        for (String pid : Files.readAllLines(cg.resolve("cgroup.procs"))) {
            if (!pid.isBlank()) {
                Libc.kill(Integer.parseInt(pid.trim()), 9);
            }
        }
    }

    /** The denied tunnel connect to sshd from this cgroup, and the held exec before it. */
    private static void assertStoppedInKernel(Path cg, KernelAgentExtension.Run run, int port) throws Exception {
        long id = KERNEL.cgroupId(cg);
        List<Event> denied = KERNEL.await(e -> e.hasConnect() && e.getProcess().getCgroupId() == id
                && e.getConnect().getTunnel() && e.getConnect().getVerdict() == Verdict.VERDICT_DENIED
                && e.getConnect().getPort() == sshd.port(), 1, Duration.ofSeconds(10));
        assertThat(denied).as("a denied tunnel connect to sshd; ssh said: %s", run.stdout()).isNotEmpty();
        assertThat(KERNEL.snapshot(e -> e.hasExec() && e.getProcess().getCgroupId() == id && e.getExec().getHeld()))
                .as("the ssh exec was held").isNotEmpty();
        assertThat(run.exitStatus()).as("ssh failed or was killed: %s", run.stdout()).isNotZero();
        assertThat(listeningWithin(port, 3000)).as("remote forward 127.0.0.1:%d bound", port).isFalse();
        assertThat(sshd.log()).doesNotContain("port " + port);
    }

    /** What a test checks of an ssh run before its cgroup is emptied. */
    private interface RunCheck {
        void check(KernelAgentExtension.Run run) throws Exception;
    }

    /** Runs argv in the cgroup, checks the run, then kills what it left there (also when the check fails). */
    private static void runThenKillAll(Path cg, String[] argv, RunCheck check) throws Exception {
        KernelAgentExtension.Run run = KERNEL.runIn(cg, argv);
        try {
            check.check(run);
        } finally {
            killAll(cg);
        }
    }

    /** argv run in the cgroup is a tunnel stopped in the kernel ({@link #assertStoppedInKernel}). */
    private static void assertTunnelStopped(Path cg, int port, String[] argv) throws Exception {
        runThenKillAll(cg, argv, run -> assertStoppedInKernel(cg, run, port));
    }

    /** ssh exited 0 and the remote forward 127.0.0.1:port is bound within 10 s. */
    private static void assertForwardBound(KernelAgentExtension.Run run, int port, String what) throws Exception {
        assertThat(run.exitStatus()).as(run.stdout()).isZero();
        assertThat(listeningWithin(port, 10_000)).as(what).isTrue();
    }

    /** -R 127.0.0.1:port:127.0.0.1:9, the remote forward the tests ask for. */
    private static List<String> remoteForward(int port) {
        return List.of("-R", "127.0.0.1:" + port + ":127.0.0.1:9");
    }

    /** prefix, then argv: a command that runs ssh (env, the dynamic loader). */
    private static String[] prefixed(List<String> prefix, String[] argv) {
        List<String> all = new ArrayList<>(prefix);
        all.addAll(List.of(argv));
        return all.toArray(String[]::new);
    }

    @Test
    void reverseForwardWithFNRIsStoppedBeforeItBinds() throws Exception {
        Path cg = cgroup("fnr", DENY);
        int port = freeLoopbackPort();
        assertTunnelStopped(cg, port, reverse("ssh", port, remoteForward(port)));
    }

    /** The control: the same command where tunnels are allowed binds the forward, so the test above can fail. */
    @Test
    void reverseForwardBindsWhereTunnelsAreAllowed() throws Exception {
        Path cg = cgroup("allowed-tunnels", ALLOW);
        int port = freeLoopbackPort();
        runThenKillAll(cg, reverse("ssh", port, remoteForward(port)),
                run -> assertForwardBound(run, port, "remote forward bound without the mechanism"));
    }

    @Test
    void reverseForwardAsDashOOptionIsStopped() throws Exception {
        Path cg = cgroup("dash-o", DENY);
        int port = freeLoopbackPort();
        assertTunnelStopped(cg, port, reverse("ssh", port, List.of("-oremoteforward=127.0.0.1:" + port + " 127.0.0.1:9")));
    }

    @Test
    void reverseForwardFromDashFConfigFileIsStopped() throws Exception {
        Path cg = cgroup("dash-f", DENY);
        int port = freeLoopbackPort();
        Path config = scratch.resolve("cfg-" + port);
        Files.writeString(config, "Host unrelated\n  User nobody\nMatch all\n  RemoteForward 127.0.0.1:" + port
                + " 127.0.0.1:9\n");
        assertTunnelStopped(cg, port, reverse("ssh", port, List.of("-F", config.toString())));
    }

    @Test
    void reverseForwardFromHomeSshConfigIncludeIsStopped() throws Exception {
        Path cg = cgroup("home", DENY);
        int port = freeLoopbackPort();
        Path home = Files.createDirectories(scratch.resolve("home-" + port));
        Files.createDirectories(home.resolve(".ssh/conf.d"));
        Files.writeString(home.resolve(".ssh/config"), "Include conf.d/*.conf\n");
        Files.writeString(home.resolve(".ssh/conf.d/tunnel.conf"), "Host *\n    RemoteForward=127.0.0.1:" + port
                + " 127.0.0.1:9\n");
        assertTunnelStopped(cg, port, prefixed(List.of("env", "HOME=" + home), reverse("ssh", port, List.of())));
    }

    /** A hard link of ssh under an innocuous name is the same file: held by identity, judged as ssh. */
    @Test
    void hardLinkedSshUnderAnotherNameIsStopped() throws Exception {
        Path cg = cgroup("hardlink", DENY);
        int port = freeLoopbackPort();
        Path link = scratch.resolve("backup-helper");
        Files.deleteIfExists(link);
        Files.createLink(link, Path.of("/usr/bin/ssh").toRealPath());
        assertTunnelStopped(cg, port, reverse(link.toString(), port, remoteForward(port)));
    }

    /** ld.so /usr/bin/ssh: the executed file is the loader; the judge finds ssh in argv. */
    @Test
    void sshRunThroughTheDynamicLoaderIsStopped() throws Exception {
        Path cg = cgroup("loader", DENY);
        int port = freeLoopbackPort();
        String loader = Path.of("/lib64/ld-linux-x86-64.so.2").toRealPath().toString();
        assertTunnelStopped(cg, port, prefixed(List.of(loader), reverse("/usr/bin/ssh", port, remoteForward(port))));
    }

    /**
     * The connect is made by a ProxyCommand child (sh, then ncat: no tunnel program), not by ssh:
     * the mark of the forwarding ssh is copied to its children at fork and kept across their exec.
     */
    @Test
    void proxyCommandChildOfAForwardingSshIsATunnelToo() throws Exception {
        Path cg = cgroup("proxycommand", DENY);
        int port = freeLoopbackPort();
        // ncat's stderr is not runIn's pipe: where ncat is not stopped, the test fails instead of waiting on it
        String proxy = "ProxyCommand=ncat 127.66.0.22 " + sshd.port() + " 2>/dev/null";
        List<String> options = new ArrayList<>(remoteForward(port));
        options.addAll(List.of("-o", proxy));
        runThenKillAll(cg, reverse("ssh", port, options), run -> {
            long id = KERNEL.cgroupId(cg);
            assertThat(KERNEL.await(e -> e.hasConnect() && e.getProcess().getCgroupId() == id
                    && e.getProcess().getComm().equals("ncat") && e.getConnect().getTunnel()
                    && e.getConnect().getVerdict() == Verdict.VERDICT_DENIED, 1, Duration.ofSeconds(10)))
                    .as("ncat's connect denied as a tunnel's; ssh said: %s", run.stdout()).isNotEmpty();
            assertThat(run.exitStatus()).as(run.stdout()).isNotZero();
            assertThat(listeningWithin(port, 3000)).as("remote forward bound through the proxy").isFalse();
        });
    }

    @Test
    void dynamicForwardIsStoppedBeforeItListens() throws Exception {
        Path cg = cgroup("dynamic", DENY);
        int port = freeLoopbackPort();
        assertTunnelStopped(cg, port, reverse("ssh", port, List.of("-D", "127.0.0.1:" + port)));
    }

    @Test
    void reverseForwardToAnExplicitlyAllowedDestinationBinds() throws Exception {
        Path cg = cgroup("explicit", EXPLICIT);
        int port = freeLoopbackPort();
        runThenKillAll(cg, reverse("ssh", port, remoteForward(port)), run -> {
            assertForwardBound(run, port, "remote forward to an explicitly allowed host");
            long id = KERNEL.cgroupId(cg);
            assertThat(KERNEL.snapshot(e -> e.hasConnect() && e.getProcess().getCgroupId() == id
                    && e.getConnect().getPort() == sshd.port()))
                    .allSatisfy(e -> {
                        assertThat(e.getConnect().getTunnel()).isTrue();
                        assertThat(e.getConnect().getExplicitAllow()).isTrue();
                        assertThat(e.getConnect().getVerdict()).isEqualTo(Verdict.VERDICT_ALLOWED);
                    });
        });
    }

    /** ssh without forwarding is judged plain and connects where the default allows. */
    @Test
    void plainSshToANotAllowedDestinationRunsItsCommand() throws Exception {
        Path cg = cgroup("plain", DENY);
        KernelAgentExtension.Run run = KERNEL.runIn(cg, ssh("ssh", List.of(), List.of("echo", "plain-ok")));
        assertThat(run.exitStatus()).as(run.stdout()).isZero();
        assertThat(run.stdout()).contains("plain-ok");
        long id = KERNEL.cgroupId(cg);
        assertThat(KERNEL.snapshot(e -> e.hasExec() && e.getProcess().getCgroupId() == id && e.getExec().getHeld()))
                .as("held and judged").isNotEmpty();
        assertThat(KERNEL.snapshot(e -> e.hasConnect() && e.getProcess().getCgroupId() == id
                && e.getConnect().getTunnel())).isEmpty();
    }

    /** A tunnel tool by name is a tunnel whatever its arguments: socat to a not-allowed host is refused. */
    @Test
    void tunnelToolByNameIsRefusedWhereNotExplicitlyAllowed() throws Exception {
        Path cg = cgroup("socat", DENY);
        KernelAgentExtension.Run run = KERNEL.runIn(cg, "socat", "-u", "OPEN:/dev/null",
                "TCP:127.66.0.22:" + sshd.port());
        assertThat(run.exitStatus()).as(run.stdout()).isNotZero();
        long id = KERNEL.cgroupId(cg);
        assertThat(KERNEL.await(e -> e.hasConnect() && e.getProcess().getCgroupId() == id && e.getConnect().getTunnel()
                && e.getConnect().getVerdict() == Verdict.VERDICT_DENIED, 1, Duration.ofSeconds(10))).isNotEmpty();
    }

    /** A hold the judge never settles is resumed at tunnels.hold_timeout_ms (the process stays a tunnel). */
    @Test
    void holdThatIsNeverJudgedIsResumedAtTheTimeout() throws Exception {
        Process sleeper = new ProcessBuilder("sleep", "60").start();
        try {
            int pid = (int) sleeper.pid();
            Libc.kill(pid, 19);   // SIGSTOP, as the exec hook does
            awaitState(pid, 'T');
            KERNEL.agent().heldProcesses().recordHoldForTest(pid, System.nanoTime() - 20_000_000_000L);
            awaitState(pid, 'S');
            assertThat(KERNEL.agent().heldProcesses().resumedByTimeout()).isPositive();
        } finally {
            sleeper.destroyForcibly();
        }
    }

    /** A daemon that starts resumes what a previous run left stopped in the pinned ag_held. */
    @Test
    void startResumesProcessesAPreviousRunLeftHeld() throws Exception {
        Process sleeper = new ProcessBuilder("sleep", "60").start();
        try {
            int pid = (int) sleeper.pid();
            Libc.kill(pid, 19);
            awaitState(pid, 'T');
            long before = System.nanoTime();
            KERNEL.agent().heldProcesses().recordHoldForTest(pid, before);   // fresh: the 10 s sweep leaves it alone
            assertThat(KERNEL.agent().heldProcesses().resumeLeftOver(System.nanoTime())).isGreaterThanOrEqualTo(1);
            awaitState(pid, 'S');
        } finally {
            sleeper.destroyForcibly();
        }
    }

    /** Waits (up to 5 s) for /proc/PID/stat's state letter. */
    private static void awaitState(int pid, char state) throws Exception {
        Path stat = Path.of("/proc/" + pid + "/stat");
        char now = 0;
        for (int i = 0; i < 100; i++) {
            String s = Files.readString(stat);
            now = s.charAt(s.lastIndexOf(')') + 2);
            if (now == state) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("pid " + pid + " state " + now + ", expected " + state);
    }
}
