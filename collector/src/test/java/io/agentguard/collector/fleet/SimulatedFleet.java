package io.agentguard.collector.fleet;

import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import io.agentguard.proto.v1.AgentHello;
import io.agentguard.proto.v1.AgentMessage;
import io.agentguard.proto.v1.Batch;
import io.agentguard.proto.v1.CollectorMessage;
import io.agentguard.proto.v1.CollectorService;
import io.agentguard.proto.v1.Heartbeat;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.ProcessInfo;
import io.agentguard.proto.v1.Record;
import io.agentguard.proto.v1.Violation;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.nio.NioEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import org.HdrHistogram.Recorder;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;

/**
 * Many agents in one JVM, each a real gRPC stream speaking the agent protocol the way
 * io.agentguard.report.Reporter does: a hello with its node and spool epoch, batches of
 * consecutive sequences (at most batchRecords each, windowBatches in flight, a partial batch
 * only when nothing is in flight), acks advancing its "spool", and on any failure a reconnect
 * to the next collector in its list after a jittered, doubling backoff (200 ms to 30 s),
 * resending everything after its last ack whatever the collector says it holds. The spool is
 * virtual: a record is a pure function of (node, sequence), so a resend is byte-identical.
 * <p>
 * All agents share a few Netty event loops and one ticker thread (streams, not threads).
 */
public final class SimulatedFleet implements AutoCloseable {
    /** Ack round trips (a batch sent to the ack covering it), microseconds. */
    public final Recorder ackLatencyUs = new Recorder(3);
    public final AtomicLong sent = new AtomicLong();
    public final AtomicLong resent = new AtomicLong();
    public final AtomicLong batches = new AtomicLong();
    public final AtomicLong acks = new AtomicLong();
    public final AtomicLong connects = new AtomicLong();
    public final AtomicLong streamFailures = new AtomicLong();
    public final AtomicLong conflicts = new AtomicLong();

    private final List<Agent> agents = new ArrayList<>();
    private final EventLoopGroup loops;
    private final ScheduledExecutorService ticker;
    private final int batchRecords;
    private final int windowBatches;
    private final long heartbeatMs;
    private volatile double perAgentPerSecond;
    private volatile boolean running = true;
    /** Acks taken as lost with the connection (stored, never seen by the agent): each makes a resend of stored records. */
    private volatile double ackLoss;

    public void ackLoss(double probability) {
        ackLoss = probability;
    }

    /**
     * @param collectors agent i's collector list ("host:port"s), first tried first
     * @param heartbeatMs 0: none
     */
    public SimulatedFleet(int agents, IntFunction<List<String>> collectors, int eventLoops, int batchRecords,
                          int windowBatches, long heartbeatMs, String nodePrefix) {
        this.loops = new NioEventLoopGroup(eventLoops);
        this.ticker = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon(true)
                .name("fleet-ticker").unstarted(r));
        this.batchRecords = batchRecords;
        this.windowBatches = windowBatches;
        this.heartbeatMs = heartbeatMs;
        for (int i = 0; i < agents; i++) {
            byte[] epoch = new byte[16];
            ThreadLocalRandom.current().nextBytes(epoch);
            this.agents.add(new Agent(String.format("%s-%04d", nodePrefix, i), ByteString.copyFrom(epoch), collectors.apply(i)));
        }
    }

    /** Connects every agent; true when all are past their hello within the timeout. */
    public boolean connectAll(long timeoutMs) throws InterruptedException {
        for (Agent a : agents) {
            a.connect();
        }
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (agents.stream().anyMatch(a -> !a.helloAcked) && System.currentTimeMillis() < deadline) {
            Thread.sleep(50);
        }
        return agents.stream().allMatch(a -> a.helloAcked);
    }

    /** Starts generating totalPerSecond violations across the fleet (connects agents not yet connected). */
    public void start(double totalPerSecond, long tickMs) {
        perAgentPerSecond = totalPerSecond / agents.size();
        for (Agent a : agents) {
            synchronized (a) {
                if (a.channel == null) {
                    a.connect();
                }
            }
        }
        long[] last = {System.nanoTime()};
        ticker.scheduleAtFixedRate(() -> {
            long now = System.nanoTime();
            double dt = (now - last[0]) / 1e9;
            last[0] = now;
            for (Agent a : agents) {
                a.tick(dt, now);
            }
        }, tickMs, tickMs, TimeUnit.MILLISECONDS);
    }

    public void rate(double totalPerSecond) {
        perAgentPerSecond = totalPerSecond / agents.size();
    }

    /** Stops generating; what was generated is still delivered. */
    public void stopGenerating() {
        perAgentPerSecond = 0;
    }

    public List<Agent> agents() {
        return agents;
    }

    public long written() {
        return agents.stream().mapToLong(a -> a.written).sum();
    }

    public long acked() {
        return agents.stream().mapToLong(a -> a.acked).sum();
    }

    /** Agents with a stream past its hello to the collector at this address. */
    public long connectedTo(String collector) {
        return agents.stream().filter(a -> a.helloAcked && collector.equals(a.target)).count();
    }

    /** True when every agent's last record is acknowledged. */
    public boolean allAcked() {
        return agents.stream().allMatch(a -> a.acked == a.written);
    }

    /** The record an agent sends under a sequence: the same bytes every time. */
    static Record record(String node, ByteString epoch, long seq) {
        long ms = 1_800_000_000_000L + seq;
        return Record.newBuilder().setSequence(seq).setEpoch(epoch).setViolation(Violation.newBuilder()
                .setRule("Fleet benchmark").setPriority(Priority.PRIORITY_WARNING).setOutput(node + " violation " + seq)
                .addTags("bench").setTime(Timestamp.newBuilder().setSeconds(ms / 1000).setNanos((int) (ms % 1000) * 1_000_000))
                .setCgroupPath("/system.slice/bench.service")
                .setProcess(ProcessInfo.newBuilder().setPid(1000 + (int) (seq % 30000)).setUid(1000).setComm("curl")
                        .setExe("/usr/bin/curl").setCmdline("curl http://127.66.0.1/x")))
                .build();
    }

    /** One simulated agent; its fields are guarded by the agent itself. */
    public final class Agent {
        public final String node;
        final ByteString epoch;
        final List<String> collectors;
        int next;                 // index into collectors of the next connection
        long backoffMs = 200;
        volatile long written;    // highest sequence generated (the spool's last)
        volatile long acked;      // highest sequence acknowledged
        long sentUpTo;
        long maxSentEver;
        double owed;              // fractional records not yet generated
        final ArrayDeque<long[]> inFlight = new ArrayDeque<>();   // {last sequence, send nanos}
        ManagedChannel channel;
        StreamObserver<AgentMessage> out;
        volatile boolean helloAcked;
        volatile String target;
        long lastHeartbeatNs;
        int connection;           // which connection callbacks belong to

        Agent(String node, ByteString epoch, List<String> collectors) {
            this.node = node;
            this.epoch = epoch;
            this.collectors = collectors;
        }

        public long written() {
            return written;
        }

        synchronized void tick(double dt, long nowNs) {
            owed += perAgentPerSecond * dt;
            long n = (long) owed;
            owed -= n;
            written += n;
            if (helloAcked && heartbeatMs > 0 && nowNs - lastHeartbeatNs > heartbeatMs * 1_000_000L) {
                lastHeartbeatNs = nowNs;
                out.onNext(AgentMessage.newBuilder().setHeartbeat(Heartbeat.newBuilder().setViolations(written)
                        .setSpoolRecords(written - acked)).build());
            }
            pump(nowNs);
        }

        synchronized void connect() {
            if (!running) {
                return;
            }
            String t = collectors.get(next++ % collectors.size());
            int port = Integer.parseInt(t.substring(t.lastIndexOf(':') + 1));
            channel = NettyChannelBuilder.forAddress(t.substring(0, t.lastIndexOf(':')), port).usePlaintext()
                    .eventLoopGroup(loops).channelType(NioSocketChannel.class).directExecutor()
                    .keepAliveTime(10, TimeUnit.SECONDS).keepAliveTimeout(10, TimeUnit.SECONDS).build();
            target = t;
            int me = ++connection;
            out = ClientCalls.asyncBidiStreamingCall(channel.newCall(CollectorService.STREAM, CallOptions.DEFAULT),
                    new StreamObserver<CollectorMessage>() {
                        @Override
                        public void onNext(CollectorMessage m) {
                            received(me, m);
                        }

                        @Override
                        public void onError(Throwable t) {
                            ended(me);
                        }

                        @Override
                        public void onCompleted() {
                            ended(me);
                        }
                    });
            out.onNext(AgentMessage.newBuilder().setHello(AgentHello.newBuilder().setNode(node).setAgentVersion("fleet-sim")
                    .setKernel("sim").setMode("enforce").setSpoolEpoch(epoch)).build());
        }

        synchronized void received(int conn, CollectorMessage m) {
            if (conn != connection) {
                return;
            }
            long now = System.nanoTime();
            if (m.hasHelloAck()) {
                helloAcked = true;
                backoffMs = 200;
                connects.incrementAndGet();
                sentUpTo = acked;   // resend from our own ack, whatever the collector says it holds
                lastHeartbeatNs = now;
                pump(now);
                return;
            }
            if (m.hasAck() && ackLoss > 0 && ThreadLocalRandom.current().nextDouble() < ackLoss) {
                out.onError(new java.io.IOException("ack lost with the connection (simulated)"));
                ended(conn);
                return;
            }
            if (m.hasAck()) {
                long upTo = m.getAck().getSequence();
                acks.incrementAndGet();
                conflicts.addAndGet(m.getAck().getConflictsCount());
                acked = Math.max(acked, upTo);
                while (!inFlight.isEmpty() && inFlight.peekFirst()[0] <= upTo) {
                    ackLatencyUs.recordValue((now - inFlight.pollFirst()[1]) / 1000);
                }
                pump(now);
            }
        }

        synchronized void ended(int conn) {
            if (conn != connection) {
                return;
            }
            connection++;            // late callbacks of this stream are ignored
            streamFailures.incrementAndGet();
            helloAcked = false;
            inFlight.clear();
            channel.shutdownNow();
            long sleep = ThreadLocalRandom.current().nextLong(backoffMs / 2, backoffMs + 1);
            backoffMs = Math.min(30_000, backoffMs * 2);
            if (running) {
                ticker.schedule(this::connect, sleep, TimeUnit.MILLISECONDS);
            }
        }

        private void pump(long now) {
            if (!helloAcked) {
                return;
            }
            while (inFlight.size() < windowBatches) {
                long unsent = written - sentUpTo;
                if (unsent <= 0 || (unsent < batchRecords && !inFlight.isEmpty())) {
                    return;
                }
                int n = (int) Math.min(unsent, batchRecords);
                Batch.Builder b = Batch.newBuilder();
                for (long s = sentUpTo + 1; s <= sentUpTo + n; s++) {
                    b.addRecords(record(node, epoch, s));
                    if (s <= maxSentEver) {
                        resent.incrementAndGet();
                    }
                }
                out.onNext(AgentMessage.newBuilder().setBatch(b).build());
                sentUpTo += n;
                maxSentEver = Math.max(maxSentEver, sentUpTo);
                sent.addAndGet(n);
                batches.incrementAndGet();
                inFlight.addLast(new long[] {sentUpTo, now});
            }
        }

        synchronized void close() {
            connection++;
            if (out != null && helloAcked) {
                out.onCompleted();
            }
            if (channel != null) {
                channel.shutdown();
            }
        }
    }

    @Override
    public void close() {
        running = false;
        ticker.shutdownNow();
        for (Agent a : agents) {
            a.close();
        }
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
}
