package io.agentguard.workload.runtime;

import io.agentguard.proto.cri.ContainerStatusRequest;
import io.agentguard.proto.cri.ContainerStatusResponse;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.stub.ServerCalls;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/** Servers on Unix sockets for the runtime clients' tests: a fake CRI runtime, a socket that never answers. */
final class UnixSocketServers {
    private UnixSocketServers() {
    }

    /** A CRI RuntimeService with ContainerStatus only, answering with {@code answer} (which may throw a StatusRuntimeException). */
    static final class FakeCri implements AutoCloseable {
        final Server server;
        final EpollEventLoopGroup group = new EpollEventLoopGroup(1);
        final AtomicInteger calls = new AtomicInteger();

        FakeCri(Path socket, Function<ContainerStatusRequest, ContainerStatusResponse> answer) throws IOException {
            ServerServiceDefinition service = ServerServiceDefinition.builder(CriRuntimeService.SERVICE)
                    .addMethod(CriRuntimeService.CONTAINER_STATUS, ServerCalls.asyncUnaryCall((req, out) -> {
                        calls.incrementAndGet();
                        try {
                            out.onNext(answer.apply(req));
                            out.onCompleted();
                        } catch (RuntimeException e) {
                            out.onError(e);
                        }
                    }))
                    .build();
            server = NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                    .channelType(EpollServerDomainSocketChannel.class)
                    .bossEventLoopGroup(group)
                    .workerEventLoopGroup(group)
                    .maxInboundMessageSize(64 << 20)
                    .addService(service)
                    .build()
                    .start();
        }

        @Override
        public void close() {
            server.shutdownNow();
            group.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.MILLISECONDS);
        }
    }

    /** Accepts connections and never writes a byte: a runtime that hangs. */
    static final class Silent implements AutoCloseable {
        final ServerSocketChannel listener;
        final List<SocketChannel> accepted = new CopyOnWriteArrayList<>();
        final Thread acceptor;

        Silent(Path socket) throws IOException {
            listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            listener.bind(UnixDomainSocketAddress.of(socket));
            acceptor = Thread.ofPlatform().daemon().name("silent-runtime").start(() -> {
                try {
                    while (true) {
                        accepted.add(listener.accept());
                    }
                } catch (IOException e) {
                    // closed
                }
            });
        }

        @Override
        public void close() throws IOException {
            listener.close();
            for (SocketChannel c : accepted) {
                c.close();
            }
        }
    }

    /** Answers every HTTP request with {@code body} (Content-Length), one connection at a time. */
    static final class FixedHttp implements AutoCloseable {
        final ServerSocketChannel listener;
        final AtomicInteger requests = new AtomicInteger();

        FixedHttp(Path socket, int status, byte[] body) throws IOException {
            listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            listener.bind(UnixDomainSocketAddress.of(socket));
            Thread.ofPlatform().daemon().name("fixed-http").start(() -> {
                while (listener.isOpen()) {
                    SocketChannel accepted;
                    try {
                        accepted = listener.accept();
                    } catch (IOException e) {
                        return;   // closed
                    }
                    try (SocketChannel c = accepted) {
                        java.nio.ByteBuffer in = java.nio.ByteBuffer.allocate(8192);
                        while (c.read(in) > 0 && !new String(in.array(), 0, in.position()).contains("\r\n\r\n")) {
                            // read the request head
                        }
                        requests.incrementAndGet();
                        byte[] head = ("HTTP/1.1 " + status + " X\r\nContent-Type: application/json\r\nContent-Length: "
                                + body.length + "\r\nConnection: close\r\n\r\n").getBytes();
                        c.write(java.nio.ByteBuffer.wrap(head));
                        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(body);
                        while (b.hasRemaining()) {
                            c.write(b);
                        }
                    } catch (IOException e) {
                        // the client gave up (answer too large): next
                    }
                }
            });
        }

        @Override
        public void close() throws IOException {
            listener.close();
        }
    }
}
