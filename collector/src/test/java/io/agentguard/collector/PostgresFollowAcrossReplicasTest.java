package io.agentguard.collector;

import com.google.protobuf.ByteString;
import io.agentguard.collector.server.CollectorServer;
import io.agentguard.collector.server.PeerFeed;
import io.agentguard.collector.store.JdbcStore;
import io.agentguard.proto.v1.AgentHello;
import io.agentguard.proto.v1.AgentMessage;
import io.agentguard.proto.v1.Batch;
import io.agentguard.proto.v1.CollectorMessage;
import io.agentguard.proto.v1.CollectorService;
import io.agentguard.proto.v1.FollowItem;
import io.agentguard.proto.v1.FollowRequest;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.QueryService;
import io.agentguard.proto.v1.Record;
import io.agentguard.proto.v1.Violation;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two collector replicas on one PostgreSQL database: an operator following new violations
 * (query --follow) on one replica sees what agents send to the other, each violation once.
 */
class PostgresFollowAcrossReplicasTest {
    private final List<AutoCloseable> open = new ArrayList<>();
    private PgSchema schema;

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : open.reversed()) {
            c.close();
        }
        if (schema != null) {
            schema.drop();
        }
    }

    /** A replica as `serve` wires it on PostgreSQL: the store, the agent listener, the peer feed. */
    private CollectorServer replica(String url) throws Exception {
        JdbcStore store = JdbcStore.open(url);
        open.add(store);
        CollectorServer server = new CollectorServer(store, new InetSocketAddress("127.0.0.1", 0),
                CollectorServer.Tls.plaintextForTests(), new PrometheusRegistry(), List.of(), line -> { });
        open.add(server::kill);
        PeerFeed peers = PeerFeed.start(url, System.getenv("PGUSER"), System.getenv("PGPASSWORD"), server.followers(),
                line -> { });
        open.add(peers);
        return server;
    }

    /** query --follow's subscription (violations) on a replica's query listener: the rules pushed, in order. */
    private List<String> follow(CollectorServer server) throws Exception {
        io.grpc.Server queries = server.followers().listen(new InetSocketAddress("127.0.0.1", 0));
        open.add(queries::shutdownNow);
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", queries.getPort()).usePlaintext().build();
        open.add(channel::shutdownNow);
        List<String> rules = Collections.synchronizedList(new ArrayList<>());
        ClientCalls.asyncServerStreamingCall(channel.newCall(QueryService.FOLLOW, CallOptions.DEFAULT),
                FollowRequest.newBuilder().setViolations(true).build(), new StreamObserver<>() {
                    public void onNext(FollowItem item) {
                        if (item.hasRecord()) {
                            rules.add(item.getNode() + ":" + item.getRecord().getViolation().getRule());
                        }
                    }

                    public void onError(Throwable t) {
                    }

                    public void onCompleted() {
                    }
                });
        await("subscribed", () -> server.followers().followers() == 1);
        return rules;
    }

    /** An agent's stream to one replica: hello, then batches each acknowledged before the next. */
    private final class Agent {
        final StreamObserver<AgentMessage> out;
        final LinkedBlockingQueue<CollectorMessage> in = new LinkedBlockingQueue<>();
        final ByteString epoch;
        long sequence;

        Agent(CollectorServer server, String node, int epochByte) throws Exception {
            epoch = ByteString.copyFrom(new byte[] {(byte) epochByte, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
            ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
            open.add(channel::shutdownNow);
            out = ClientCalls.asyncBidiStreamingCall(channel.newCall(CollectorService.STREAM, CallOptions.DEFAULT),
                    new StreamObserver<>() {
                        public void onNext(CollectorMessage m) {
                            in.add(m);
                        }

                        public void onError(Throwable t) {
                        }

                        public void onCompleted() {
                        }
                    });
            out.onNext(AgentMessage.newBuilder().setHello(AgentHello.newBuilder().setNode(node).setAgentVersion("0.9.1")
                    .setKernel("6.18.0").setMode("enforce").setSpoolEpoch(epoch)).build());
            assertThat(in.poll(30, TimeUnit.SECONDS).hasHelloAck()).isTrue();
        }

        void violation(String rule) throws Exception {
            out.onNext(AgentMessage.newBuilder().setBatch(Batch.newBuilder().addRecords(Record.newBuilder()
                    .setSequence(++sequence).setEpoch(epoch).setViolation(Violation.newBuilder().setRule(rule)
                            .setPriority(Priority.PRIORITY_CRITICAL).setOutput(rule))))
                    .build());
            CollectorMessage ack = in.poll(30, TimeUnit.SECONDS);
            assertThat(ack).isNotNull();
            assertThat(ack.getAck().getSequence()).isEqualTo(sequence);
        }
    }

    private static void await(String what, BooleanSupplier done) throws InterruptedException {
        for (int i = 0; i < 600 && !done.getAsBoolean(); i++) {
            Thread.sleep(50);   // until it happens (no time asserted: it only has to happen)
        }
        assertThat(done.getAsBoolean()).as(what).isTrue();
    }

    @Test
    void aFollowerOnOneReplicaGetsWhatAnAgentSendsToTheOtherExactlyOnce() throws Exception {
        schema = PgSchema.create();
        CollectorServer a = replica(schema.url());
        CollectorServer b = replica(schema.url());
        List<String> onA = follow(a);
        List<String> onB = follow(b);
        Agent toA = new Agent(a, "node-a", 1);
        Agent toB = new Agent(b, "node-b", 2);

        toB.violation("sent-to-b");
        toA.violation("sent-to-a");
        await("replica A's follower gets B's violation", () -> onA.contains("node-b:sent-to-b"));
        await("replica B's follower gets A's violation", () -> onB.contains("node-a:sent-to-a"));
        await("each follower gets its own replica's", () -> onA.contains("node-a:sent-to-a")
                && onB.contains("node-b:sent-to-b"));

        // a barrier: each replica's NOTIFY for the first violations is committed (the other side got it), so the
        // end markers' notifications queue behind them; once both followers have both markers, any second push
        // of a first violation (its own replica's notification, a repeat) would have arrived
        toB.violation("end-b");
        toA.violation("end-a");
        await("the end markers", () -> onA.containsAll(List.of("node-a:end-a", "node-b:end-b"))
                && onB.containsAll(List.of("node-a:end-a", "node-b:end-b")));
        synchronized (onA) {
            assertThat(onA).containsExactlyInAnyOrder("node-b:sent-to-b", "node-a:sent-to-a", "node-b:end-b",
                    "node-a:end-a");
        }
        synchronized (onB) {
            assertThat(onB).containsExactlyInAnyOrder("node-b:sent-to-b", "node-a:sent-to-a", "node-b:end-b",
                    "node-a:end-a");
        }
    }
}
