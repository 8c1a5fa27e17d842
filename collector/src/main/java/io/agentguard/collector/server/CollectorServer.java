package io.agentguard.collector.server;

import io.agentguard.collector.store.JdbcStore;
import io.agentguard.proto.v1.Ack;
import io.agentguard.proto.v1.AgentMessage;
import io.agentguard.proto.v1.CollectorMessage;
import io.agentguard.proto.v1.CollectorService;
import io.agentguard.proto.v1.HelloAck;
import io.agentguard.proto.v1.Record;
import io.grpc.Grpc;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.security.cert.X509Certificate;
import java.sql.SQLException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The gRPC server agents stream to. Per stream: the first message must be an AgentHello
 * (under mutual TLS the node name is the client certificate's CN, and a hello naming
 * another node is refused); batches must carry consecutive ascending sequences (a batch may
 * start after a gap: records the agent lost, counted); each batch
 * is stored in one transaction and then acknowledged. Bad peers get a gRPC status and the
 * stream ends; nothing they sent after the last acknowledgement is kept.
 */
public final class CollectorServer implements AutoCloseable {
    /** TLS material: plaintext only when asked for explicitly. */
    public record Tls(File certChain, File privateKey, File clientCa, boolean plaintext) {
        public static Tls plaintextForTests() {
            return new Tls(null, null, null, true);
        }
    }

    public static final int MAX_MESSAGE_BYTES = 16 << 20;

    private final JdbcStore store;
    private final Server server;
    private final boolean mutualTls;
    private final AtomicInteger activeStreams = new AtomicInteger();
    private final Counter stored;
    private final Counter duplicates;
    private final Counter rejected;
    private final Counter heartbeats;
    private final Counter gaps;

    public CollectorServer(JdbcStore store, InetSocketAddress listen, Tls tls, PrometheusRegistry registry)
            throws IOException {
        this(store, listen, tls, registry, java.util.List.of());
    }

    /** With extra interceptors on the stream (the end-to-end benchmark times acks with one). */
    public CollectorServer(JdbcStore store, InetSocketAddress listen, Tls tls, PrometheusRegistry registry,
                           java.util.List<io.grpc.ServerInterceptor> interceptors) throws IOException {
        this.store = store;
        this.mutualTls = tls.clientCa() != null;
        this.stored = Counter.builder().name("agentguard_collector_records_stored_total")
                .help("records stored, by kind").labelNames("kind").register(registry);
        this.duplicates = Counter.builder().name("agentguard_collector_records_duplicate_total")
                .help("records received again and ignored (already stored)").register(registry);
        this.rejected = Counter.builder().name("agentguard_collector_streams_rejected_total")
                .help("streams ended with an error status, by reason").labelNames("reason").register(registry);
        this.heartbeats = Counter.builder().name("agentguard_collector_heartbeats_total")
                .help("agent heartbeats received").register(registry);
        this.gaps = Counter.builder().name("agentguard_collector_sequence_gaps_total")
                .help("sequences an agent skipped (records it lost, e.g. to a damaged spool frame)").register(registry);
        io.prometheus.metrics.core.metrics.GaugeWithCallback.builder().name("agentguard_collector_streams_active")
                .help("agent streams open now").callback(cb -> cb.call(activeStreams.get())).register(registry);
        ServerServiceDefinition service = ServerServiceDefinition.builder(CollectorService.SERVICE)
                .addMethod(CollectorService.STREAM, ServerCalls.asyncBidiStreamingCall(this::stream))
                .build();
        io.grpc.ServerInterceptor sslToContext = new io.grpc.ServerInterceptor() {
            @Override
            public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(io.grpc.ServerCall<Q, R> call,
                    io.grpc.Metadata headers, io.grpc.ServerCallHandler<Q, R> next) {
                SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
                return io.grpc.Contexts.interceptCall(io.grpc.Context.current().withValue(SSL_SESSION, session), call,
                        headers, next);
            }
        };
        NettyServerBuilder builder = NettyServerBuilder.forAddress(listen)
                .addService(io.grpc.ServerInterceptors.intercept(
                        io.grpc.ServerInterceptors.intercept(service, sslToContext), interceptors))
                .maxInboundMessageSize(MAX_MESSAGE_BYTES)
                .permitKeepAliveTime(10, TimeUnit.SECONDS)
                .permitKeepAliveWithoutCalls(true);
        if (!tls.plaintext()) {
            SslContextBuilder ssl = GrpcSslContexts.forServer(tls.certChain(), tls.privateKey());
            if (tls.clientCa() != null) {
                ssl.trustManager(tls.clientCa()).clientAuth(ClientAuth.REQUIRE);
            }
            builder.sslContext(ssl.build());
        }
        this.server = builder.build().start();
    }

    public int port() {
        return server.getPort();
    }

    private StreamObserver<AgentMessage> stream(StreamObserver<CollectorMessage> out) {
        String certificateNode = peerNode();
        activeStreams.incrementAndGet();
        return new StreamObserver<>() {
            private String node;
            private long expectNext;
            private boolean done;

            @Override
            public void onNext(AgentMessage m) {
                if (done) {
                    return;
                }
                try {
                    switch (m.getKindCase()) {
                        case HELLO -> {
                            String claimed = m.getHello().getNode();
                            if (claimed.isEmpty()) {
                                fail(Status.INVALID_ARGUMENT.withDescription("hello without a node name"), "no-node");
                                return;
                            }
                            if (mutualTls && !claimed.equals(certificateNode)) {
                                fail(Status.PERMISSION_DENIED.withDescription("node '" + claimed
                                        + "' does not match the client certificate ('" + certificateNode + "')"), "node-mismatch");
                                return;
                            }
                            node = claimed;
                            store.hello(node, m.getHello());
                            long last = store.lastSequence(node);
                            expectNext = last + 1;
                            out.onNext(CollectorMessage.newBuilder().setHelloAck(HelloAck.newBuilder().setLastSequence(last))
                                    .build());
                        }
                        case BATCH -> {
                            if (node == null) {
                                fail(Status.FAILED_PRECONDITION.withDescription("a batch before the hello"), "no-hello");
                                return;
                            }
                            var records = m.getBatch().getRecordsList();
                            if (records.isEmpty()) {
                                return;
                            }
                            long previous = records.getFirst().getSequence() - 1;
                            for (Record r : records) {
                                if (r.getSequence() != previous + 1 || r.getKindCase() == Record.KindCase.KIND_NOT_SET) {
                                    fail(Status.INVALID_ARGUMENT.withDescription("batch sequences must be consecutive"
                                            + " and every record must hold a violation or an event (at " + r.getSequence()
                                            + ")"), "bad-batch");
                                    return;
                                }
                                previous = r.getSequence();
                            }
                            if (records.getFirst().getSequence() > expectNext) {
                                // records the agent lost (a damaged spool frame): counted, the rest stored
                                gaps.inc(records.getFirst().getSequence() - expectNext);
                            }
                            int fresh = store.append(node, records);
                            duplicates.inc(records.size() - fresh);
                            long violations = records.stream().filter(Record::hasViolation).count();
                            stored.labelValues("violation").inc(Math.min(violations, fresh));
                            stored.labelValues("event").inc(Math.max(0, fresh - violations));
                            expectNext = Math.max(expectNext, previous + 1);
                            out.onNext(CollectorMessage.newBuilder().setAck(Ack.newBuilder().setSequence(previous)).build());
                        }
                        case HEARTBEAT -> {
                            if (node != null) {
                                store.heartbeat(node, m.getHeartbeat());
                                heartbeats.inc();
                            }
                        }
                        default -> fail(Status.INVALID_ARGUMENT.withDescription("empty message"), "empty");
                    }
                } catch (SQLException e) {
                    fail(Status.UNAVAILABLE.withDescription("store failed: " + e.getMessage()), "store");
                }
            }

            private void fail(Status status, String reason) {
                done = true;
                rejected.labelValues(reason).inc();
                out.onError(status.asRuntimeException());
            }

            @Override
            public void onError(Throwable t) {
                end();
            }

            @Override
            public void onCompleted() {
                boolean failed = done;
                end();
                if (!failed) {
                    out.onCompleted();
                }
            }

            private void end() {
                if (!done) {
                    activeStreams.decrementAndGet();
                }
                done = true;
            }
        };
    }

    /** Under mutual TLS: the CN of the client certificate of the current call. */
    private String peerNode() {
        if (!mutualTls) {
            return null;
        }
        SSLSession session = SSL_SESSION.get();
        if (session == null) {
            return null;
        }
        try {
            X509Certificate cert = (X509Certificate) session.getPeerCertificates()[0];
            String dn = cert.getSubjectX500Principal().getName();
            for (String part : dn.split(",")) {
                if (part.trim().startsWith("CN=")) {
                    return part.trim().substring(3);
                }
            }
            return dn;
        } catch (SSLPeerUnverifiedException e) {
            return null;
        }
    }

    /** The TLS session of the current call, put in the gRPC context by an interceptor. */
    private static final io.grpc.Context.Key<SSLSession> SSL_SESSION = io.grpc.Context.key("agentguard-ssl-session");

    public int activeStreams() {
        return activeStreams.get();
    }

    /** Stops at once (in-flight streams end; agents reconnect to another collector or later). */
    public void kill() {
        server.shutdownNow();
        try {
            server.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        server.shutdown();
        try {
            if (!server.awaitTermination(10, TimeUnit.SECONDS)) {
                server.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
