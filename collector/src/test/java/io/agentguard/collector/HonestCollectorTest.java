package io.agentguard.collector;

import com.google.protobuf.ByteString;
import io.agentguard.collector.cli.CollectorMain;
import io.agentguard.collector.server.CollectorServer;
import io.agentguard.collector.store.JdbcStore;
import io.agentguard.proto.v1.AgentHello;
import io.agentguard.proto.v1.AgentMessage;
import io.agentguard.proto.v1.Batch;
import io.agentguard.proto.v1.CollectorMessage;
import io.agentguard.proto.v1.CollectorService;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.Record;
import io.agentguard.proto.v1.Violation;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * The collector against peers that lie, on loopback gRPC and a real PostgreSQL (a schema of
 * its own per test): forged nodes, pre-filled sequences, recreated spools, oversized
 * messages, refused streams, unauthenticated listeners off loopback.
 */
class HonestCollectorTest {
    @TempDir
    Path dir;
    private PgSchema pg;
    private JdbcStore store;
    private CollectorServer server;
    private ManagedChannel channel;
    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final List<String> log = new CopyOnWriteArrayList<>();

    @BeforeEach
    void open() throws Exception {
        pg = PgSchema.create();
        store = JdbcStore.open(pg.url());
    }

    @AfterEach
    void close() throws Exception {
        if (channel != null) {
            channel.shutdownNow();
        }
        if (server != null) {
            server.kill();
        }
        store.close();
        pg.drop();
    }

    private void plaintextServer() throws Exception {
        server = new CollectorServer(store, new InetSocketAddress("127.0.0.1", 0), CollectorServer.Tls.plaintextForTests(),
                registry, List.of(), log::add);
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext()
                .maxInboundMessageSize(64 << 20).build();
    }

    record Call(StreamObserver<AgentMessage> out, LinkedBlockingQueue<Object> in) {
        Object next() throws InterruptedException {
            return in.poll(10, TimeUnit.SECONDS);
        }

        CollectorMessage message() throws InterruptedException {
            Object o = next();
            assertThat(o).isInstanceOf(CollectorMessage.class);
            return (CollectorMessage) o;
        }

        Status status() throws InterruptedException {
            Object o = next();
            assertThat(o).isInstanceOf(Status.class);
            return (Status) o;
        }
    }

    static Call call(ManagedChannel channel) {
        LinkedBlockingQueue<Object> in = new LinkedBlockingQueue<>();
        StreamObserver<AgentMessage> out = ClientCalls.asyncBidiStreamingCall(channel.newCall(CollectorService.STREAM,
                CallOptions.DEFAULT), new StreamObserver<CollectorMessage>() {
                    public void onNext(CollectorMessage m) {
                        in.add(m);
                    }

                    public void onError(Throwable t) {
                        in.add(Status.fromThrowable(t));
                    }

                    public void onCompleted() {
                        in.add("completed");
                    }
                });
        return new Call(out, in);
    }

    static ByteString newEpoch() {
        byte[] b = new byte[16];
        new SecureRandom().nextBytes(b);
        return ByteString.copyFrom(b);
    }

    static AgentMessage hello(String node, ByteString epoch) {
        return AgentMessage.newBuilder().setHello(AgentHello.newBuilder().setNode(node).setSpoolEpoch(epoch)).build();
    }

    static AgentMessage batch(ByteString epoch, String text, long... sequences) {
        Batch.Builder b = Batch.newBuilder();
        for (long s : sequences) {
            b.addRecords(Record.newBuilder().setSequence(s).setEpoch(epoch).setViolation(Violation.newBuilder()
                    .setRule("r").setPriority(Priority.PRIORITY_CRITICAL).setOutput(text + " " + s)));
        }
        return AgentMessage.newBuilder().setBatch(b).build();
    }

    private String metrics() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        new PrometheusTextFormatWriter(false).write(out, registry.scrape());
        return out.toString();
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    @Test
    void aClientCertificateForOneNodeCannotWriteAsAnotherNorCanOneWithTwoCommonNames() throws Exception {
        TestPki pki = new TestPki(dir);
        pki.issue("server", "collector");
        pki.issue("node-a", "node-a");
        pki.issueSubject("two-names", "CN=node-b,CN=node-a");
        server = new CollectorServer(store, new InetSocketAddress("127.0.0.1", 0), new CollectorServer.Tls(
                pki.cert("server"), pki.key("server"), pki.caFile(), false), registry, List.of(), log::add);
        ManagedChannel asA = mtls(pki, "node-a");
        ManagedChannel twoNames = mtls(pki, "two-names");
        try {
            ByteString epoch = newEpoch();
            Call forged = call(asA);
            forged.out().onNext(hello("node-b", epoch));   // node A's certificate, node B's name
            Status refused = forged.status();
            assertThat(refused.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(refused.getDescription()).contains("'node-b' does not match the client certificate ('node-a')");
            assertThat(log).anyMatch(l -> l.startsWith("WARN refused") && l.contains("'node-a'")
                    && l.contains("claims node 'node-b'"));
            for (String claim : List.of("node-a", "node-b")) {
                Call ambiguous = call(twoNames);
                ambiguous.out().onNext(hello(claim, epoch));
                Status s = ambiguous.status();
                assertThat(s.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
                assertThat(s.getDescription()).contains("2 CN attributes");
            }
            Call honest = call(asA);   // the certificate's own node is served
            honest.out().onNext(hello("node-a", epoch));
            assertThat(honest.message().hasHelloAck()).isTrue();
            honest.out().onNext(batch(epoch, "real", 1));
            assertThat(honest.message().getAck().getSequence()).isEqualTo(1);
            honest.out().onCompleted();
            assertThat(honest.next()).isEqualTo("completed");
            assertThat(store.sequences("node-b", "violations")).isEmpty();
            assertThat(store.sequences("node-a", "violations")).containsExactly(1L);
            await(() -> server.activeStreams() == 0, "the refused streams released");
            assertThat(metrics()).contains("agentguard_collector_streams_active 0.0")
                    .contains("agentguard_collector_streams_rejected_total{reason=\"node-mismatch\"} 1.0")
                    .contains("agentguard_collector_streams_rejected_total{reason=\"bad-certificate\"} 2.0");
        } finally {
            asA.shutdownNow();
            twoNames.shutdownNow();
        }
    }

    private ManagedChannel mtls(TestPki pki, String client) throws Exception {
        return NettyChannelBuilder.forAddress("localhost", server.port()).sslContext(GrpcSslContexts.forClient()
                .trustManager(pki.caFile()).keyManager(pki.cert(client), pki.key(client)).build()).build();
    }

    @Test
    void prefilledSequencesDoNotHideTheAgentsRecordsTheyAreKeptAsConflictsAndTheAgentIsTold() throws Exception {
        plaintextServer();
        ByteString epoch = newEpoch();
        // the attacker writes the agent's next keys (node, epoch, 1..3) before the agent sends
        Call attacker = call(channel);
        attacker.out().onNext(hello("node-p", epoch));
        attacker.message();
        attacker.out().onNext(batch(epoch, "forged", 1, 2, 3));
        assertThat(attacker.message().getAck().getConflictsList()).isEmpty();
        attacker.out().onCompleted();
        attacker.next();

        Call agent = call(channel);
        agent.out().onNext(hello("node-p", epoch));
        assertThat(agent.message().getHelloAck().getLastSequence()).isEqualTo(3);   // information, not a skip
        agent.out().onNext(batch(epoch, "real", 1, 2, 3, 4, 5));
        var ack = agent.message().getAck();
        assertThat(ack.getSequence()).isEqualTo(5);
        assertThat(ack.getConflictsList()).containsExactly(1L, 2L, 3L);   // not "stored" as if identical
        agent.out().onNext(batch(epoch, "real", 1, 2, 3));   // resent (a lost ack): the same answer, nothing twice
        assertThat(agent.message().getAck().getConflictsList()).containsExactly(1L, 2L, 3L);
        agent.out().onNext(batch(epoch, "real", 4, 5));       // its own records again: plain duplicates
        assertThat(agent.message().getAck().getConflictsList()).isEmpty();

        List<JdbcStore.Conflict> conflicts = store.conflicts("node-p", 0, 100);
        assertThat(conflicts).extracting(c -> Violation.parseFrom(c.data()).getOutput())
                .containsExactly("real 1", "real 2", "real 3");
        assertThat(conflicts).extracting(c -> Violation.parseFrom(c.firstData()).getOutput())
                .containsExactly("forged 1", "forged 2", "forged 3");
        assertThat(conflicts).allMatch(c -> c.peer().startsWith("unauthenticated "));
        assertThat(store.query(new JdbcStore.Filter(null, "node-p", null, null, 0, 100)))
                .extracting(v -> v.violation().getOutput() + (v.conflicted() ? " (conflict)" : ""))
                .containsExactly("forged 1 (conflict)", "forged 2 (conflict)", "forged 3 (conflict)", "real 4", "real 5");
        assertThat(store.conflictCount()).isEqualTo(3);
        assertThat(metrics()).contains("agentguard_collector_records_conflict_total 3.0");
        assertThat(log).anyMatch(l -> l.startsWith("WARN node 'node-p'") && l.contains("3 record(s)")
                && l.contains("query --conflicts"));
    }

    @Test
    void aRecreatedSpoolsNewEpochIsStoredBesideTheOldNotSwallowed() throws Exception {
        plaintextServer();
        ByteString first = newEpoch();
        Call before = call(channel);
        before.out().onNext(hello("node-r", first));
        before.message();
        before.out().onNext(batch(first, "old spool", 1, 2, 3, 4, 5));
        assertThat(before.message().getAck().getSequence()).isEqualTo(5);
        before.out().onCompleted();
        before.next();
        // the spool was deleted: a new epoch, sequences from 1 again
        ByteString second = newEpoch();
        Call after = call(channel);
        after.out().onNext(hello("node-r", second));
        assertThat(after.message().getHelloAck().getLastSequence()).isZero();
        after.out().onNext(batch(second, "new spool", 1, 2));
        var ack = after.message().getAck();
        assertThat(ack.getSequence()).isEqualTo(2);
        assertThat(ack.getConflictsList()).isEmpty();
        String oldHex = HexFormat.of().formatHex(first.toByteArray());
        String newHex = HexFormat.of().formatHex(second.toByteArray());
        assertThat(store.sequences("node-r", oldHex, "violations")).containsExactly(1L, 2L, 3L, 4L, 5L);
        assertThat(store.sequences("node-r", newHex, "violations")).containsExactly(1L, 2L);
        assertThat(log).anyMatch(l -> l.contains("node 'node-r'") && l.contains("new spool epoch " + newHex)
                && l.contains("was " + oldHex));
        // and a record that names another epoch than its stream's is refused
        after.out().onNext(batch(first, "mixed", 3));
        Status s = after.status();
        assertThat(s.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(s.getDescription()).contains("carries spool epoch '" + oldHex + "'");
    }

    @Test
    void anOversizedMessageGetsResourceExhaustedAndTheStreamIsReleased() throws Exception {
        plaintextServer();
        ByteString epoch = newEpoch();
        Call c = call(channel);
        c.out().onNext(hello("node-o", epoch));
        c.message();
        c.out().onNext(AgentMessage.newBuilder().setBatch(Batch.newBuilder().addRecords(Record.newBuilder()
                .setSequence(1).setEpoch(epoch).setViolation(Violation.newBuilder()
                        .setOutput("x".repeat(CollectorServer.MAX_MESSAGE_BYTES + 10))))).build());
        Status s = c.status();
        assertThat(s.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(s.getDescription()).contains("over the 16777216-byte limit");
        assertThat(store.sequences("node-o", "violations")).isEmpty();
        await(() -> server.activeStreams() == 0, "the refused stream released");
    }

    @Test
    void streamsActiveReturnsToZeroAfterEveryKindOfRefusal() throws Exception {
        plaintextServer();
        ByteString epoch = newEpoch();
        List<List<AgentMessage>> refusals = List.of(
                List.of(hello("", epoch)),                                            // no node
                List.of(batch(epoch, "x", 1)),                                        // batch before hello
                List.of(AgentMessage.newBuilder().setHello(AgentHello.newBuilder().setNode("n")).build()),   // no epoch
                List.of(hello("n", epoch), batch(epoch, "x", 1, 3)),                  // not consecutive
                List.of(hello("n", epoch), batch(newEpoch(), "x", 1)),                // another epoch
                List.of(hello("n", epoch), hello("n", epoch)),                        // a second hello
                List.of(AgentMessage.getDefaultInstance()));                          // empty
        for (List<AgentMessage> messages : refusals) {
            Call c = call(channel);
            Object last = null;
            for (AgentMessage m : messages) {
                c.out().onNext(m);
                last = c.next();
            }
            assertThat(last).isInstanceOf(Status.class);
            assertThat(((Status) last).getCode()).isIn(Status.Code.INVALID_ARGUMENT, Status.Code.FAILED_PRECONDITION);
        }
        await(() -> server.activeStreams() == 0, "every refused stream released (" + server.activeStreams() + " left)");
        assertThat(metrics()).contains("agentguard_collector_streams_active 0.0");
    }

    @Test
    void aNodeNameThatCouldForgeLogLinesIsRefused() throws Exception {
        plaintextServer();
        ByteString epoch = newEpoch();
        for (String node : List.of("n\nWARN refused 127.0.0.1: forged", "with space", "x".repeat(254), "n\u0000")) {
            Call c = call(channel);
            c.out().onNext(hello(node, epoch));
            Object answer = c.next();
            assertThat(answer).as(node).isInstanceOf(Status.class);
            assertThat(((Status) answer).getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(((Status) answer).getDescription()).contains("printable ASCII");
        }
        Call ok = call(channel);
        ok.out().onNext(hello("gpu-node-7.example", epoch));
        assertThat(ok.next()).isNotInstanceOf(Status.class);
        ok.out().onCompleted();
        await(() -> server.activeStreams() == 0, "every stream released");
    }

    @Test
    void unauthenticatedListenersOffLoopbackAreRefusedUnlessForced() throws Exception {
        InetSocketAddress any = new InetSocketAddress("0.0.0.0", 4317);
        InetSocketAddress any6 = new InetSocketAddress("::", 4317);
        InetSocketAddress lan = new InetSocketAddress("192.0.2.7", 4317);   // TEST-NET-1: classified, never bound
        CollectorServer.Tls plaintext = new CollectorServer.Tls(null, null, null, true);
        CollectorServer.Tls serverOnly = new CollectorServer.Tls(dir.resolve("s.pem").toFile(),
                dir.resolve("s.key").toFile(), null, false);
        CollectorServer.Tls mutual = new CollectorServer.Tls(dir.resolve("s.pem").toFile(),
                dir.resolve("s.key").toFile(), dir.resolve("ca.pem").toFile(), false);
        for (InetSocketAddress a : List.of(any, any6, lan, InetSocketAddress.createUnresolved("collector.example", 4317))) {
            assertThat(CollectorServer.isLoopback(a)).as(a.toString()).isFalse();
            assertThat(CollectorServer.refusal(a, plaintext)).as(a.toString()).contains("refusing to listen")
                    .contains("with plaintext").contains("--allow-unauthenticated-nodes");
            assertThat(CollectorServer.refusal(a, serverOnly)).contains("TLS without client certificates");
            assertThat(CollectorServer.refusal(a, mutual)).isNull();
            assertThat(CollectorServer.refusal(a, new CollectorServer.Tls(null, null, null, true, true))).isNull();
        }
        for (String host : List.of("127.0.0.1", "127.0.0.2", "::1", "localhost")) {
            assertThat(CollectorServer.isLoopback(new InetSocketAddress(host, 4317))).as(host).isTrue();
            assertThat(CollectorServer.refusal(new InetSocketAddress(host, 4317), plaintext)).isNull();
        }
        // the server itself refuses before binding anything
        assertThatThrownBy(() -> new CollectorServer(store, new InetSocketAddress("0.0.0.0", 0), plaintext, registry))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a loopback address");
        // and so does the command, with the reason, exit 2 (it would block serving if it started)
        PrintStream savedErr = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true));
        try {
            int rc = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> CollectorMain.execute("serve", "--plaintext",
                    "--listen", "0.0.0.0:0", "--metrics-listen", "", "--db", "sqlite:" + dir.resolve("c.db")));
            assertThat(rc).isEqualTo(2);
        } finally {
            System.setErr(savedErr);
        }
        assertThat(err.toString()).contains("refusing to listen on 0.0.0.0:0 with plaintext");
    }
}
