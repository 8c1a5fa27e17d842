package io.agentguard.collector.server;

import io.agentguard.collector.store.JdbcStore;
import com.google.protobuf.ByteString;
import io.agentguard.proto.v1.Ack;
import io.agentguard.proto.v1.AgentHello;
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
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;

/**
 * The gRPC server agents stream to. Per stream: the first message must be an AgentHello
 * with the agent's spool epoch; under mutual TLS the node is the client certificate's one
 * CN and a hello naming another node is refused (PERMISSION_DENIED). Batches must carry
 * consecutive ascending sequences of the hello's epoch (a batch may start after a gap:
 * records the agent lost, counted); each batch is stored in one transaction and then
 * acknowledged, naming the sequences that conflicted with content already held (kept, not
 * dropped: {@link JdbcStore#append}). Bad peers get a gRPC status and the stream ends;
 * nothing they sent after the last acknowledgement is kept.
 * <p>
 * Without mutual TLS any peer can claim any node: such a listener must be on a loopback
 * address unless {@link Tls#allowUnauthenticated} says the operator accepts that.
 */
public final class CollectorServer implements AutoCloseable {
    /**
     * TLS material: plaintext only when asked for explicitly. allowUnauthenticated: plaintext or
     * server-only TLS may listen on a non-loopback address (nodes are then whoever they claim).
     */
    public record Tls(File certChain, File privateKey, File clientCa, boolean plaintext, boolean allowUnauthenticated) {
        public Tls(File certChain, File privateKey, File clientCa, boolean plaintext) {
            this(certChain, privateKey, clientCa, plaintext, false);
        }

        public static Tls plaintextForTests() {
            return new Tls(null, null, null, true, false);
        }
    }

    /** The largest message a stream may carry: a larger one ends it with RESOURCE_EXHAUSTED, nothing of it stored. */
    public static final int MAX_MESSAGE_BYTES = 16 << 20;
    /**
     * gRPC's maxInboundMessageSize, above {@link #MAX_MESSAGE_BYTES}: grpc-java refuses a
     * message over its transport limit on a client stream with a bare RST_STREAM, which the
     * peer sees as CANCELLED (grpc/grpc-java#11245), so the documented limit is checked here
     * after reading, where the peer gets RESOURCE_EXHAUSTED; only a message over this one is
     * cut off unread (CANCELLED).
     */
    public static final int TRANSPORT_MAX_MESSAGE_BYTES = 2 * MAX_MESSAGE_BYTES;
    /** A spool epoch is 16 random bytes. */
    public static final int EPOCH_BYTES = 16;
    /** A host name's limit; a hello claiming more (or anything unprintable) is refused. */
    static final int MAX_NODE_CHARS = 253;

    private final JdbcStore store;
    /**
     * The stores streams write through (hello, batch, heartbeat), each its own database
     * connection, borrowed per operation: with one, every stream's transaction waits for the
     * one before it (and its commit's fsync); with several on PostgreSQL, transactions of
     * different streams run at once and their commits share WAL flushes. Rows are keyed by
     * (node, epoch, sequence) with ON CONFLICT, so concurrent batches (even of one node, when a
     * stream to another replica is not yet dead) store each record once.
     */
    private final java.util.concurrent.BlockingQueue<JdbcStore> writers;
    private final Server server;
    private final boolean mutualTls;
    private final boolean unauthenticatedExposed;
    private final Consumer<String> log;
    private final AtomicInteger activeStreams = new AtomicInteger();
    private final Counter stored;
    private final Counter duplicates;
    private final Counter conflicts;
    private final Counter rejected;
    private final Counter heartbeats;
    private final Counter gaps;
    private final Counter received;
    private final Counter acks;
    private final Counter storeErrors;
    private final io.prometheus.metrics.core.metrics.Histogram storeSeconds;
    private final AtomicInteger agentsConnected = new AtomicInteger();
    private final AtomicInteger storeQueue = new AtomicInteger();
    private final FollowHub followers;

    /** Every reason a stream is refused: agentguard_collector_streams_rejected_total lists each from 0. */
    static final List<String> REJECT_REASONS = List.of("too-large", "empty", "store", "second-hello", "no-node",
            "bad-node-name", "bad-certificate", "node-mismatch", "no-epoch", "no-hello", "bad-batch", "bad-epoch");

    public CollectorServer(JdbcStore store, InetSocketAddress listen, Tls tls, PrometheusRegistry registry)
            throws IOException {
        this(store, listen, tls, registry, java.util.List.of());
    }

    /** With extra interceptors on the stream (the end-to-end benchmark times acks with one). */
    public CollectorServer(JdbcStore store, InetSocketAddress listen, Tls tls, PrometheusRegistry registry,
                           java.util.List<io.grpc.ServerInterceptor> interceptors) throws IOException {
        this(store, listen, tls, registry, interceptors, line -> System.err.println("agentguard-collector: " + line));
    }

    /**
     * @param log where refusals, conflicts and new spool epochs are reported (one line each,
     *            "WARN " first for what an operator must look at)
     * @throws IllegalArgumentException when the listener would accept unauthenticated nodes on
     *            a non-loopback address without {@link Tls#allowUnauthenticated}
     */
    public CollectorServer(JdbcStore store, InetSocketAddress listen, Tls tls, PrometheusRegistry registry,
                           java.util.List<io.grpc.ServerInterceptor> interceptors, Consumer<String> log) throws IOException {
        this(store, List.of(store), listen, tls, registry, interceptors, log);
    }

    /**
     * @param writers stores (connections) that streams write through, borrowed per operation;
     *                List.of(store) for one connection (SQLite: one writer at a time anyway)
     */
    public CollectorServer(JdbcStore store, List<JdbcStore> writers, InetSocketAddress listen, Tls tls,
                           PrometheusRegistry registry, java.util.List<io.grpc.ServerInterceptor> interceptors,
                           Consumer<String> log) throws IOException {
        if (writers.isEmpty()) {
            throw new IllegalArgumentException("no writer stores");
        }
        this.writers = new java.util.concurrent.ArrayBlockingQueue<>(writers.size(), false, writers);
        String refusal = refusal(listen, tls);
        if (refusal != null) {
            throw new IllegalArgumentException(refusal);
        }
        this.store = store;
        this.log = log;
        this.mutualTls = !tls.plaintext() && tls.clientCa() != null;
        this.unauthenticatedExposed = !mutualTls && !isLoopback(listen);
        this.followers = new FollowHub(registry);
        this.stored = Counter.builder().name("agentguard_collector_records_stored_total")
                .help("records stored, by kind").labelNames("kind").register(registry);
        this.duplicates = Counter.builder().name("agentguard_collector_records_duplicate_total")
                .help("records received again with identical content and ignored (already stored)").register(registry);
        this.conflicts = Counter.builder().name("agentguard_collector_records_conflict_total")
                .help("records received under a (node, epoch, sequence) already holding other content: kept as conflicts")
                .register(registry);
        this.rejected = Counter.builder().name("agentguard_collector_streams_rejected_total")
                .help("streams ended with an error status, by reason").labelNames("reason").register(registry);
        this.heartbeats = Counter.builder().name("agentguard_collector_heartbeats_total")
                .help("agent heartbeats received").register(registry);
        this.gaps = Counter.builder().name("agentguard_collector_sequence_gaps_total")
                .help("sequences an agent skipped (records it lost, e.g. to a damaged spool frame)").register(registry);
        io.prometheus.metrics.core.metrics.GaugeWithCallback.builder().name("agentguard_collector_streams_active")
                .help("agent streams open now").callback(cb -> cb.call(activeStreams.get())).register(registry);
        // labelled counters list every label value from 0: an alert on increase() sees the first one
        stored.labelValues("violation");
        stored.labelValues("event");
        for (String reason : REJECT_REASONS) {
            rejected.labelValues(reason);
        }
        this.received = Counter.builder().name("agentguard_collector_records_received_total")
                .help("records received in batches that passed the stream's checks (stored, duplicate or conflict)")
                .register(registry);
        this.acks = Counter.builder().name("agentguard_collector_acks_total")
                .help("acknowledgements sent (one per batch stored)").register(registry);
        this.storeErrors = Counter.builder().name("agentguard_collector_store_errors_total")
                .help("store operations (hello, batch, heartbeat, node metrics) that failed; a failed batch ends its"
                        + " stream unacknowledged and the agent sends it again")
                .register(registry);
        this.storeSeconds = io.prometheus.metrics.core.metrics.Histogram.builder()
                .name("agentguard_collector_store_seconds").help("time to store one batch (its transaction)")
                .classicOnly().classicUpperBounds(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
                .register(registry);
        io.prometheus.metrics.core.metrics.GaugeWithCallback.builder().name("agentguard_collector_agents_connected")
                .help("agent streams past their hello (a node each) now").callback(cb -> cb.call(agentsConnected.get()))
                .register(registry);
        io.prometheus.metrics.core.metrics.GaugeWithCallback.builder().name("agentguard_collector_store_queue_batches")
                .help("batches received and waiting for the store or in its transaction now (the collector's backlog)")
                .callback(cb -> cb.call(storeQueue.get())).register(registry);
        // read from the store when scraped: with several replicas on one database each reports every node
        io.prometheus.metrics.core.metrics.GaugeWithCallback.builder()
                .name("agentguard_collector_node_last_seen_timestamp_seconds")
                .help("when each node was last heard (hello or heartbeat; heartbeats every report.heartbeat_ms), seconds"
                        + " since the epoch").labelNames("node")
                .callback(cb -> nodeHealth().forEach(n -> cb.call(n.lastSeenMs() / 1000.0, n.node())))
                .register(registry);
        io.prometheus.metrics.core.metrics.GaugeWithCallback.builder().name("agentguard_collector_node_spool_records")
                .help("records each node holds in its spool, not yet acknowledged, as its last heartbeat said")
                .labelNames("node")
                .callback(cb -> nodeHealth().forEach(n -> cb.call(n.heartbeat() == null ? 0
                        : n.heartbeat().getSpoolRecords(), n.node())))
                .register(registry);
        ServerServiceDefinition service = ServerServiceDefinition.builder(CollectorService.SERVICE)
                .addMethod(CollectorService.STREAM, ServerCalls.asyncBidiStreamingCall(this::stream))
                .build();
        io.grpc.ServerInterceptor transportToContext = new io.grpc.ServerInterceptor() {
            @Override
            public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(io.grpc.ServerCall<Q, R> call,
                    io.grpc.Metadata headers, io.grpc.ServerCallHandler<Q, R> next) {
                SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
                java.net.SocketAddress remote = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
                return io.grpc.Contexts.interceptCall(io.grpc.Context.current().withValue(SSL_SESSION, session)
                        .withValue(REMOTE, remote == null ? "unknown peer" : remote.toString()), call, headers, next);
            }
        };
        NettyServerBuilder builder = NettyServerBuilder.forAddress(listen)
                .addService(io.grpc.ServerInterceptors.intercept(
                        io.grpc.ServerInterceptors.intercept(service, transportToContext), interceptors))
                .maxInboundMessageSize(TRANSPORT_MAX_MESSAGE_BYTES)
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
        if (unauthenticatedExposed) {
            log.accept("WARN listening on " + listen + " (not loopback) " + (tls.plaintext() ? "in plaintext" : "without"
                    + " client certificates") + ", as --allow-unauthenticated-nodes asks: any peer that reaches it can"
                    + " claim any node name and write violations as that node");
        }
    }

    /**
     * Why this listener must not start, or null: without mutual TLS nothing proves which node a
     * peer is, so only loopback (this host's processes) may reach it unless explicitly allowed.
     */
    /**
     * The collector process's own metrics on its registry: the JVM and process (heap, GC, threads,
     * CPU, RSS, open files) and agentguard_collector_build_info{version, java_version} 1.
     */
    public static void registerProcessMetrics(PrometheusRegistry registry) {
        io.prometheus.metrics.instrumentation.jvm.JvmMetrics.builder().register(registry);
        String version = java.util.Objects.requireNonNullElse(CollectorServer.class.getPackage().getImplementationVersion(),
                "dev");
        io.prometheus.metrics.core.metrics.Info.builder().name("agentguard_collector_build_info")
                .help("the collector's version and Java runtime; always 1").labelNames("version", "java_version")
                .register(registry).setLabelValues(version, Runtime.version().toString());
    }

    /** The nodes table for the node metrics; empty (and counted as a store error) when the store fails. */
    private List<JdbcStore.NodeHealth> nodeHealth() {
        try {
            return store.nodeHealth();
        } catch (SQLException e) {
            storeErrors.inc();
            return List.of();
        }
    }

    public static String refusal(InetSocketAddress listen, Tls tls) {
        boolean mutual = !tls.plaintext() && tls.clientCa() != null;
        if (mutual || tls.allowUnauthenticated() || isLoopback(listen)) {
            return null;
        }
        String what = tls.plaintext() ? "plaintext" : "TLS without client certificates (no --client-ca)";
        return "refusing to listen on " + listen.getHostString() + ":" + listen.getPort() + " with " + what
                + ": it is not a loopback address, and without mutual TLS any peer that reaches it could claim any"
                + " node name and write violations as that node. Use mutual TLS (--tls-cert, --tls-key and"
                + " --client-ca), listen on a loopback address (127.0.0.1, ::1), or pass --allow-unauthenticated-nodes"
                + " to accept that risk";
    }

    /**
     * Whether only this host can reach the address: a resolved loopback address. The wildcard
     * (0.0.0.0, ::) and anything unresolved count as reachable from elsewhere.
     */
    public static boolean isLoopback(InetSocketAddress address) {
        return !address.isUnresolved() && address.getAddress().isLoopbackAddress();
    }

    /** An operation on a borrowed writer store. */
    private interface Write<T> {
        T run(JdbcStore s) throws SQLException;
    }

    private <T> T write(Write<T> op) throws SQLException {
        JdbcStore s;
        try {
            s = writers.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SQLException("interrupted waiting for a store connection", e);
        }
        try {
            return op.run(s);
        } finally {
            writers.add(s);
        }
    }

    public int port() {
        return server.getPort();
    }

    private StreamObserver<AgentMessage> stream(StreamObserver<CollectorMessage> out) {
        String remote = REMOTE.get();
        activeStreams.incrementAndGet();
        // OPEN, then HELLOED once its hello is accepted, then RELEASED: every way a stream ends (our
        // refusal, the peer's end, a cancel, a transport error) releases it once
        AtomicInteger state = new AtomicInteger(OPEN);
        Runnable release = () -> {
            int was = state.getAndSet(RELEASED);
            if (was != RELEASED) {
                activeStreams.decrementAndGet();
                if (was == HELLOED) {
                    agentsConnected.decrementAndGet();
                }
            }
        };
        Runnable helloed = () -> {
            if (state.compareAndSet(OPEN, HELLOED)) {
                agentsConnected.incrementAndGet();
            }
        };
        if (out instanceof io.grpc.stub.ServerCallStreamObserver<CollectorMessage> call) {
            call.setOnCancelHandler(release);
        }
        String certificateNode;
        String certificateProblem = null;
        if (mutualTls) {
            String[] cn = certificateNode();
            certificateNode = cn[0];
            certificateProblem = cn[1];
        } else {
            certificateNode = null;
        }
        String problem = certificateProblem;
        return new StreamObserver<>() {
            private String node;
            private String epoch;
            private ByteString epochBytes;
            private long expectNext;
            private boolean done;

            @Override
            public void onNext(AgentMessage m) {
                if (done) {
                    return;
                }
                int size = m.getSerializedSize();
                if (size > MAX_MESSAGE_BYTES) {
                    fail(Status.RESOURCE_EXHAUSTED.withDescription("message of " + size + " bytes over the "
                            + MAX_MESSAGE_BYTES + "-byte limit; nothing of it stored"), "too-large");
                    return;
                }
                try {
                    switch (m.getKindCase()) {
                        case HELLO -> hello(m.getHello());
                        case BATCH -> batch(m.getBatch().getRecordsList());
                        case HEARTBEAT -> {
                            if (node != null) {
                                write(s -> {
                                    s.heartbeat(node, m.getHeartbeat());
                                    return null;
                                });
                                heartbeats.inc();
                            }
                        }
                        default -> fail(Status.INVALID_ARGUMENT.withDescription("empty message"), "empty");
                    }
                } catch (SQLException e) {
                    storeErrors.inc();
                    fail(Status.UNAVAILABLE.withDescription("store failed: " + e.getMessage()), "store");
                }
            }

            private void hello(AgentHello hello) throws SQLException {
                String claimed = hello.getNode();
                if (node != null) {
                    fail(Status.FAILED_PRECONDITION.withDescription("a second hello on one stream"), "second-hello");
                    return;
                }
                if (claimed.isEmpty()) {
                    fail(Status.INVALID_ARGUMENT.withDescription("hello without a node name"), "no-node");
                    return;
                }
                if (claimed.length() > MAX_NODE_CHARS || !claimed.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
                    // it goes into log lines and query output as is: no control characters, no spaces
                    fail(Status.INVALID_ARGUMENT.withDescription("node name must be 1.." + MAX_NODE_CHARS
                            + " printable ASCII characters without spaces"), "bad-node-name");
                    return;
                }
                if (mutualTls && problem != null) {
                    log.accept("WARN refused " + remote + " claiming node '" + claimed + "': " + problem);
                    fail(Status.PERMISSION_DENIED.withDescription(problem), "bad-certificate");
                    return;
                }
                if (mutualTls && !claimed.equals(certificateNode)) {
                    log.accept("WARN refused " + remote + ": its client certificate is for node '" + certificateNode
                            + "' and its hello claims node '" + claimed + "'");
                    fail(Status.PERMISSION_DENIED.withDescription("node '" + claimed
                            + "' does not match the client certificate ('" + certificateNode + "')"), "node-mismatch");
                    return;
                }
                if (hello.getSpoolEpoch().size() != EPOCH_BYTES) {
                    fail(Status.FAILED_PRECONDITION.withDescription("hello without a spool epoch of " + EPOCH_BYTES
                            + " bytes (it has " + hello.getSpoolEpoch().size() + "): an agent older than this collector;"
                            + " upgrade it"), "no-epoch");
                    return;
                }
                epochBytes = hello.getSpoolEpoch();
                epoch = HexFormat.of().formatHex(epochBytes.toByteArray());
                node = claimed;
                if (unauthenticatedExposed) {
                    log.accept("WARN unauthenticated hello from " + remote + " claiming node '" + node
                            + "' (no client certificate: nothing proves it is that node)");
                }
                String previous = write(s -> s.hello(node, epoch, hello));
                if (previous != null) {
                    log.accept("node '" + node + "' (" + remote + ") reports from a new spool epoch " + epoch
                            + " (was " + previous + "): its spool was created anew; sequences restart under the new epoch");
                }
                long last = write(s -> s.lastSequence(node, epoch));
                expectNext = last + 1;
                helloed.run();
                out.onNext(CollectorMessage.newBuilder().setHelloAck(HelloAck.newBuilder().setLastSequence(last)).build());
            }

            private void batch(List<Record> records) throws SQLException {
                if (node == null) {
                    fail(Status.FAILED_PRECONDITION.withDescription("a batch before the hello"), "no-hello");
                    return;
                }
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
                    if (!r.getEpoch().equals(epochBytes)) {
                        fail(Status.INVALID_ARGUMENT.withDescription("record " + r.getSequence() + " carries spool epoch '"
                                + HexFormat.of().formatHex(r.getEpoch().toByteArray()) + "', the stream's is '" + epoch
                                + "'"), "bad-epoch");
                        return;
                    }
                    previous = r.getSequence();
                }
                if (records.getFirst().getSequence() > expectNext) {
                    // records the agent lost (a damaged spool frame): counted, the rest stored
                    gaps.inc(records.getFirst().getSequence() - expectNext);
                }
                received.inc(records.size());
                JdbcStore.AppendResult result;
                storeQueue.incrementAndGet();
                long startNs = System.nanoTime();
                try {
                    String peer = (mutualTls ? "certificate '" + certificateNode + "' " : "unauthenticated ") + remote;
                    result = write(s -> s.append(node, epoch, records, peer));
                } finally {
                    storeQueue.decrementAndGet();
                    storeSeconds.observe((System.nanoTime() - startNs) / 1e9);
                }
                duplicates.inc(result.duplicates());
                followers.publish(node, epoch, result.storedRecords());   // committed: push to query --follow
                long violations = records.stream().filter(Record::hasViolation).count();
                stored.labelValues("violation").inc(Math.min(violations, result.stored()));
                stored.labelValues("event").inc(Math.max(0, result.stored() - violations));
                if (!result.conflicts().isEmpty()) {
                    conflicts.inc(result.newConflicts());
                    log.accept("WARN node '" + node + "' epoch " + epoch + " from " + remote + ": "
                            + result.conflicts().size() + " record(s) arrived under keys already holding other content"
                            + " (sequences " + summary(result.conflicts()) + "); both versions kept, see"
                            + " `agentguard-collector query --conflicts`: someone else wrote as this node");
                }
                expectNext = Math.max(expectNext, previous + 1);
                out.onNext(CollectorMessage.newBuilder().setAck(Ack.newBuilder().setSequence(previous)
                        .addAllConflicts(result.conflicts())).build());
                acks.inc();
            }

            private void fail(Status status, String reason) {
                done = true;
                rejected.labelValues(reason).inc();
                release.run();
                out.onError(status.asRuntimeException());
            }

            @Override
            public void onError(Throwable t) {
                done = true;
                release.run();
            }

            @Override
            public void onCompleted() {
                boolean failed = done;
                done = true;
                release.run();
                if (!failed) {
                    out.onCompleted();
                }
            }
        };
    }

    private static String summary(List<Long> sequences) {
        return sequences.size() <= 8 ? sequences.toString()
                : sequences.subList(0, 8).toString().replace("]", ", … " + sequences.getLast() + "]");
    }

    /**
     * Under mutual TLS: {node, null} with the client certificate's one CN, or {null, why not}
     * when the subject has no CN or several (the node must be unambiguous).
     */
    private static String[] certificateNode() {
        SSLSession session = SSL_SESSION.get();
        if (session == null) {
            return new String[] {null, "no TLS session"};
        }
        try {
            X509Certificate cert = (X509Certificate) session.getPeerCertificates()[0];
            return nodeOf(cert.getSubjectX500Principal());
        } catch (SSLPeerUnverifiedException e) {
            return new String[] {null, "no verified client certificate"};
        }
    }

    /** {CN, null} for a subject with exactly one CN, else {null, why}; parsed as an LDAP name, escapes honoured. */
    static String[] nodeOf(javax.security.auth.x500.X500Principal subject) {
        String dn = subject.getName(javax.security.auth.x500.X500Principal.RFC2253);
        List<String> cns = new ArrayList<>();
        try {
            for (Rdn rdn : new LdapName(dn).getRdns()) {
                javax.naming.directory.Attribute cn = rdn.toAttributes().get("CN");
                if (cn != null) {
                    for (int i = 0; i < cn.size(); i++) {
                        cns.add(String.valueOf(cn.get(i)));
                    }
                }
            }
        } catch (javax.naming.NamingException e) {
            return new String[] {null, "the client certificate's subject '" + dn + "' does not parse: " + e.getMessage()};
        }
        if (cns.size() != 1) {
            return new String[] {null, "the client certificate's subject '" + dn + "' has " + cns.size()
                    + " CN attributes; the node name must be exactly one CN"};
        }
        return new String[] {cns.getFirst(), null};
    }

    /** The TLS session of the current call, put in the gRPC context by an interceptor. */
    private static final io.grpc.Context.Key<SSLSession> SSL_SESSION = io.grpc.Context.key("agentguard-ssl-session");
    /** The peer's address of the current call (for logs and the conflicts table). */
    private static final io.grpc.Context.Key<String> REMOTE = io.grpc.Context.key("agentguard-remote");

    private static final int OPEN = 0;
    private static final int HELLOED = 1;
    private static final int RELEASED = 2;

    /** Who follows what this collector stores (the query listener serves its {@link FollowHub#service()}). */
    public FollowHub followers() {
        return followers;
    }

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
