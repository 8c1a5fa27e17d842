package io.agentguard.collector;

import com.google.protobuf.ByteString;
import io.agentguard.collector.server.FollowHub;
import io.agentguard.proto.v1.FollowItem;
import io.agentguard.proto.v1.FollowRequest;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.QueryService;
import io.agentguard.proto.v1.Record;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A follower that stops reading holds at most its queue: ingestion goes on, the rest is skipped and counted. */
class FollowHubTest {
    @Test
    void aFollowerThatDoesNotReadNeverBlocksPublishingAndLearnsHowManyWereSkipped() throws Exception {
        FollowHub hub = new FollowHub(new PrometheusRegistry(), 16);
        Server server = hub.listen(new InetSocketAddress("127.0.0.1", 0));
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
        try {
            LinkedBlockingQueue<Object> in = new LinkedBlockingQueue<>();
            ClientCall<FollowRequest, FollowItem> call = channel.newCall(QueryService.FOLLOW, CallOptions.DEFAULT);
            call.start(new ClientCall.Listener<>() {
                @Override
                public void onMessage(FollowItem m) {
                    in.add(m);
                }

                @Override
                public void onClose(Status status, Metadata trailers) {
                    in.add(status);
                }
            }, new Metadata());
            call.sendMessage(FollowRequest.newBuilder().setViolations(true).build());
            call.halfClose();
            call.request(1);   // the "subscribed" item only; then this reader stalls
            assertThat(((FollowItem) in.poll(30, TimeUnit.SECONDS)).getSubscribed()).isTrue();
            int published = 200_000;
            // each record ~1 KiB: far more than the transport's flow-control window and the queue hold
            String padding = "x".repeat(1000);
            List<Record> batch = new ArrayList<>();
            for (int i = 1; i <= published; i++) {
                batch.add(StoreContract.violation(i, "r", Priority.PRIORITY_NOTICE, 1_790_000_000L).toBuilder()
                        .setViolation(StoreContract.violation(i, "r", Priority.PRIORITY_NOTICE, 1_790_000_000L)
                                .getViolation().toBuilder().setOutput(padding)).setEpoch(ByteString.EMPTY).build());
                if (batch.size() == 1000) {
                    hub.publish("n", "e", batch);   // returns at once whatever the follower does (else this test hangs)
                    batch = new ArrayList<>();
                }
            }
            long delivered = 0;
            long skipped = 0;
            call.request(Integer.MAX_VALUE);   // the reader wakes up and reads what it was kept
            while (true) {
                Object o = in.poll(5, TimeUnit.SECONDS);
                if (o == null) {
                    break;   // drained: nothing more was pushed (all was delivered or counted)
                }
                FollowItem item = (FollowItem) o;
                skipped += item.getSkipped();
                delivered += item.hasRecord() ? 1 : 0;
                if (delivered + skipped == published) {
                    break;
                }
            }
            assertThat(skipped).as("records skipped and announced").isPositive();
            assertThat(delivered + skipped).isEqualTo(published);
            call.cancel("done", null);
        } finally {
            channel.shutdownNow();
            server.shutdownNow();
            hub.close();
        }
    }

    @Test
    void theQueryListenerServesLoopbackOnly() {
        FollowHub hub = new FollowHub(new PrometheusRegistry());
        assertThatThrownBy(() -> hub.listen(new InetSocketAddress("0.0.0.0", 0)))
                .hasMessageContaining("loopback");
    }
}
