package io.agentguard.report;

import io.agentguard.collector.TestPki;

import com.google.protobuf.Timestamp;
import io.agentguard.collector.server.CollectorServer;
import io.agentguard.collector.store.JdbcStore;
import io.agentguard.proto.v1.Heartbeat;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.ProcessInfo;
import io.agentguard.proto.v1.Record;
import io.agentguard.proto.v1.Violation;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.LongStream;

import static org.assertj.core.api.Assertions.assertThat;

/** Agent reporter against a real collector over gRPC on loopback: TLS, mTLS, restarts, spool damage. */
class ReportingTest {
    private final io.agentguard.log.Log log = new io.agentguard.log.Log(new PrintStream(new ByteArrayOutputStream(), true),
            io.agentguard.log.Log.Level.INFO, false);

    static Violation violation(long i) {
        return Violation.newBuilder().setRule("rule-" + (i % 7)).setPriority(Priority.PRIORITY_WARNING)
                .setTime(Timestamp.newBuilder().setSeconds(1_790_000_000L + i))
                .setOutput("violation " + i).setProcess(ProcessInfo.newBuilder().setPid((int) (1000 + i % 50)))
                .setCgroupPath("agents/a").build();
    }

    private Reporter reporter(Path spoolDir, List<String> targets, String node, boolean plaintext, TestPki pki,
                              String clientName) {
        return new Reporter(new Reporter.Settings(targets, node, "enforce", plaintext, pki == null ? null : pki.caFile(),
                clientName == null ? null : pki.cert(clientName), clientName == null ? null : pki.key(clientName), 500, 4,
                5000, 1000, 1000), new Spool(spoolDir, 1 << 20, 1L << 30), Heartbeat::newBuilder, Map.of("exec", "tp_btf"),
                "test", log);
    }

    private static void await(BooleanSupplier condition, long timeoutMs, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    /** A collector stand-in on loopback that hands every message, with its reply stream, to the test. */
    private static io.grpc.Server peer(java.util.function.BiConsumer<io.agentguard.proto.v1.AgentMessage,
            io.grpc.stub.StreamObserver<io.agentguard.proto.v1.CollectorMessage>> onMessage) throws java.io.IOException {
        return io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(io.grpc.ServerServiceDefinition.builder(io.agentguard.proto.v1.CollectorService.SERVICE)
                        .addMethod(io.agentguard.proto.v1.CollectorService.STREAM,
                                io.grpc.stub.ServerCalls.asyncBidiStreamingCall(out -> new io.grpc.stub.StreamObserver<>() {
                                    public void onNext(io.agentguard.proto.v1.AgentMessage m) {
                                        onMessage.accept(m, out);
                                    }

                                    public void onError(Throwable t) {
                                    }

                                    public void onCompleted() {
                                    }
                                })).build()).build().start();
    }

    private static CollectorServer server(JdbcStore store, int port, CollectorServer.Tls tls) throws Exception {
        return new CollectorServer(store, new InetSocketAddress("127.0.0.1", port), tls, new PrometheusRegistry());
    }

    @Test
    void hundredThousandViolationsSurviveTwoCollectorKillsStoredOnceAndInOrder(@TempDir Path dir) throws Exception {
        JdbcStore store = JdbcStore.open("sqlite:" + dir.resolve("c.db"));
        CollectorServer server = server(store, 0, CollectorServer.Tls.plaintextForTests());
        int port = server.port();
        try (Reporter r = reporter(dir.resolve("spool"), List.of("127.0.0.1:" + port), "node-a", true, null, null)) {
            int total = 100_000;
            for (int i = 1; i <= total; i++) {
                r.offer(violation(i));
                if (i == 30_000 || i == 65_000) {
                    long before = r.spool().acked();
                    long connectsBefore = r.connects();
                    await(() -> r.spool().acked() > before + 1000 && !r.connectedTo().isEmpty(), 30_000,
                            "deliveries on a live stream before the kill");
                    assertThat(connectsBefore).isPositive();
                    server.kill();                          // killed mid-stream
                    Thread.sleep(300);
                    server = server(store, port, CollectorServer.Tls.plaintextForTests());
                }
                if (i % 20_000 == 0) {
                    Thread.sleep(50);   // let the writer keep the queue short
                }
            }
            await(() -> r.spool().acked() == total, 120_000, "all acknowledged");
            List<Long> stored = store.sequences("node-a", "violations");
            assertThat(stored).hasSize(total);
            assertThat(stored).isEqualTo(LongStream.rangeClosed(1, total).boxed().toList());
            assertThat(r.connects()).isGreaterThanOrEqualTo(3);
            assertThat(r.dropped()).isZero();
            // each stored once, and stored in sequence order
            var first = store.query(new JdbcStore.Filter(null, "node-a", null, null, 0, 3));
            assertThat(first).extracting(JdbcStore.StoredViolation::sequence).containsExactly(1L, 2L, 3L);
            assertThat(first.getFirst().violation().getOutput()).isEqualTo("violation 1");
        } finally {
            server.close();
            store.close();
        }
    }

    @Test
    void anAgentRestartedWithAFullSpoolDeliversItAndContinuesTheSequence(@TempDir Path dir) throws Exception {
        Path spool = dir.resolve("spool");
        try (Reporter offline = reporter(spool, List.of("127.0.0.1:1"), "node-b", true, null, null)) {
            for (int i = 1; i <= 500; i++) {
                offline.offer(violation(i));
            }
            await(() -> offline.spoolPending() == 500, 10_000, "spooled");
        }
        JdbcStore store = JdbcStore.open("sqlite:" + dir.resolve("c.db"));
        try (CollectorServer server = server(store, 0, CollectorServer.Tls.plaintextForTests());
             Reporter restarted = reporter(spool, List.of("127.0.0.1:" + server.port()), "node-b", true, null, null)) {
            restarted.offer(violation(501));
            await(() -> restarted.spool().acked() == 501, 30_000, "delivered");
            assertThat(store.sequences("node-b", "violations")).isEqualTo(LongStream.rangeClosed(1, 501).boxed().toList());
        } finally {
            store.close();
        }
    }

    @Test
    void aDamagedSpoolFrameIsSkippedTheRestDeliveredAndTheLossCounted(@TempDir Path dir) throws Exception {
        Path spoolDir = dir.resolve("spool");
        try (Spool s = new Spool(spoolDir, 1 << 20, 1L << 30)) {
            List<Record.Builder> batch = new java.util.ArrayList<>();
            for (int i = 1; i <= 100; i++) {
                batch.add(Record.newBuilder().setViolation(violation(i)));
            }
            s.write(batch);
        }
        Path segment;
        try (var files = Files.list(spoolDir)) {
            segment = files.filter(p -> p.getFileName().toString().startsWith("seg-")).findFirst().orElseThrow();
        }
        try (RandomAccessFile f = new RandomAccessFile(segment.toFile(), "rw")) {
            f.seek(f.length() / 2);              // flip bytes inside one record in the middle
            f.write(new byte[] {0x7f, 0x7f, 0x7f, 0x7f});
        }
        JdbcStore store = JdbcStore.open("sqlite:" + dir.resolve("c.db"));
        try (CollectorServer server = server(store, 0, CollectorServer.Tls.plaintextForTests());
             Reporter r = reporter(spoolDir, List.of("127.0.0.1:" + server.port()), "node-c", true, null, null)) {
            assertThat(r.spool().corruptFrames()).isGreaterThanOrEqualTo(1);
            await(() -> r.spool().acked() == 100, 30_000, "the rest delivered");
            List<Long> stored = store.sequences("node-c", "violations");
            assertThat(stored).hasSizeBetween(98, 99).contains(1L, 100L);
        } finally {
            store.close();
        }
    }

    @Test
    void tlsAndMutualTlsWithTestGeneratedCertificates(@TempDir Path dir) throws Exception {
        TestPki pki = new TestPki(dir);
        pki.issue("server", "collector");
        pki.issue("node-d", "node-d");
        pki.issue("intruder", "node-x");
        JdbcStore store = JdbcStore.open("sqlite:" + dir.resolve("c.db"));
        // server-authenticated TLS
        try (CollectorServer tls = server(store, 0, new CollectorServer.Tls(pki.cert("server"), pki.key("server"), null, false));
             Reporter r = reporter(dir.resolve("s1"), List.of("localhost:" + tls.port()), "node-t", false, pki, null)) {
            r.offer(violation(1));
            await(() -> r.spool().acked() == 1, 30_000, "delivered over TLS");
        }
        // mutual TLS: a known client is accepted, its CN must match the hello
        try (CollectorServer mtls = server(store, 0, new CollectorServer.Tls(pki.cert("server"), pki.key("server"),
                pki.caFile(), false))) {
            try (Reporter ok = reporter(dir.resolve("s2"), List.of("localhost:" + mtls.port()), "node-d", false, pki,
                    "node-d")) {
                ok.offer(violation(1));
                await(() -> ok.spool().acked() == 1, 30_000, "delivered over mTLS");
            }
            try (Reporter noCert = reporter(dir.resolve("s3"), List.of("localhost:" + mtls.port()), "node-d", false, pki,
                    null);
                 Reporter wrongName = reporter(dir.resolve("s4"), List.of("localhost:" + mtls.port()), "node-d", false,
                         pki, "intruder")) {
                noCert.offer(violation(2));
                wrongName.offer(violation(3));
                await(() -> wrongName.lastError().contains("does not match the client certificate"), 10_000,
                        "the collector refusing a certificate for another node");
                await(() -> !noCert.lastError().isEmpty(), 10_000, "the collector refusing a client without certificate");
                assertThat(noCert.spool().acked()).isZero();
                assertThat(wrongName.spool().acked()).isZero();
            }
        }
        assertThat(store.sequences("node-d", "violations")).containsExactly(1L);
        assertThat(store.sequences("node-t", "violations")).containsExactly(1L);
        store.close();
    }

    @Test
    void aCollectorThatNeverAcknowledgesIsLeftAndTheRecordsKept(@TempDir Path dir) throws Exception {
        // a peer that answers the hello and then ignores every batch
        io.grpc.Server silent = peer((m, out) -> {
            if (m.hasHello()) {
                out.onNext(io.agentguard.proto.v1.CollectorMessage.newBuilder().setHelloAck(
                        io.agentguard.proto.v1.HelloAck.getDefaultInstance()).build());
            }
        });
        try (Reporter r = new Reporter(new Reporter.Settings(List.of("127.0.0.1:" + silent.getPort()), "node-s", "enforce",
                true, null, null, null, 500, 4, 500, 1000, 200), new Spool(dir.resolve("spool"), 1 << 20, 1L << 30),
                Heartbeat::newBuilder, Map.of(), "test", log)) {
            r.offer(violation(1));
            await(() -> r.lastError().contains("no acknowledgement for 500 ms"), 10_000, "giving up on the silent peer");
            await(() -> r.connects() >= 2, 10_000, "reconnecting");
            assertThat(r.spoolPending()).isEqualTo(1);   // kept for the next collector
        } finally {
            silent.shutdownNow();
        }
    }

    /** Batch sizes as a hand-driven collector saw them, each with what it had acknowledged by then. */
    record Seen(int records, long ackedBefore) {
    }

    @Test
    void fullBatchesFillTheWindowAndRecordsArrivingWhileAPartialOneIsOutGoTogetherAfterItsAck(@TempDir Path dir)
            throws Exception {
        List<Seen> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.concurrent.atomic.AtomicLong acked = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicReference<io.grpc.stub.StreamObserver<io.agentguard.proto.v1.CollectorMessage>> stream =
                new java.util.concurrent.atomic.AtomicReference<>();
        // a peer that answers and acknowledges only when the test says so
        io.grpc.Server peer = peer((m, out) -> {
            if (m.hasHello()) {
                stream.set(out);
            } else if (m.hasBatch()) {
                seen.add(new Seen(m.getBatch().getRecordsCount(), acked.get()));
            }
        });
        java.util.function.LongConsumer ack = upTo -> {
            acked.set(upTo);
            stream.get().onNext(io.agentguard.proto.v1.CollectorMessage.newBuilder()
                    .setAck(io.agentguard.proto.v1.Ack.newBuilder().setSequence(upTo)).build());
        };
        try (Reporter r = new Reporter(new Reporter.Settings(List.of("127.0.0.1:" + peer.getPort()), "node-w", "enforce",
                true, null, null, null, 500, 4, 60_000, 60_000, 200), new Spool(dir.resolve("spool"), 1 << 20, 1L << 30),
                Heartbeat::newBuilder, Map.of(), "test", log)) {
            await(() -> stream.get() != null, 10_000, "the hello");
            for (long i = 1; i <= 2100; i++) {
                r.offer(violation(i));
            }
            await(() -> r.spoolPending() == 2100, 10_000, "2100 records spooled");
            stream.get().onNext(io.agentguard.proto.v1.CollectorMessage.newBuilder()
                    .setHelloAck(io.agentguard.proto.v1.HelloAck.getDefaultInstance()).build());
            await(() -> seen.size() == 4, 10_000, "four full batches");
            ack.accept(2000);
            await(() -> seen.size() == 5, 10_000, "the rest after the ack");
            ack.accept(2100);
            await(() -> r.spoolPending() == 0, 10_000, "all acknowledged");

            r.offer(violation(2101));   // alone: out at once
            await(() -> seen.size() == 6, 10_000, "a single record");
            for (long i = 2102; i <= 2106; i++) {
                r.offer(violation(i));   // while 2101 is unacknowledged: held, then one batch
            }
            await(() -> r.spoolPending() == 6, 10_000, "five more spooled");
            Thread.sleep(500);   // room for a sender that would not hold them (the assertion needs no timing)
            ack.accept(2101);
            await(() -> seen.size() == 7, 10_000, "the five after the ack");
            ack.accept(2106);
            await(() -> r.spoolPending() == 0, 10_000, "all acknowledged");
            assertThat(seen).containsExactly(new Seen(500, 0), new Seen(500, 0), new Seen(500, 0), new Seen(500, 0),
                    new Seen(100, 2000), new Seen(1, 2100), new Seen(5, 2101));
        } finally {
            peer.shutdownNow();
        }
    }

    @Test
    void aFullSpoolDropsNewRecordsAndCountsThem(@TempDir Path dir) throws Exception {
        try (Reporter r = new Reporter(new Reporter.Settings(List.of("127.0.0.1:1"), "node-f", "enforce", true, null, null,
                null, 500, 4, 5000, 1000, 1000), new Spool(dir.resolve("spool"), 16 << 10, 32 << 10), Heartbeat::newBuilder,
                Map.of(), "test", log)) {
            for (int i = 1; i <= 2000; i++) {
                r.offer(violation(i));
            }
            await(() -> r.spoolPending() + r.dropped() == 2000, 10_000, "every record spooled or counted");
            assertThat(r.dropped()).isPositive();
            assertThat(r.spoolPending()).isPositive();
            assertThat(r.spool().bytes()).isLessThan((32 << 10) + 2048);
        }
    }

    /** Spools records with no collector reachable, then stops: they wait in the spool for the next start. */
    private void spoolOffline(Path spool, String node, long from, long to) throws Exception {
        try (Reporter offline = reporter(spool, List.of("127.0.0.1:1"), node, true, null, null)) {
            long before = offline.spoolPending();
            for (long i = from; i <= to; i++) {
                offline.offer(violation(i));
            }
            await(() -> offline.spoolPending() == before + (to - from + 1), 10_000, "spooled");
        }
    }

    /** Plays a peer that writes records under a node and spool epoch (plaintext, loopback). */
    private static void writeAs(int port, String node, com.google.protobuf.ByteString epoch, String text, long from, long to)
            throws Exception {
        io.grpc.ManagedChannel ch = io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder.forAddress("127.0.0.1", port)
                .usePlaintext().build();
        try {
            java.util.concurrent.LinkedBlockingQueue<Object> in = new java.util.concurrent.LinkedBlockingQueue<>();
            var out = io.grpc.stub.ClientCalls.asyncBidiStreamingCall(ch.newCall(
                    io.agentguard.proto.v1.CollectorService.STREAM, io.grpc.CallOptions.DEFAULT),
                    new io.grpc.stub.StreamObserver<io.agentguard.proto.v1.CollectorMessage>() {
                        public void onNext(io.agentguard.proto.v1.CollectorMessage m) {
                            in.add(m);
                        }

                        public void onError(Throwable t) {
                            in.add(t);
                        }

                        public void onCompleted() {
                            in.add("completed");
                        }
                    });
            out.onNext(io.agentguard.proto.v1.AgentMessage.newBuilder().setHello(io.agentguard.proto.v1.AgentHello
                    .newBuilder().setNode(node).setSpoolEpoch(epoch)).build());
            assertThat(in.poll(10, TimeUnit.SECONDS)).isInstanceOf(io.agentguard.proto.v1.CollectorMessage.class);
            var batch = io.agentguard.proto.v1.Batch.newBuilder();
            for (long i = from; i <= to; i++) {
                batch.addRecords(Record.newBuilder().setSequence(i).setEpoch(epoch)
                        .setViolation(violation(i).toBuilder().setOutput(text + " " + i)));
            }
            out.onNext(io.agentguard.proto.v1.AgentMessage.newBuilder().setBatch(batch).build());
            Object ack = in.poll(10, TimeUnit.SECONDS);
            assertThat(ack).isInstanceOf(io.agentguard.proto.v1.CollectorMessage.class);
            assertThat(((io.agentguard.proto.v1.CollectorMessage) ack).getAck().getSequence()).isEqualTo(to);
            out.onCompleted();
            in.poll(10, TimeUnit.SECONDS);
        } finally {
            ch.shutdownNow();
        }
    }

    private static com.google.protobuf.ByteString epochOf(Path spool) throws Exception {
        return com.google.protobuf.ByteString.copyFrom(java.util.HexFormat.of().parseHex(
                Files.readString(spool.resolve("epoch")).trim()));
    }

    @Test
    void sequencesPrefilledByAnotherPeerDoNotMakeTheAgentsRecordsCountAsDeliveredAndVanish(@TempDir Path dir)
            throws Exception {
        Path spool = dir.resolve("spool");
        spoolOffline(spool, "node-v", 1, 5);   // five violations wait for the collector
        JdbcStore store = JdbcStore.open("sqlite:" + dir.resolve("c.db"));
        try (CollectorServer server = server(store, 0, CollectorServer.Tls.plaintextForTests())) {
            // the attacker knows the epoch (the worst case) and writes sequences 1..10 first
            writeAs(server.port(), "node-v", epochOf(spool), "forged", 1, 10);
            try (Reporter r = reporter(spool, List.of("127.0.0.1:" + server.port()), "node-v", true, null, null)) {
                await(() -> r.spool().acked() == 5, 30_000, "the five delivered");
                assertThat(r.conflicts()).isEqualTo(5);          // told: kept as conflicts, not stored as sent
                assertThat(r.collectorAhead()).isPositive();     // and that the collector held more than it wrote
            }
            assertThat(store.conflicts("node-v", 0, 100)).extracting(c -> Violation.parseFrom(c.data()).getOutput())
                    .containsExactly("violation 1", "violation 2", "violation 3", "violation 4", "violation 5");
        } finally {
            store.close();
        }
    }

    @Test
    void aDeletedSpoolStartsANewEpochAndItsRecordsAreStoredNotSwallowed(@TempDir Path dir) throws Exception {
        Path spool = dir.resolve("spool");
        JdbcStore store = JdbcStore.open("sqlite:" + dir.resolve("c.db"));
        try (CollectorServer server = server(store, 0, CollectorServer.Tls.plaintextForTests())) {
            String firstEpoch;
            try (Reporter r = reporter(spool, List.of("127.0.0.1:" + server.port()), "node-e", true, null, null)) {
                for (int i = 1; i <= 5; i++) {
                    r.offer(violation(i));
                }
                await(() -> r.spool().acked() == 5, 30_000, "the first five delivered");
                firstEpoch = r.spool().epochHex();
            }
            try (var files = Files.walk(spool)) {   // the spool is deleted
                for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
            spoolOffline(spool, "node-e", 101, 103);   // sequences 1..3 again, in a new spool
            try (Reporter r = reporter(spool, List.of("127.0.0.1:" + server.port()), "node-e", true, null, null)) {
                assertThat(r.spool().epochHex()).isNotEqualTo(firstEpoch).hasSize(32);
                await(() -> r.spool().acked() == 3, 30_000, "the new spool's three delivered");
                assertThat(store.sequences("node-e", r.spool().epochHex(), "violations")).containsExactly(1L, 2L, 3L);
                assertThat(r.conflicts()).isZero();
            }
            assertThat(store.query(new JdbcStore.Filter(null, "node-e", null, null, 0, 100)))
                    .extracting(v -> v.violation().getOutput()).containsExactly("violation 1", "violation 2",
                            "violation 3", "violation 4", "violation 5", "violation 101", "violation 102", "violation 103");
        } finally {
            store.close();
        }
    }

    @Test
    void largeViolationsTogetherOverTheCollectorsMessageLimitAreDeliveredInSmallerBatches(@TempDir Path dir)
            throws Exception {
        JdbcStore store = JdbcStore.open("sqlite:" + dir.resolve("c.db"));
        try (CollectorServer server = server(store, 0, CollectorServer.Tls.plaintextForTests());
             Reporter r = reporter(dir.resolve("spool"), List.of("127.0.0.1:" + server.port()), "node-l", true, null,
                     null)) {
            // five of 3.5 MiB: under the spool's 4 MiB record limit each, 17.5 MiB together
            for (int i = 1; i <= 5; i++) {
                r.offer(violation(i).toBuilder().setOutput(i + "x".repeat(7 << 19)).build());
            }
            await(() -> r.spool().acked() == 5, 60_000, "all five delivered");
            assertThat(store.sequences("node-l", "violations")).containsExactly(1L, 2L, 3L, 4L, 5L);
            assertThat(r.oversized()).isZero();   // nothing had to be shrunk, only batched
        } finally {
            store.close();
        }
    }

    @Test
    void aRecordOverTheSpoolsLimitIsSpooledShrunkWithANoteInsteadOfReadingBackAsDamage(@TempDir Path dir)
            throws Exception {
        JdbcStore store = JdbcStore.open("sqlite:" + dir.resolve("c.db"));
        try (CollectorServer server = server(store, 0, CollectorServer.Tls.plaintextForTests());
             Reporter r = reporter(dir.resolve("spool"), List.of("127.0.0.1:" + server.port()), "node-h", true, null,
                     null)) {
            r.offer(violation(1).toBuilder().setOutput("y".repeat(5 << 20))
                    .addEvidence(io.agentguard.proto.v1.Event.newBuilder().setCpu(1)).build());
            await(() -> r.spool().acked() == 1, 30_000, "delivered");
            Violation stored = store.query(new JdbcStore.Filter(null, "node-h", null, null, 0, 10)).getFirst().violation();
            assertThat(stored.getTagsList()).contains(RecordLimits.TAG);
            assertThat(stored.getEvidenceCount()).isZero();
            assertThat(stored.getRule()).isEqualTo("rule-1");
            assertThat(stored.getOutput()).startsWith("yyy").endsWith("evidence and ancestry removed, text cut]");
            assertThat(r.oversized()).isEqualTo(1);
            assertThat(r.spool().corruptFrames()).isZero();
        } finally {
            store.close();
        }
    }

    @Test
    void aCollectorThatRefusesAMessageAsTooLargeGetsItShrunkNotResentForever(@TempDir Path dir) throws Exception {
        int limit = 200 << 10;
        List<Record> received = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.concurrent.atomic.AtomicInteger refusals = new java.util.concurrent.atomic.AtomicInteger();
        // a collector with a smaller limit than ours
        io.grpc.Server small = peer((m, out) -> {
            if (m.hasHello()) {
                out.onNext(io.agentguard.proto.v1.CollectorMessage.newBuilder().setHelloAck(
                        io.agentguard.proto.v1.HelloAck.getDefaultInstance()).build());
            } else if (m.hasBatch() && m.getSerializedSize() > limit) {
                refusals.incrementAndGet();
                out.onError(io.grpc.Status.RESOURCE_EXHAUSTED.withDescription("too large").asRuntimeException());
            } else if (m.hasBatch()) {
                received.addAll(m.getBatch().getRecordsList());
                out.onNext(io.agentguard.proto.v1.CollectorMessage.newBuilder().setAck(io.agentguard.proto.v1.Ack
                        .newBuilder().setSequence(m.getBatch().getRecords(m.getBatch().getRecordsCount() - 1)
                                .getSequence())).build());
            }
        });
        try (Reporter r = new Reporter(new Reporter.Settings(List.of("127.0.0.1:" + small.getPort()), "node-x", "enforce",
                true, null, null, null, 500, 4, 5000, 60_000, 200), new Spool(dir.resolve("spool"), 1 << 20, 1L << 30),
                Heartbeat::newBuilder, Map.of(), "test", log)) {
            r.offer(violation(1).toBuilder().setOutput("z".repeat(1 << 20)).build());
            await(() -> r.spool().acked() == 1, 60_000, "delivered after shrinking");
            assertThat(refusals.get()).isPositive();
            assertThat(r.oversized()).isPositive();
            assertThat(received).singleElement().satisfies(rec -> {
                assertThat(rec.getViolation().getTagsList()).contains(RecordLimits.TAG);
                assertThat(rec.getViolation().getRule()).isEqualTo("rule-1");
                assertThat(rec.getSerializedSize()).isLessThanOrEqualTo(limit);
            });
        } finally {
            small.shutdownNow();
        }
    }
}
