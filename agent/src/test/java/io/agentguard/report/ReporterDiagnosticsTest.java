package io.agentguard.report;

import io.agentguard.collector.TestPki;
import io.agentguard.collector.server.CollectorServer;
import io.agentguard.collector.store.JdbcStore;
import io.agentguard.log.Log;
import io.agentguard.proto.v1.AgentMessage;
import io.agentguard.proto.v1.CollectorMessage;
import io.agentguard.proto.v1.CollectorService;
import io.agentguard.proto.v1.Heartbeat;
import io.agentguard.proto.v1.HelloAck;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/** What an operator is told when delivery fails: TLS/plaintext mismatches, a collector going away, the log line. */
class ReporterDiagnosticsTest {
    private final ByteArrayOutputStream logged = new ByteArrayOutputStream();
    private final Log log = new Log(new PrintStream(logged, true, StandardCharsets.UTF_8), Log.Level.INFO, true);

    private Reporter reporter(Path spoolDir, String target, boolean plaintext, TestPki pki) {
        return new Reporter(new Reporter.Settings(List.of(target), "node-d", "enforce", plaintext,
                pki == null ? null : pki.caFile(), null, null, 500, 4, 5000, 1000, 1000),
                new Spool(spoolDir, 1 << 20, 1L << 30), Heartbeat::newBuilder, Map.of(), "test", log);
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

    private static CollectorServer server(JdbcStore store, CollectorServer.Tls tls) throws Exception {
        return new CollectorServer(store, new InetSocketAddress("127.0.0.1", 0), tls, new PrometheusRegistry());
    }

    @Test
    void anAgentSpeakingTlsToAPlaintextCollectorIsToldTheCollectorSpeaksPlaintext(@TempDir Path dir) throws Exception {
        TestPki pki = new TestPki(dir);
        pki.issue("server", "collector");
        JdbcStore store = JdbcStore.open("sqlite:" + dir.resolve("c.db"));
        try (CollectorServer plain = server(store, CollectorServer.Tls.plaintextForTests());
             Reporter r = reporter(dir.resolve("s"), "localhost:" + plain.port(), false, pki)) {
            await(() -> !r.lastError().isEmpty(), 30_000, "the first failure");
            assertThat(r.lastError()).contains("the collector at localhost:" + plain.port() + " speaks plaintext")
                    .contains("report.tls is tls");
        } finally {
            store.close();
        }
    }

    @Test
    void aPlaintextAgentTalkingToATlsCollectorIsToldTheCollectorSpeaksTls(@TempDir Path dir) throws Exception {
        TestPki pki = new TestPki(dir);
        pki.issue("server", "collector");
        JdbcStore store = JdbcStore.open("sqlite:" + dir.resolve("c.db"));
        try (CollectorServer tls = server(store, new CollectorServer.Tls(pki.cert("server"), pki.key("server"), null, false));
             Reporter r = reporter(dir.resolve("s"), "127.0.0.1:" + tls.port(), true, null)) {
            await(() -> !r.lastError().isEmpty(), 30_000, "the first failure");
            assertThat(r.lastError()).contains("the collector at 127.0.0.1:" + tls.port()
                    + " speaks TLS but report.tls is plaintext");
        } finally {
            store.close();
        }
    }

    @Test
    void aTlsHandshakeThatFailsOnTrustSaysSo(@TempDir Path dir) throws Exception {
        TestPki pki = new TestPki(java.nio.file.Files.createDirectories(dir.resolve("a")));
        pki.issue("server", "collector");
        TestPki other = new TestPki(java.nio.file.Files.createDirectories(dir.resolve("b")));   // the agent trusts another CA
        JdbcStore store = JdbcStore.open("sqlite:" + dir.resolve("c.db"));
        try (CollectorServer tls = server(store, new CollectorServer.Tls(pki.cert("server"), pki.key("server"), null, false));
             Reporter r = reporter(dir.resolve("s"), "localhost:" + tls.port(), false, other)) {
            await(() -> !r.lastError().isEmpty(), 30_000, "the first failure");
            assertThat(r.lastError()).contains("TLS handshake with the collector at localhost:" + tls.port() + " failed: ");
        } finally {
            store.close();
        }
    }

    @Test
    void aDeliveryFailureIsLoggedAsAWarningWithOnePrefix(@TempDir Path dir) throws Exception {
        try (java.net.ServerSocket closed = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            int port = closed.getLocalPort();
            closed.close();   // nothing listens there now
            try (Reporter r = reporter(dir.resolve("s"), "127.0.0.1:" + port, true, null)) {
                await(() -> logged.toString(StandardCharsets.UTF_8).contains("retrying"), 30_000, "the failure logged");
            }
            String line = logged.toString(StandardCharsets.UTF_8).lines().filter(l -> l.contains("retrying"))
                    .findFirst().orElseThrow();
            assertThat(line).startsWith("<4>agentguard: collector 127.0.0.1:" + port + ": ")
                    .doesNotContain("agentguard: agentguard:");
        }
    }

    @Test
    void statusSaysDisconnectedWhenTheCollectorShutsDownThoughItsGracePeriodKeepsTheStreamOpen(@TempDir Path dir)
            throws Exception {
        // a collector that answers the hello, then shuts down gracefully: GOAWAY, but streams may run on
        io.grpc.Server peer = io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder
                .forAddress(new InetSocketAddress("127.0.0.1", 0))
                .permitKeepAliveTime(10, TimeUnit.SECONDS).permitKeepAliveWithoutCalls(true)
                .addService(io.grpc.ServerServiceDefinition.builder(CollectorService.SERVICE)
                        .addMethod(CollectorService.STREAM, io.grpc.stub.ServerCalls.asyncBidiStreamingCall(
                                out -> new io.grpc.stub.StreamObserver<AgentMessage>() {
                                    public void onNext(AgentMessage m) {
                                        if (m.hasHello()) {
                                            out.onNext(CollectorMessage.newBuilder()
                                                    .setHelloAck(HelloAck.getDefaultInstance()).build());
                                        }
                                    }

                                    public void onError(Throwable t) {
                                    }

                                    public void onCompleted() {
                                    }
                                })).build()).build().start();
        try (Reporter r = reporter(dir.resolve("s"), "127.0.0.1:" + peer.getPort(), true, null)) {
            await(() -> r.state().startsWith("connected to"), 30_000, "connected");
            peer.shutdown();   // graceful: never forced in this test
            // bound: twice the keepalive (10 s pings, 10 s timeout) that ends a stream to a silent peer
            await(() -> r.state().startsWith("disconnected"), 40_000, "status disconnected");
            assertThat(r.connectedTo()).isEmpty();
            assertThat(r.lastError()).contains("the collector closed the connection");
        } finally {
            peer.shutdownNow();
        }
    }
}
