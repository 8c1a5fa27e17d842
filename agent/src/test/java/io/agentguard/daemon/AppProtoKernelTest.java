package io.agentguard.daemon;

import io.agentguard.config.Policy;
import io.agentguard.proto.v1.AppProto;
import io.agentguard.proto.v1.AppProtoEvent;
import io.agentguard.proto.v1.BlockKind;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Verdict;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a connection speaks (payload.bpf.c): programs in agent cgroups that are neither named nor
 * identified as SSH clients or miners, but speak SSH or stratum, against listeners in the test
 * JVM on 127.66.0.46 (an SSH server) and 127.66.0.47 (a mining pool). Under
 * {@code egress.protocols: deny} the first payload is dropped in the kernel (the listener gets
 * no byte), a DENIED record and violation follow and the daemon kills the process. The same
 * client in a cgroup whose policy says {@code protocols: allow} gets its bytes through: the
 * tests can fail. Benign first payloads (HTTP, non-mining JSON-RPC), an SSH banner to an
 * explicitly allowed host and the host's own ssh pass.
 */
class AppProtoKernelTest {
    private static final String SSH_HOST = "127.66.0.46";
    private static final String POOL = "127.66.0.47";
    private static final String ALLOWED = "127.66.0.48";
    private static final Path SCRATCH;
    private static final String BANNER = "SSH-2.0-paramiko_3.4\r\n";
    private static final String XMRIG_LOGIN = "{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"login\",\"params\":{\"login\":"
            + "\"4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2684Rge\","
            + "\"pass\":\"x\",\"agent\":\"XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0\",\"algo\":[\"rx/0\"]}}\n";

    static {
        try {
            SCRATCH = Files.createTempDirectory("agentguard-appproto");
            Files.setPosixFilePermissions(SCRATCH, PosixFilePermissions.fromString("rwxr-xr-x"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static final String POLICY = """
                egress:
                  default: allow
                  allow: ["%s/32"]
                  protocols: deny
            """.formatted(ALLOWED);

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096).configure(b -> b.enforce(true)
            .defaultPolicy(EnforcementKernelTest.policies(POLICY)));

    @AfterAll
    static void cleanUp() throws IOException {
        try (var files = Files.walk(SCRATCH)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** A cgroup whose policy is the test default with egress.protocols: allow: the mechanism off. */
    private static Path unguardedCgroup(String name) throws IOException {
        Path cg = KERNEL.newCgroup(name);
        Policy base = EnforcementKernelTest.policies(POLICY);
        KERNEL.agent().addPolicyForTest(base.withCgroup(KERNEL.mount().relativize(cg).toString()).withProtocolsDeny(false));
        return cg;
    }

    /** Connects, sends the text, then reads for a few seconds and exits 0: a killed client exits 137. */
    private static final String CLIENT = """
            import socket, sys
            s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
            s.sendall(sys.argv[3].encode().decode('unicode_escape').encode('latin-1'))
            s.settimeout(4)
            try:
                s.recv(100)
            except Exception:
                pass
            """;

    private static KernelAgentExtension.Run client(Path cg, String host, int port, String text) throws Exception {
        Path script = SCRATCH.resolve("client.py");
        if (!Files.exists(script)) {
            Files.writeString(script, CLIENT);
        }
        String escaped = text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n");
        return KERNEL.runIn(cg, "timeout", "-s", "KILL", "30", "/usr/bin/python3", script.toString(), host,
                String.valueOf(port), escaped);
    }

    private static List<Event> appProto(Path cg, Verdict verdict) throws InterruptedException {
        return KERNEL.await(e -> e.getProcess().getCgroupId() == KERNEL.cgroupId(cg) && e.hasAppProto()
                && e.getAppProto().getVerdict() == verdict, 1, Duration.ofSeconds(10));
    }

    @Test
    void sshLibraryBannerIsDroppedAndTheProcessKilled() throws Exception {
        try (TcpTestListener l = new TcpTestListener(SSH_HOST, "appproto")) {
            Path cg = KERNEL.newCgroup("paramiko");
            KernelAgentExtension.Run run = client(cg, SSH_HOST, l.port(), BANNER);
            assertThat(run.exitStatus()).as("killed by the daemon: " + run.stdout()).isEqualTo(128 + 9);
            List<Event> denied = appProto(cg, Verdict.VERDICT_DENIED);
            assertThat(denied).isNotEmpty();
            AppProtoEvent a = denied.getFirst().getAppProto();
            assertThat(a.getProto()).isEqualTo(AppProto.APP_PROTO_SSH);
            assertThat(a.getAddress()).isEqualTo(SSH_HOST);
            assertThat(a.getPort()).isEqualTo(l.port());
            assertThat(a.getFirstBytes().toStringUtf8()).startsWith("SSH-2.0-paramiko");
            List<Violation> v = KERNEL.awaitViolations(x -> x.getRule().equals(
                    "agentguard: SSH from a program that is not a judged ssh client denied")
                    && x.getProcess().getCgroupId() == KERNEL.cgroupId(cg), 1, Duration.ofSeconds(10));
            assertThat(v).isNotEmpty();
            assertThat(v.getFirst().getBlockKind()).isEqualTo(BlockKind.BLOCK_KIND_TUNNEL_CONNECT);
            assertThat(l.connections()).as("the handshake is not payload: the connection exists").isEqualTo(1);
            assertThat(l.received()).as("bytes the SSH server got").isEmpty();
        }
    }

    @Test
    void withProtocolsAllowTheSameBannerArrives() throws Exception {
        try (TcpTestListener l = new TcpTestListener(SSH_HOST, "appproto")) {
            Path cg = unguardedCgroup("paramiko-open");
            KernelAgentExtension.Run run = client(cg, SSH_HOST, l.port(), BANNER);
            assertThat(run.exitStatus()).as(run.stdout()).isZero();
            l.await("SSH-2.0-paramiko", Duration.ofSeconds(10));
            assertThat(l.received()).contains("SSH-2.0-paramiko");
        }
    }

    @Test
    void aBannerDribbledOutByteByByteIsStillSeen() throws Exception {
        try (TcpTestListener l = new TcpTestListener(SSH_HOST, "appproto")) {
            Path cg = KERNEL.newCgroup("dribble");
            Path script = SCRATCH.resolve("dribble.py");
            Files.writeString(script, """
                    import socket, sys, time
                    s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    for c in b"SSH-2.0-x\\r\\n":
                        s.send(bytes([c]))
                        time.sleep(0.05)
                    time.sleep(4)
                    """);
            KernelAgentExtension.Run run = KERNEL.runIn(cg, "timeout", "-s", "KILL", "30", "/usr/bin/python3",
                    script.toString(), SSH_HOST, String.valueOf(l.port()));
            assertThat(run.exitStatus()).as(run.stdout()).isEqualTo(128 + 9);
            assertThat(appProto(cg, Verdict.VERDICT_DENIED)).isNotEmpty();
            assertThat(l.received()).as("bytes the SSH server got").doesNotContain("-");
        }
    }

    /** A renamed copy of ssh is not the host's ssh by name or identity; its banner gives it away. */
    @Test
    void renamedCopyOfSshCannotReachAnSshServer() throws Exception {
        Path copy = SCRATCH.resolve("helper");
        Files.copy(Path.of("/usr/bin/ssh"), copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.setPosixFilePermissions(copy, PosixFilePermissions.fromString("rwxr-xr-x"));
        for (boolean guarded : new boolean[] {true, false}) {
            try (TcpTestListener l = new TcpTestListener(SSH_HOST, "appproto")) {
                Path cg = guarded ? KERNEL.newCgroup("renamed-ssh") : unguardedCgroup("renamed-ssh-open");
                KERNEL.runIn(cg, "timeout", "-s", "KILL", "15", copy.toString(), "-o", "BatchMode=yes", "-o",
                        "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=3",
                        "-p", String.valueOf(l.port()), "x@" + SSH_HOST, "true");
                if (guarded) {
                    assertThat(appProto(cg, Verdict.VERDICT_DENIED)).isNotEmpty();
                    assertThat(l.received()).as("bytes the SSH server got").doesNotContain("SSH-");
                } else {
                    l.await("SSH-2.0-OpenSSH", Duration.ofSeconds(10));
                    assertThat(l.received()).contains("SSH-2.0-OpenSSH");
                }
            }
        }
    }

    @Test
    void stratumLoginIsDroppedAndTheMinerKilled() throws Exception {
        for (boolean guarded : new boolean[] {true, false}) {
            try (TcpTestListener l = new TcpTestListener(POOL, "appproto")) {
                Path cg = guarded ? KERNEL.newCgroup("xmrig") : unguardedCgroup("xmrig-open");
                KernelAgentExtension.Run run = client(cg, POOL, l.port(), XMRIG_LOGIN);
                if (guarded) {
                    assertThat(run.exitStatus()).as(run.stdout()).isEqualTo(128 + 9);
                    List<Event> denied = appProto(cg, Verdict.VERDICT_DENIED);
                    assertThat(denied).isNotEmpty();
                    assertThat(denied.getFirst().getAppProto().getProto()).isEqualTo(AppProto.APP_PROTO_STRATUM);
                    assertThat(KERNEL.awaitViolations(x -> x.getRule().equals("agentguard: mining pool protocol denied")
                            && x.getProcess().getCgroupId() == KERNEL.cgroupId(cg), 1, Duration.ofSeconds(10)))
                            .isNotEmpty();
                    assertThat(l.received()).as("bytes the pool got").isEmpty();
                } else {
                    l.await("XMRig", Duration.ofSeconds(10));
                    assertThat(l.received()).contains("\"login\"");
                }
            }
        }
    }

    @Test
    void stratumSubscribeIsDropped() throws Exception {
        try (TcpTestListener l = new TcpTestListener(POOL, "appproto")) {
            Path cg = KERNEL.newCgroup("stratum-v1");
            client(cg, POOL, l.port(), "{\"id\": 1, \"method\": \"mining.subscribe\", \"params\": [\"cgminer/4.10\"]}\n");
            assertThat(appProto(cg, Verdict.VERDICT_DENIED)).isNotEmpty();
            assertThat(l.received()).isEmpty();
        }
    }

    /** HTTP, JSON-RPC that is not mining, SSH to an allowed host and the host's ssh all pass. */
    @Test
    void benignFirstPayloadsAndAllowedSshPass() throws Exception {
        Path cg = KERNEL.newCgroup("benign");
        try (TcpTestListener l = new TcpTestListener(SSH_HOST, "appproto")) {
            assertThat(client(cg, SSH_HOST, l.port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n").exitStatus()).isZero();
            l.await("GET /", Duration.ofSeconds(10));
            assertThat(l.received()).contains("GET / HTTP/1.1");
        }
        try (TcpTestListener l = new TcpTestListener(POOL, "appproto")) {
            String rpc = "{\"jsonrpc\":\"2.0\",\"method\":\"eth_blockNumber\",\"params\":[],\"id\":1}\n";
            assertThat(client(cg, POOL, l.port(), rpc).exitStatus()).isZero();
            l.await("eth_blockNumber", Duration.ofSeconds(10));
            assertThat(l.received()).contains("eth_blockNumber");
        }
        try (TcpTestListener l = new TcpTestListener(ALLOWED, "appproto")) {
            assertThat(client(cg, ALLOWED, l.port(), BANNER).exitStatus()).isZero();
            l.await("SSH-2.0-paramiko", Duration.ofSeconds(10));
            assertThat(l.received()).contains("SSH-2.0-paramiko");
        }
        try (TcpTestListener l = new TcpTestListener(SSH_HOST, "appproto")) {
            KERNEL.runIn(cg, "timeout", "-s", "KILL", "15", "/usr/bin/ssh", "-o", "BatchMode=yes", "-o",
                    "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=3",
                    "-p", String.valueOf(l.port()), "x@" + SSH_HOST, "true");
            l.await("SSH-2.0-OpenSSH", Duration.ofSeconds(10));
            assertThat(l.received()).contains("SSH-2.0-OpenSSH");
        }
        assertThat(KERNEL.snapshot(e -> e.getProcess().getCgroupId() == KERNEL.cgroupId(cg) && e.hasAppProto()))
                .as("app-protocol records of benign traffic").isEmpty();
    }
}
