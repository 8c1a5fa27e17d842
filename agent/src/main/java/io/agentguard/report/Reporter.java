package io.agentguard.report;

import com.google.protobuf.Timestamp;
import io.agentguard.config.AgentConfig;
import io.agentguard.config.TlsMode;
import io.agentguard.log.Log;
import io.agentguard.proto.v1.AgentHello;
import io.agentguard.proto.v1.AgentMessage;
import io.agentguard.proto.v1.Batch;
import io.agentguard.proto.v1.CollectorMessage;
import io.agentguard.proto.v1.CollectorService;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Heartbeat;
import io.agentguard.proto.v1.Record;
import io.agentguard.proto.v1.Violation;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Delivers violations (and, optionally, events) to collectors without losing any:
 * <ol>
 *   <li>the consumer thread offers to a bounded queue and never waits (a full queue drops
 *       and counts);</li>
 *   <li>a writer thread appends to the disk {@link Spool}, which assigns sequences;</li>
 *   <li>a sender thread streams the spool to a collector, resending everything the spool has
 *       not seen acknowledged (never skipping on what a HelloAck says is stored: a peer that
 *       wrote under this node's keys must not make its real records count as delivered), and
 *       advances the spool on acknowledgements; on any failure it reconnects with exponential
 *       backoff and jitter, trying the next collector.</li>
 * </ol>
 * Messages stay under the collector's size limit: a batch is cut at {@link #MAX_BATCH_BYTES}
 * and a record over the record limit is sent shrunk ({@link RecordLimits}); a collector that
 * still answers RESOURCE_EXHAUSTED halves both limits (down to {@link RecordLimits#MIN_LIMIT}),
 * so no record is refused forever.
 */
public final class Reporter implements AutoCloseable {
    /** Where and how to connect. */
    public record Settings(List<String> collectors, String node, String mode, boolean plaintext, File ca, File cert,
                           File key, int batchRecords, int windowBatches, long ackTimeoutMs, long heartbeatMs,
                           long backoffMaxMs) {
    }

    private final Settings settings;
    private final Spool spool;
    private final Supplier<Heartbeat.Builder> counters;
    private final java.util.Map<String, String> hooks;
    private final String agentVersion;
    private final Log log;
    private final BlockingQueue<Record.Builder> queue = new ArrayBlockingQueue<>(65536);
    /** The connected stream's inbox (acks, errors, and SPOOL_GREW from the writer); null between streams. */
    private volatile BlockingQueue<Object> activeInbox;
    /** Set while a SPOOL_GREW sits unread in the inbox: one wakeup per burst of appends. */
    private final java.util.concurrent.atomic.AtomicBoolean spoolGrewPending = new java.util.concurrent.atomic.AtomicBoolean();
    private static final Object SPOOL_GREW = new Object();
    /** Longest the sender sleeps with nothing to do; heartbeats and ack timeouts are checked at least this often. */
    private static final long IDLE_WAIT_MS = 200;
    /** Ping interval and ping timeout: a collector whose host vanished (no RST) is left within 20 s. */
    static final int KEEPALIVE_S = 10;
    /** Put in the inbox when the channel leaves READY (GOAWAY of a collector shutting down, keepalive failure). */
    private static final Object CHANNEL_CHANGED = new Object();
    private final Thread writer;
    private final Thread sender;
    private final AtomicLong droppedQueueFull = new AtomicLong();
    private final AtomicLong droppedWriteFailed = new AtomicLong();
    private final AtomicLong connects = new AtomicLong();
    private final AtomicLong conflicts = new AtomicLong();
    private final AtomicLong oversizedSent = new AtomicLong();
    private final AtomicLong collectorAhead = new AtomicLong();
    /** Bytes of records per Batch message: well under the collector's 16 MiB (CollectorServer.MAX_MESSAGE_BYTES). */
    public static final int MAX_BATCH_BYTES = 8 << 20;
    private volatile int batchBytes = MAX_BATCH_BYTES;
    private volatile int recordBytes = Spool.MAX_RECORD_BYTES;
    private volatile String state = "starting";
    private volatile String connectedTo = "";
    private volatile String lastError = "";
    private volatile boolean running = true;
    private long lastLoggedFailureNs;
    private long lastConflictLogNs;

    public Reporter(Settings settings, Spool spool, Supplier<Heartbeat.Builder> counters,
                    java.util.Map<String, String> hooks, String agentVersion, Log log) {
        this.settings = settings;
        this.spool = spool;
        this.counters = counters;
        this.hooks = hooks;
        this.agentVersion = agentVersion;
        this.log = log;
        long damaged = spool.verify();
        if (damaged > 0) {
            log.info("spool: " + damaged + " damaged frames skipped; the records after them are delivered");
        }
        this.writer = Thread.ofPlatform().name("agentguard-spool").daemon(true).start(this::write);
        this.sender = Thread.ofPlatform().name("agentguard-sender").daemon(true).start(this::send);
    }

    /**
     * A reporter for the report section of the configuration: its collectors, TLS and spool,
     * with the delivery defaults (batches of 500, 8 in flight, 30 s ack timeout and backoff cap).
     */
    public static Reporter start(AgentConfig.Report r, String mode, Supplier<Heartbeat.Builder> counters,
                                 java.util.Map<String, String> hooks, String agentVersion, Log log) {
        File ca = r.ca().isEmpty() ? null : new File(r.ca());
        File cert = r.cert().isEmpty() ? null : new File(r.cert());
        File key = r.key().isEmpty() ? null : new File(r.key());
        Spool spool = new Spool(java.nio.file.Path.of(r.spoolDir()), 8L << 20, r.spoolMaxBytes());
        return new Reporter(new Settings(r.collectors(), r.node(), mode, r.tlsMode() == TlsMode.PLAINTEXT, ca, cert, key,
                500, 8, 30_000, r.heartbeatMs(), 30_000), spool, counters, hooks, agentVersion, log);
    }

    /** Consumer thread: never blocks. */
    public void offer(Violation violation) {
        if (!queue.offer(Record.newBuilder().setViolation(violation))) {
            droppedQueueFull.incrementAndGet();
        }
    }

    /** Consumer thread: never blocks. */
    public void offer(Event event) {
        if (!queue.offer(Record.newBuilder().setEvent(event))) {
            droppedQueueFull.incrementAndGet();
        }
    }

    private void write() {
        List<Record.Builder> batch = new ArrayList<>(1024);
        while (running || !queue.isEmpty()) {
            try {
                Record.Builder first = queue.poll(200, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch, 1023);
                try {
                    spool.write(batch);
                } catch (IOException e) {
                    droppedWriteFailed.addAndGet(batch.size());
                    logRateLimited("spool write failed (" + e.getMessage() + "): " + batch.size()
                            + " records dropped");
                }
                batch.clear();
                BlockingQueue<Object> inbox = activeInbox;
                if (inbox != null && !spoolGrewPending.getAndSet(true)) {
                    inbox.add(SPOOL_GREW);   // the sender sends at once instead of at its next timeout
                }
                try {
                    spool.force();   // after the signal: sending does not wait for the disk
                } catch (IOException e) {
                    logRateLimited("spool fsync failed (" + e.getMessage() + "); records stay in the page cache");
                }
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** A delivery or spool failure: a warning (Log adds the "agentguard: " prefix), at most one per 10 s. */
    private void logRateLimited(String message) {
        long now = System.nanoTime();
        if (now - lastLoggedFailureNs > 10_000_000_000L || lastLoggedFailureNs == 0) {
            lastLoggedFailureNs = now;
            log.warn(message);
        }
    }

    // ---- the sender ------------------------------------------------------------------------

    private void send() {
        int collector = 0;
        long backoffMs = 200;
        while (running) {
            String target = settings.collectors().get(collector % settings.collectors().size());
            ManagedChannel channel = null;
            try {
                channel = channel(target);
                state = "connecting to " + target;
                stream(channel, target);
                backoffMs = 200;
            } catch (InterruptedException e) {
                return;
            } catch (Exception e) {
                if (io.grpc.Status.fromThrowable(e).getCode() == io.grpc.Status.Code.RESOURCE_EXHAUSTED) {
                    shrinkLimits(target);
                }
                String why = TransportDiagnosis.explain(target, settings.plaintext(), tlsName(), e);
                state = "disconnected: " + why;
                lastError = target + ": " + why;
                connectedTo = "";
                logRateLimited("collector " + target + ": " + why + "; retrying");
            } finally {
                if (channel != null) {
                    channel.shutdownNow();
                }
            }
            collector++;
            long sleep = ThreadLocalRandom.current().nextLong(backoffMs / 2, backoffMs + 1);
            backoffMs = Math.min(settings.backoffMaxMs(), backoffMs * 2);
            try {
                Thread.sleep(sleep);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private String tlsName() {
        return settings.plaintext() ? "plaintext" : settings.cert() != null ? "mtls" : "tls";
    }

    /** The collector refused a message as too large: smaller batches, and records shrunk to the same limit. */
    private void shrinkLimits(String target) {
        batchBytes = Math.max(RecordLimits.MIN_LIMIT, batchBytes / 2);
        recordBytes = Math.min(recordBytes, batchBytes);
        log.warn("collector " + target + " refused a message as too large (RESOURCE_EXHAUSTED): batches"
                + " now at most " + batchBytes + " bytes, larger records sent shrunk to " + recordBytes + " bytes");
    }

    private ManagedChannel channel(String target) throws IOException {
        NettyChannelBuilder b = NettyChannelBuilder.forTarget(target)
                .keepAliveTime(KEEPALIVE_S, TimeUnit.SECONDS)   // the collector permits pings every 10 s
                .keepAliveTimeout(KEEPALIVE_S, TimeUnit.SECONDS)
                .keepAliveWithoutCalls(true)
                .maxInboundMessageSize(1 << 20);
        if (settings.plaintext()) {
            b.usePlaintext();
        } else {
            SslContextBuilder ssl = GrpcSslContexts.forClient();
            if (settings.ca() != null) {
                ssl.trustManager(settings.ca());
            }
            if (settings.cert() != null) {
                ssl.keyManager(settings.cert(), settings.key());
            }
            b.sslContext(ssl.build());
        }
        return b.build();
    }

    /** One connection's life: hello, resend, stream, acks, heartbeats; returns or throws when it ends. */
    private void stream(ManagedChannel channel, String target) throws Exception {
        BlockingQueue<Object> inbox = new LinkedBlockingQueue<>();   // CollectorMessage or Throwable or END
        Object end = new Object();
        StreamObserver<AgentMessage> out = ClientCalls.asyncBidiStreamingCall(
                channel.newCall(CollectorService.STREAM, CallOptions.DEFAULT), new StreamObserver<CollectorMessage>() {
                    @Override
                    public void onNext(CollectorMessage m) {
                        inbox.add(m);
                    }

                    @Override
                    public void onError(Throwable t) {
                        inbox.add(t);
                    }

                    @Override
                    public void onCompleted() {
                        inbox.add(end);
                    }
                });
        try {
            out.onNext(AgentMessage.newBuilder().setHello(AgentHello.newBuilder().setNode(settings.node())
                    .setAgentVersion(agentVersion).setKernel(System.getProperty("os.version")).putAllHooks(hooks)
                    .setMode(settings.mode()).setSpoolEpoch(spool.epoch())).build());
            Object first = inbox.poll(settings.ackTimeoutMs(), TimeUnit.MILLISECONDS);
            CollectorMessage hello = expect(first, end, "no hello acknowledgement within " + settings.ackTimeoutMs() + " ms");
            if (!hello.hasHelloAck()) {
                throw new IOException("the collector answered the hello with " + hello.getKindCase());
            }
            long stored = hello.getHelloAck().getLastSequence();
            long written = spool.nextSequence() - 1;
            if (stored > written) {
                // this spool never wrote those: someone else sent records as this node and epoch
                collectorAhead.incrementAndGet();
                log.warn("collector " + target + " holds sequences up to " + stored + " for this node"
                        + " and spool epoch " + spool.epochHex() + ", beyond the " + written + " this spool wrote: another"
                        + " peer wrote as this node; what this agent sends under those sequences is kept as conflicts");
            }
            long acked = spool.acked();   // resend from our own acknowledgements, whatever the collector says it holds
            Spool.Cursor cursor = spool.cursor(acked + 1);
            spoolGrewPending.set(false);
            activeInbox = inbox;   // from here on the writer wakes this loop
            long sentUpTo = acked;
            long lastAckNs = System.nanoTime();
            long lastHeartbeatNs = 0;
            connects.incrementAndGet();
            connectedTo = target;
            state = "connected to " + target;
            watchChannel(channel, inbox);
            long[] batchEnds = new long[settings.windowBatches()];   // last sequence of each batch in flight, oldest at head
            int head = 0;
            int inFlight = 0;
            while (running) {
                // Full batches fill the window; a partial one goes only when nothing is in flight, so that
                // the next collects what arrives meanwhile: one round trip of latency, one commit per trip.
                while (inFlight < batchEnds.length) {
                    long unsent = spool.nextSequence() - 1 - sentUpTo;
                    if (unsent <= 0 || (unsent < settings.batchRecords() && inFlight > 0)) {
                        break;
                    }
                    List<Record> records = spool.next(cursor, settings.batchRecords());
                    if (records.isEmpty()) {
                        break;
                    }
                    sendBatches(out, records);
                    sentUpTo = records.getLast().getSequence();
                    batchEnds[(head + inFlight++) % batchEnds.length] = sentUpTo;
                }
                long now = System.nanoTime();
                if (now - lastHeartbeatNs >= settings.heartbeatMs() * 1_000_000L) {
                    out.onNext(AgentMessage.newBuilder().setHeartbeat(heartbeat()).build());
                    lastHeartbeatNs = now;
                }
                long waitMs = Math.min(IDLE_WAIT_MS, Math.max(1, settings.heartbeatMs()
                        - (System.nanoTime() - lastHeartbeatNs) / 1_000_000L));
                Object m = inbox.poll(waitMs, TimeUnit.MILLISECONDS);
                if (m == CHANNEL_CHANGED) {
                    io.grpc.ConnectivityState now2 = channel.getState(false);
                    if (now2 != io.grpc.ConnectivityState.READY) {
                        // a graceful collector shutdown sends GOAWAY but lets this stream live on for its grace
                        // period; nothing more would be stored meanwhile: leave now and say so
                        throw new IOException("the collector closed the connection (channel " + now2 + "): it is"
                                + " shutting down or unreachable");
                    }
                    watchChannel(channel, inbox);
                    continue;
                }
                if (m == SPOOL_GREW) {
                    spoolGrewPending.set(false);   // before reading the spool: a later append signals again
                    m = null;                      // and the ack timeout is checked as on an idle wakeup
                }
                if (m == null) {
                    if (sentUpTo > spool.acked() && System.nanoTime() - lastAckNs > settings.ackTimeoutMs() * 1_000_000L) {
                        throw new IOException("no acknowledgement for " + settings.ackTimeoutMs() + " ms");
                    }
                    if (sentUpTo == spool.acked()) {
                        lastAckNs = System.nanoTime();   // nothing outstanding: the ack clock starts at the next send
                    }
                    continue;
                }
                CollectorMessage msg = expect(m, end, "");
                if (msg.hasAck()) {
                    long ackedUpTo = msg.getAck().getSequence();
                    if (msg.getAck().getConflictsCount() > 0) {
                        conflicts.addAndGet(msg.getAck().getConflictsCount());
                        long nowNs = System.nanoTime();
                        if (nowNs - lastConflictLogNs > 10_000_000_000L || lastConflictLogNs == 0) {
                            lastConflictLogNs = nowNs;
                            log.warn("collector " + target + " already held other content under "
                                + msg.getAck().getConflictsCount() + " of this node's sequences (e.g. "
                                + msg.getAck().getConflicts(0) + ", spool epoch " + spool.epochHex() + "): ours are kept"
                                + " there as conflicts; someone else wrote as this node");
                        }
                    }
                    spool.ack(ackedUpTo);
                    lastAckNs = System.nanoTime();
                    while (inFlight > 0 && batchEnds[head] <= ackedUpTo) {
                        head = (head + 1) % batchEnds.length;
                        inFlight--;
                    }
                }
            }
            out.onCompleted();
        } catch (Exception e) {
            out.onError(e);
            throw e;
        } finally {
            activeInbox = null;
            connectedTo = "";
        }
    }

    private static void watchChannel(ManagedChannel channel, BlockingQueue<Object> inbox) {
        channel.notifyWhenStateChanged(channel.getState(false), () -> inbox.add(CHANNEL_CHANGED));
    }

    /**
     * Sends records as one or more Batch messages of at most {@link #batchBytes} each, every
     * record carrying the spool's epoch and none over {@link #recordBytes} (shrunk if so).
     * Acks of the first messages advance the spool; the window counts the whole group.
     */
    private void sendBatches(StreamObserver<AgentMessage> out, List<Record> records) {
        int maxBatch = batchBytes;
        int maxRecord = recordBytes;
        Batch.Builder batch = Batch.newBuilder();
        long bytes = 0;
        for (Record r : records) {
            if (!r.getEpoch().equals(spool.epoch())) {
                r = r.toBuilder().setEpoch(spool.epoch()).build();   // spooled before epochs: this spool's sequences
            }
            if (r.getSerializedSize() > maxRecord) {
                r = RecordLimits.fit(r, maxRecord);
                oversizedSent.incrementAndGet();
            }
            int size = r.getSerializedSize() + 8;
            if (batch.getRecordsCount() > 0 && bytes + size > maxBatch) {
                out.onNext(AgentMessage.newBuilder().setBatch(batch).build());
                batch = Batch.newBuilder();
                bytes = 0;
            }
            batch.addRecords(r);
            bytes += size;
        }
        out.onNext(AgentMessage.newBuilder().setBatch(batch).build());
    }

    private static CollectorMessage expect(Object m, Object end, String timeoutMessage) throws IOException {
        if (m == null) {
            throw new IOException(timeoutMessage);
        }
        if (m instanceof Throwable t) {
            throw new IOException(t.getMessage(), t);
        }
        if (m == end) {
            throw new IOException("the collector ended the stream");
        }
        return (CollectorMessage) m;
    }

    private Heartbeat heartbeat() {
        long nowMs = System.currentTimeMillis();
        return counters.get()
                .setTime(Timestamp.newBuilder().setSeconds(nowMs / 1000).setNanos((int) (nowMs % 1000) * 1_000_000))
                .setSpoolRecords(spool.pending())
                .setSpoolBytes(spool.bytes())
                .setDropped(dropped())
                .build();
    }

    /** Records that could not be spooled: queue full, disk full, write failures. */
    public long dropped() {
        return droppedQueueFull.get() + droppedWriteFailed.get() + spool.droppedFull();
    }

    public long spoolPending() {
        return spool.pending();
    }

    public String state() {
        return state;
    }

    /** Why the last connection ended ("" if none failed yet). */
    public String lastError() {
        return lastError;
    }

    public String connectedTo() {
        return connectedTo;
    }

    public long connects() {
        return connects.get();
    }

    public Spool spool() {
        return spool;
    }

    /** Records the collector acknowledged as conflicts: it already held other content under their keys. */
    public long conflicts() {
        return conflicts.get();
    }

    /** Records spooled or sent shrunk to a size limit (evidence removed, text cut; tagged {@value RecordLimits#TAG}). */
    public long oversized() {
        return oversizedSent.get() + spool.oversized();
    }

    /** Hellos answered with a last sequence beyond what this spool wrote (another peer wrote as this node). */
    public long collectorAhead() {
        return collectorAhead.get();
    }

    /** Stops: what is queued is spooled first (delivered by the next run if not now). */
    @Override
    public void close() {
        running = false;
        try {
            writer.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        sender.interrupt();
        try {
            sender.join(5000);
            spool.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            log.info("closing the spool: " + e.getMessage());
        }
    }
}
