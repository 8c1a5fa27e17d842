package io.agentguard.collector;

import io.agentguard.collector.server.CollectorServer;
import io.agentguard.collector.store.JdbcStore;
import io.agentguard.proto.v1.AgentHello;
import io.agentguard.proto.v1.AgentMessage;
import io.agentguard.proto.v1.Batch;
import io.agentguard.proto.v1.CollectorMessage;
import io.agentguard.proto.v1.CollectorService;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.Record;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
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
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Peers that misbehave get a status and change nothing; well-behaved ones get acks. */
class CollectorServerTest {
    @TempDir
    Path dir;
    private JdbcStore store;
    private CollectorServer server;
    private ManagedChannel channel;
    private final PrometheusRegistry registry = new PrometheusRegistry();

    @BeforeEach
    void start() throws Exception {
        store = JdbcStore.open("sqlite:" + dir.resolve("c.db"));
        server = new CollectorServer(store, new InetSocketAddress("127.0.0.1", 0), CollectorServer.Tls.plaintextForTests(),
                registry);
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext()
                .maxInboundMessageSize(64 << 20).build();
    }

    @AfterEach
    void stop() throws Exception {
        channel.shutdownNow();
        server.kill();
        store.close();
    }

    private record Call(StreamObserver<AgentMessage> out, LinkedBlockingQueue<Object> in) {
        Object next() throws InterruptedException {
            return in.poll(10, TimeUnit.SECONDS);
        }
    }

    private Call call() {
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

    static final com.google.protobuf.ByteString EPOCH = com.google.protobuf.ByteString.copyFrom(new byte[16]);

    private static AgentMessage hello(String node) {
        return AgentMessage.newBuilder().setHello(AgentHello.newBuilder().setNode(node).setSpoolEpoch(EPOCH)).build();
    }

    private static AgentMessage batch(long... sequences) {
        Batch.Builder b = Batch.newBuilder();
        for (long s : sequences) {
            b.addRecords(StoreContract.violation(s, "r", Priority.PRIORITY_NOTICE, 1_790_000_000L).toBuilder()
                    .setEpoch(EPOCH));
        }
        return AgentMessage.newBuilder().setBatch(b).build();
    }

    @Test
    void helloThenBatchesAreAcknowledgedAndResendsIgnored() throws Exception {
        Call c = call();
        c.out().onNext(hello("n"));
        assertThat(((CollectorMessage) c.next()).getHelloAck().getLastSequence()).isZero();
        c.out().onNext(batch(1, 2, 3));
        assertThat(((CollectorMessage) c.next()).getAck().getSequence()).isEqualTo(3);
        c.out().onNext(batch(2, 3, 4));
        assertThat(((CollectorMessage) c.next()).getAck().getSequence()).isEqualTo(4);
        c.out().onCompleted();
        assertThat(c.next()).isEqualTo("completed");
        Call again = call();
        again.out().onNext(hello("n"));
        assertThat(((CollectorMessage) again.next()).getHelloAck().getLastSequence()).isEqualTo(4);
        assertThat(store.sequences("n", "violations")).containsExactly(1L, 2L, 3L, 4L);
        ByteArrayOutputStream metrics = new ByteArrayOutputStream();
        new PrometheusTextFormatWriter(false).write(metrics, registry.scrape());
        assertThat(metrics.toString()).contains("agentguard_collector_records_stored_total{kind=\"violation\"} 4.0")
                .contains("agentguard_collector_records_duplicate_total 2.0");
    }

    @Test
    void aBatchBeforeTheHelloIsRefused() throws Exception {
        Call c = call();
        c.out().onNext(batch(1));
        assertThat(((Status) c.next()).getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
        assertThat(store.sequences("n", "violations")).isEmpty();
    }

    @Test
    void nonConsecutiveSequencesInABatchAreRefusedAndNothingOfItIsStored() throws Exception {
        Call c = call();
        c.out().onNext(hello("n"));
        c.next();
        c.out().onNext(batch(1, 3));
        Status s = (Status) c.next();
        assertThat(s.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(s.getDescription()).contains("consecutive");
        assertThat(store.sequences("n", "violations")).isEmpty();
    }

    @Test
    void anOversizedMessageEndsTheStreamAndIsNotStored() throws Exception {
        Call c = call();
        c.out().onNext(hello("n"));
        c.next();
        AgentMessage big = AgentMessage.newBuilder().setBatch(Batch.newBuilder().addRecords(Record.newBuilder()
                .setSequence(1).setEpoch(EPOCH).setViolation(io.agentguard.proto.v1.Violation.newBuilder()
                        .setOutput("x".repeat(CollectorServer.MAX_MESSAGE_BYTES + 10))))).build();
        c.out().onNext(big);
        Status st = (Status) c.next();
        assertThat(st.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);   // not a bare reset (CANCELLED)
        assertThat(st.getDescription()).contains("over the " + CollectorServer.MAX_MESSAGE_BYTES + "-byte limit");
        assertThat(store.sequences("n", "violations")).isEmpty();
        Call after = call();   // and the server keeps serving
        after.out().onNext(hello("n"));
        assertThat(((CollectorMessage) after.next()).hasHelloAck()).isTrue();
    }

    @Test
    void aHelloWithoutANodeIsRefused() throws Exception {
        Call c = call();
        c.out().onNext(hello(""));
        assertThat(((Status) c.next()).getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    }

}
