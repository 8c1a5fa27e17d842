package io.agentguard.collector.server;

import io.agentguard.collector.store.RecordFilter;
import io.agentguard.proto.v1.FollowItem;
import io.agentguard.proto.v1.FollowRequest;
import io.agentguard.proto.v1.QueryService;
import io.agentguard.proto.v1.Record;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Pushes each record to the followers (Query.Follow in collector.proto) once its batch is
 * committed. Ingestion only offers to a bounded queue per follower, never waits: a follower
 * that reads slower than records arrive loses the overflow, counted, and its next item says
 * how many were skipped. Each follower is drained on a thread of its own, only while its
 * transport is ready (gRPC flow control), so a stalled reader holds at most its queue.
 */
public final class FollowHub {
    /** Records a follower may be behind before the next ones are skipped. */
    public static final int QUEUE_RECORDS = 4096;

    private final Set<Follower> followers = ConcurrentHashMap.newKeySet();
    private final ExecutorService senders = Executors.newVirtualThreadPerTaskExecutor();
    private final Counter skipped;
    private final int queueRecords;

    public FollowHub(PrometheusRegistry registry) {
        this(registry, QUEUE_RECORDS);
    }

    public FollowHub(PrometheusRegistry registry, int queueRecords) {
        this.queueRecords = queueRecords;
        this.skipped = Counter.builder().name("agentguard_collector_follow_skipped_total")
                .help("records not pushed to a follower (query --follow) because it fell behind by more than its queue")
                .register(registry);
        GaugeWithCallback.builder().name("agentguard_collector_followers")
                .help("query --follow subscriptions open now").callback(cb -> cb.call(followers.size()))
                .register(registry);
    }

    /** Told of what this replica stored (PeerFeed: NOTIFY to the other replicas); must never block. */
    public interface LocalListener {
        void stored(String node, String epoch, List<Record> records);
    }

    private volatile LocalListener localListener;

    /** Sets (null: clears) who is told of each local publication, whether or not anyone follows here. */
    public void onLocalPublish(LocalListener listener) {
        this.localListener = listener;
    }

    /** After a commit: the records newly stored (not resends, not conflicts). Never blocks. */
    public void publish(String node, String epoch, List<Record> stored) {
        LocalListener l = localListener;
        if (l != null && !stored.isEmpty()) {
            l.stored(node, epoch, stored);
        }
        publishFromPeer(node, epoch, stored);
    }

    /** Records another replica stored (read back after its NOTIFY): to this replica's followers only. */
    public void publishFromPeer(String node, String epoch, List<Record> stored) {
        if (followers.isEmpty() || stored.isEmpty()) {
            return;
        }
        for (Follower f : followers) {
            for (Record r : stored) {
                f.offer(node, epoch, r);
            }
        }
    }

    /** Records other replicas' followers will miss (the NOTIFY queue overflowed or its connection failed). */
    void skippedForPeers(long n) {
        skipped.inc(n);
    }

    public int followers() {
        return followers.size();
    }

    /** The Query service, for the query listener. */
    public ServerServiceDefinition service() {
        return ServerServiceDefinition.builder(QueryService.SERVICE)
                .addMethod(QueryService.FOLLOW, ServerCalls.asyncServerStreamingCall(this::follow))
                .build();
    }

    private void follow(FollowRequest request, StreamObserver<FollowItem> out) {
        RecordFilter filter;
        try {
            filter = RecordFilter.of(request);
        } catch (IllegalArgumentException e) {
            out.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
            return;
        }
        ServerCallStreamObserver<FollowItem> call = (ServerCallStreamObserver<FollowItem>) out;
        Follower f = new Follower(filter, request.getViolations(), request.getEvents(), call);
        call.setOnCancelHandler(() -> followers.remove(f));
        call.setOnReadyHandler(f::schedule);
        f.queue.add(FollowItem.newBuilder().setSubscribed(true).build());
        followers.add(f);   // records committed from now on reach it
        f.schedule();
    }

    /**
     * Serves the Query service on a loopback address, plaintext: whoever can reach it reads every
     * node's records, as whoever can read the database does; a non-loopback address is refused.
     */
    public io.grpc.Server listen(java.net.InetSocketAddress address) throws java.io.IOException {
        if (!CollectorServer.isLoopback(address)) {
            throw new IllegalArgumentException("the query listener serves every node's records without authentication:"
                    + " it listens on a loopback address only (127.0.0.1, ::1), not " + address.getHostString());
        }
        return io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder.forAddress(address).addService(service())
                .build().start();
    }

    public void close() {
        senders.shutdownNow();
    }

    private final class Follower {
        final RecordFilter filter;
        final boolean violations;
        final boolean events;
        final ServerCallStreamObserver<FollowItem> call;
        final ArrayBlockingQueue<FollowItem> queue = new ArrayBlockingQueue<>(queueRecords + 1);
        final AtomicLong skippedHere = new AtomicLong();
        final AtomicBoolean scheduled = new AtomicBoolean();

        Follower(RecordFilter filter, boolean violations, boolean events, ServerCallStreamObserver<FollowItem> call) {
            this.filter = filter;
            this.violations = violations;
            this.events = events;
            this.call = call;
        }

        void offer(String node, String epoch, Record r) {
            boolean wanted = r.hasViolation() ? violations && filter.matches(node, r.getViolation())
                    : events && filter.matches(node, r.getEvent());
            if (!wanted) {
                return;
            }
            if (queue.offer(FollowItem.newBuilder().setNode(node).setEpoch(epoch).setRecord(r).build())) {
                schedule();
            } else {
                skippedHere.incrementAndGet();
                skipped.inc();
            }
        }

        void schedule() {
            if (scheduled.compareAndSet(false, true)) {
                try {
                    senders.execute(this::drain);
                } catch (java.util.concurrent.RejectedExecutionException e) {
                    scheduled.set(false);   // closing
                }
            }
        }

        /** One at a time per follower: clears the flag first, so an offer during the drain schedules another. */
        private void drain() {
            scheduled.set(false);
            synchronized (this) {
                try {
                    while (call.isReady() && !call.isCancelled()) {
                        FollowItem item = queue.poll();
                        long n = skippedHere.get();
                        if (item == null && n == 0) {
                            return;
                        }
                        if (n > 0) {
                            skippedHere.addAndGet(-n);
                            item = (item == null ? FollowItem.newBuilder() : item.toBuilder()).setSkipped(n).build();
                        }
                        call.onNext(item);
                    }
                } catch (RuntimeException e) {
                    followers.remove(this);   // the call ended under us
                }
            }
        }
    }
}
