package io.agentguard.daemon;

import io.agentguard.config.Policy;
import io.agentguard.proto.v1.AddressFamily;
import io.agentguard.proto.v1.ConnectEvent;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.SocketEvent;
import io.agentguard.proto.v1.SocketHook;
import io.agentguard.proto.v1.SocketType;
import io.agentguard.proto.v1.UnixOwner;
import io.agentguard.proto.v1.Verdict;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The side doors around the egress policy, played by a process in an agent cgroup: raw IP
 * sockets (ICMP, IP_HDRINCL TCP), ICMP ping sockets and packet sockets, which no
 * connect/sendmsg hook governs, and a Unix socket to a proxy outside the agent cgroups. Raw
 * traffic stays in a network namespace the connector makes for itself; 127.66.9.0/24 stands
 * for the denied pool.
 */
class EgressSideDoorsKernelTest {
    private static final Path SCRATCH;

    static {
        try {
            SCRATCH = Files.createTempDirectory("agentguard-sidedoors");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096).configure(b -> b.enforce(true)
            .defaultPolicy(EnforcementKernelTest.policies("""
                        egress:
                          default: allow
                          deny: [127.66.9.0/24]
                    """)));

    private static String connector() {
        return KernelAgentExtension.nativeTool("connector").toString();
    }

    /** A cgroup with a policy of its own: the test default's egress, plus the side-door keys. */
    private static Path policyCgroup(String name, boolean rawSocketsAllowed, boolean unixOutsideDeny) throws Exception {
        Path cg = KERNEL.newCgroup(name);
        Policy base = EnforcementKernelTest.policies("""
                    egress:
                      default: allow
                      deny: [127.66.9.0/24]
                """);
        KERNEL.agent().addPolicyForTest(new Policy(KERNEL.mount().relativize(cg).toString(), null, false, base.egress(),
                true, 0, true, List.of(), List.of(), List.of(), List.of(), false, false, rawSocketsAllowed, unixOutsideDeny));
        return cg;
    }

    private static SocketEvent socketEvent(Path cg) throws InterruptedException {
        List<Event> events = KERNEL.await(e -> e.hasSocket() && e.getProcess().getCgroupId() == KERNEL.cgroupId(cg), 1,
                Duration.ofSeconds(10));
        assertThat(events).hasSize(1);
        return events.getFirst().getSocket();
    }

    private static Violation violation(Path cg, String rule) throws InterruptedException {
        List<Violation> v = KERNEL.awaitViolations(x -> x.getRule().equals(rule)
                && x.getProcess().getCgroupId() == KERNEL.cgroupId(cg), 1, Duration.ofSeconds(10));
        assertThat(v).as("violation '%s'", rule).hasSize(1);
        return v.getFirst();
    }

    @Test
    void rawIcmpSocketToADeniedHostIsRefusedAndReported() throws Exception {
        Path cg = KERNEL.newCgroup("raw-icmp");
        assertThat(KERNEL.runIn(cg, connector(), "netns", "raw4", "127.66.9.1").stdout()).isEqualTo("EPERM\n");
        SocketEvent s = socketEvent(cg);
        assertThat(s.getFamily()).isEqualTo(AddressFamily.ADDRESS_FAMILY_INET);
        assertThat(s.getSocketType()).isEqualTo(SocketType.SOCKET_TYPE_RAW);
        assertThat(s.getProtocol()).isEqualTo(1);   // IPPROTO_ICMP
        assertThat(s.getVerdict()).isEqualTo(Verdict.VERDICT_DENIED);
        assertThat(s.getHook()).isEqualTo(SocketHook.SOCKET_HOOK_SOCK_CREATE);
        assertThat(violation(cg, "agentguard: raw socket denied").getRuleSource()).isEqualTo("kernel");
    }

    @Test
    void hdrinclRawTcpSocketIsRefusedAndReported() throws Exception {
        Path cg = KERNEL.newCgroup("raw-hdrincl");
        assertThat(KERNEL.runIn(cg, connector(), "netns", "hdrincl", "127.66.9.1", "3333").stdout())
                .isEqualTo("EPERM\n");
        SocketEvent s = socketEvent(cg);
        assertThat(s.getSocketType()).isEqualTo(SocketType.SOCKET_TYPE_RAW);
        assertThat(s.getProtocol()).isEqualTo(255);   // IPPROTO_RAW: IP_HDRINCL implied
        assertThat(s.getVerdict()).isEqualTo(Verdict.VERDICT_DENIED);
        violation(cg, "agentguard: raw socket denied");
    }

    /** Ping sockets pass connect4 on connect(), but their unconnected sendto() passes no hook. */
    @Test
    void pingSocketSendtoADeniedHostIsRefusedAndReported() throws Exception {
        Path cg = KERNEL.newCgroup("ping");
        assertThat(KERNEL.runIn(cg, connector(), "netns", "ping4", "127.66.9.1").stdout()).isEqualTo("EPERM\n");
        SocketEvent s = socketEvent(cg);
        assertThat(s.getSocketType()).isEqualTo(SocketType.SOCKET_TYPE_DGRAM);
        assertThat(s.getProtocol()).isEqualTo(1);
        assertThat(s.getVerdict()).isEqualTo(Verdict.VERDICT_DENIED);
        violation(cg, "agentguard: raw socket denied");
    }

    /**
     * No LSM here: packet sockets are seen by sys_enter_socket, attached because the GPU
     * stand-ins already attach sys_enter_ioctl. The creator dies before socket() returns.
     */
    @Test
    void packetSocketCreatorIsKilledAndReported() throws Exception {
        Path cg = KERNEL.newCgroup("packet");
        KernelAgentExtension.Run run = KERNEL.runIn(cg, connector(), "netns", "packet");
        assertThat(run.stdout()).isEmpty();
        assertThat(run.exitStatus()).isEqualTo(128 + 9);
        SocketEvent s = socketEvent(cg);
        assertThat(s.getFamily()).isEqualTo(AddressFamily.ADDRESS_FAMILY_PACKET);
        assertThat(s.getSocketType()).isEqualTo(SocketType.SOCKET_TYPE_RAW);
        assertThat(s.getVerdict()).isEqualTo(Verdict.VERDICT_DENIED);
        assertThat(s.getHook()).isEqualTo(SocketHook.SOCKET_HOOK_SYSCALL);
        violation(cg, "agentguard: raw socket denied");
    }

    @Test
    void rawSocketsAllowedByPolicyWorkAndAreStillReported() throws Exception {
        Path cg = policyCgroup("raw-allowed", true, false);
        assertThat(KERNEL.runIn(cg, connector(), "netns", "raw4", "127.66.9.1").stdout()).isEqualTo("ok\n");
        SocketEvent s = socketEvent(cg);
        assertThat(s.getSocketType()).isEqualTo(SocketType.SOCKET_TYPE_RAW);
        assertThat(s.getVerdict()).isEqualTo(Verdict.VERDICT_ALLOWED);
        violation(cg, "agentguard: raw socket allowed by policy");
    }

    @Test
    void rawSocketInMonitorModeIsMadeAndReportedAsWouldBlock() throws Exception {
        Path cg = KERNEL.newCgroup("raw-monitor");
        KERNEL.agent().addPolicyForTest(new Policy(KERNEL.mount().relativize(cg).toString(), false, false, List.of(),
                true, 0, true, List.of(), List.of(), List.of(), List.of(), false, false, false, false));
        assertThat(KERNEL.runIn(cg, connector(), "netns", "raw4", "127.66.9.1").stdout()).isEqualTo("ok\n");
        assertThat(socketEvent(cg).getVerdict()).isEqualTo(Verdict.VERDICT_WOULD_BLOCK);
        violation(cg, "agentguard: raw socket denied by policy (monitor)");
    }

    private static UnixOwner expectedTestProcess() throws IOException {
        String cgroup = Files.readAllLines(Path.of("/proc/self/cgroup")).stream().filter(l -> l.startsWith("0::"))
                .findFirst().orElseThrow().substring(3).replaceAll("^/+", "");
        return UnixOwner.newBuilder().setPid((int) ProcessHandle.current().pid()).setUid(0)
                .setCgroupPath(cgroup).build();
    }

    /** The test JVM, outside the agent cgroups, plays the proxy; it was found after the connect, or before. */
    @Test
    void unixConnectToAProxyOutsideIsReportedWithTheListenersIdentity() throws Exception {
        Path cg = KERNEL.newCgroup("unix-report");
        Path socket = SCRATCH.resolve("proxy-report.sock");
        Path symlink = SCRATCH.resolve("other-spelling.sock");
        try (ServerSocketChannel proxy = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            proxy.bind(UnixDomainSocketAddress.of(socket));
            Files.createSymbolicLink(symlink, socket);
            assertThat(KERNEL.runIn(cg, connector(), "unix", socket.toString()).stdout()).isEqualTo("ok\n");
            List<Violation> v = KERNEL.awaitViolations(x -> x.getRule().equals("agentguard: unix connect outside the agent"
                    + " cgroups") && x.getProcess().getCgroupId() == KERNEL.cgroupId(cg), 1, Duration.ofSeconds(10));
            assertThat(v).hasSize(1);
            ConnectEvent c = v.getFirst().getEvidence(0).getConnect();
            assertThat(c.getUnixPath()).isEqualTo(socket.toString());
            UnixOwner owner = c.getUnixOutsideOwner();
            UnixOwner expected = expectedTestProcess();
            assertThat(owner.getPid()).isEqualTo(expected.getPid());
            assertThat(owner.getUid()).isEqualTo(0);
            assertThat(owner.getCgroupPath()).isEqualTo(expected.getCgroupPath());
            assertThat(owner.getComm()).isEqualTo(Files.readString(Path.of("/proc/self/comm")).strip());

            // another spelling of the same socket (a symlink): found by its inode
            assertThat(KERNEL.runIn(cg, connector(), "unix", symlink.toString()).stdout()).isEqualTo("ok\n");
            List<Violation> both = KERNEL.awaitViolations(x -> x.getRule().equals("agentguard: unix connect outside the"
                    + " agent cgroups") && x.getProcess().getCgroupId() == KERNEL.cgroupId(cg), 2, Duration.ofSeconds(10));
            assertThat(both).hasSize(2);
            assertThat(both.get(1).getEvidence(0).getConnect().getUnixPath()).isEqualTo(symlink.toString());
            assertThat(both.get(1).getEvidence(0).getConnect().getUnixOutsideOwner().getPid()).isEqualTo(expected.getPid());
        }
    }

    @Test
    void unixConnectToAProxyOutsideIsDeniedUnderUnixOutsideDeny() throws Exception {
        Path cg = policyCgroup("unix-deny", false, true);
        Path socket = SCRATCH.resolve("proxy-deny.sock");
        try (ServerSocketChannel proxy = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            proxy.bind(UnixDomainSocketAddress.of(socket));
            KERNEL.agent().refreshUnixOwnersForTest();   // as the resolver's timer would
            assertThat(KERNEL.runIn(cg, connector(), "unix", socket.toString()).stdout()).isEqualTo("EPERM\n");
            List<Event> events = KERNEL.await(e -> e.hasConnect() && e.getProcess().getCgroupId() == KERNEL.cgroupId(cg),
                    1, Duration.ofSeconds(10));
            ConnectEvent c = events.getFirst().getConnect();
            assertThat(c.getVerdict()).isEqualTo(Verdict.VERDICT_DENIED);
            assertThat(c.getUnixOutsideOwner().getPid()).isEqualTo(ProcessHandle.current().pid());
            assertThat(c.getUnixOutsideOwner().getFoundAfter()).isFalse();
            violation(cg, "agentguard: unix connect outside the agent cgroups denied");
        }
    }

    /** An abstract name (no file to stat): the proxy is another process outside, found by its name. */
    @Test
    void unixConnectToAnAbstractProxyOutsideIsReportedWithItsIdentity() throws Exception {
        Path cg = KERNEL.newCgroup("unix-abstract");
        String name = "@agentguard-test-proxy-" + ProcessHandle.current().pid();
        Process proxy = new ProcessBuilder(connector(), "listen", name).redirectErrorStream(true).start();
        try {
            assertThat(new String(proxy.getInputStream().readNBytes(3))).isEqualTo("up\n");
            assertThat(KERNEL.runIn(cg, connector(), "unix", name).stdout()).isEqualTo("ok\n");
            Violation v = violation(cg, "agentguard: unix connect outside the agent cgroups");
            UnixOwner owner = v.getEvidence(0).getConnect().getUnixOutsideOwner();
            assertThat(v.getEvidence(0).getConnect().getUnixPath()).isEqualTo(name);
            assertThat(owner.getPid()).isEqualTo(proxy.pid());
            assertThat(owner.getComm()).isEqualTo("connector");
            assertThat(owner.getCgroupPath()).isEqualTo(expectedTestProcess().getCgroupPath());
        } finally {
            proxy.destroyForcibly().waitFor();
        }
    }

    /** An unconnected datagram (sendto) to a bound datagram socket outside: no connect() at all. */
    @Test
    void unixDatagramToAProxyOutsideIsDeniedUnderUnixOutsideDeny() throws Exception {
        Path cg = policyCgroup("unix-dgram-deny", false, true);
        Path socket = SCRATCH.resolve("proxy-dgram.sock");
        Process proxy = new ProcessBuilder(connector(), "listen-dgram", socket.toString()).redirectErrorStream(true).start();
        try {
            assertThat(new String(proxy.getInputStream().readNBytes(3))).isEqualTo("up\n");
            KERNEL.agent().refreshUnixOwnersForTest();
            assertThat(KERNEL.runIn(cg, connector(), "unix-sendto", socket.toString()).stdout()).isEqualTo("EPERM\n");
            List<Event> events = KERNEL.await(e -> e.hasConnect() && e.getProcess().getCgroupId() == KERNEL.cgroupId(cg),
                    1, Duration.ofSeconds(10));
            ConnectEvent c = events.getFirst().getConnect();
            assertThat(c.getSendmsg()).isTrue();
            assertThat(c.getSocketType()).isEqualTo(SocketType.SOCKET_TYPE_DGRAM);
            assertThat(c.getVerdict()).isEqualTo(Verdict.VERDICT_DENIED);
            assertThat(c.getUnixOutsideOwner().getPid()).isEqualTo(proxy.pid());   // the holder, found in /proc
            assertThat(c.getUnixOutsideOwner().getComm()).isEqualTo("connector");
            violation(cg, "agentguard: unix connect outside the agent cgroups denied");
        } finally {
            proxy.destroyForcibly().waitFor();
        }
    }

    @Test
    void unixConnectToAListenerInsideTheAgentCgroupsIsNotAViolation() throws Exception {
        Path cg = KERNEL.newCgroup("unix-inside");
        Path socket = SCRATCH.resolve("inside.sock");
        // a listener in the agent cgroup, then a client there: nothing outside is involved
        Process server = new ProcessBuilder(io.agentguard.scope.AgentCgroups.argvInside(cg, List.of(connector(), "listen",
                socket.toString()))).redirectErrorStream(true).start();
        try {
            assertThat(new String(server.getInputStream().readNBytes(3))).isEqualTo("up\n");
            KERNEL.agent().refreshUnixOwnersForTest();
            assertThat(KERNEL.runIn(cg, connector(), "unix", socket.toString()).stdout()).isEqualTo("ok\n");
            List<Event> connects = KERNEL.await(e -> e.hasConnect() && e.getProcess().getCgroupId() == KERNEL.cgroupId(cg),
                    1, Duration.ofSeconds(10));
            assertThat(connects.getFirst().getConnect().hasUnixOutsideOwner()).isFalse();
            // a barrier: a connect to a listener outside, after the inside one; the resolver takes
            // them in order, so once this one is a violation, the inside one has been judged
            Path barrier = SCRATCH.resolve("inside-barrier.sock");
            try (ServerSocketChannel outside = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
                outside.bind(UnixDomainSocketAddress.of(barrier));
                assertThat(KERNEL.runIn(cg, connector(), "unix", barrier.toString()).stdout()).isEqualTo("ok\n");
                // (posture findings aside: the test runs as root with every capability)
                assertThat(KERNEL.awaitViolations(x -> x.getProcess().getCgroupId() == KERNEL.cgroupId(cg)
                        && !x.getRule().equals(io.agentguard.posture.PostureMonitor.PRIVILEGES.rule()), 1,
                        Duration.ofSeconds(10))).singleElement().satisfies(v -> assertThat(
                        v.getEvidence(0).getConnect().getUnixPath()).isEqualTo(barrier.toString()));
            } finally {
                java.nio.file.Files.deleteIfExists(barrier);
            }
        } finally {
            server.destroyForcibly().waitFor();
        }
    }
}
