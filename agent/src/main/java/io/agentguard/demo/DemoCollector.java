package io.agentguard.demo;

import io.agentguard.proto.v1.Ack;
import io.agentguard.proto.v1.AgentMessage;
import io.agentguard.proto.v1.CollectorMessage;
import io.agentguard.proto.v1.CollectorService;
import io.agentguard.proto.v1.HelloAck;
import io.agentguard.proto.v1.Record;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A collector for the demo, on loopback, plaintext: speaks the agent's protocol
 * (docs/REPORTING.md), acknowledges every batch and counts the violations it received.
 * It stores nothing; the real one is the agentguard-collector package.
 */
final class DemoCollector implements AutoCloseable {
    private final Server server;
    private final AtomicLong lastSequence = new AtomicLong();
    private final AtomicLong violations = new AtomicLong();

    DemoCollector() throws IOException {
        ServerServiceDefinition service = ServerServiceDefinition.builder(CollectorService.SERVICE)
                .addMethod(CollectorService.STREAM, ServerCalls.asyncBidiStreamingCall(this::stream))
                .build();
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(service).build().start();
    }

    String address() {
        return "127.0.0.1:" + server.getPort();
    }

    long violations() {
        return violations.get();
    }

    private StreamObserver<AgentMessage> stream(StreamObserver<CollectorMessage> replies) {
        return new StreamObserver<>() {
            @Override
            public void onNext(AgentMessage m) {
                switch (m.getKindCase()) {
                    case HELLO -> replies.onNext(CollectorMessage.newBuilder()
                            .setHelloAck(HelloAck.newBuilder().setLastSequence(lastSequence.get())).build());
                    case BATCH -> {
                        for (Record r : m.getBatch().getRecordsList()) {
                            // a resent record (after a reconnect) is counted once
                            if (r.getSequence() > lastSequence.get()) {
                                lastSequence.set(r.getSequence());
                                if (r.hasViolation()) {
                                    violations.incrementAndGet();
                                }
                            }
                        }
                        replies.onNext(CollectorMessage.newBuilder()
                                .setAck(Ack.newBuilder().setSequence(lastSequence.get())).build());
                    }
                    default -> {
                    }
                }
            }

            @Override
            public void onError(Throwable t) {
            }

            @Override
            public void onCompleted() {
                replies.onCompleted();
            }
        };
    }

    @Override
    public void close() throws InterruptedException {
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
}
