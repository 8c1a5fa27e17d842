package io.agentguard.workload.runtime;

import io.agentguard.workload.RuntimeNames;
import io.agentguard.proto.cri.ContainerStatus;
import io.agentguard.proto.cri.ContainerStatusRequest;
import io.agentguard.proto.cri.ContainerStatusResponse;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * containerd's and CRI-O's CRI endpoint: gRPC runtime.v1.RuntimeService/ContainerStatus over
 * their Unix socket (grpc-netty-shaded's epoll transport, "unix:" targets). The kubelet puts the
 * pod's name, namespace and UID and the container's name in every container's labels, so one call
 * gives all of it; a pod sandbox's own id is not a container there (NOT_FOUND: null).
 */
final class CriClient implements RuntimeClient {
    /** A ContainerStatus answer is a few KiB; grpc refuses larger messages (RESOURCE_EXHAUSTED). */
    static final int MAX_MESSAGE_BYTES = 1 << 20;

    /**
     * grpc sets SO_KEEPALIVE on every client channel and netty warns, once per connection, that a
     * Unix socket has no such option: kept quiet (held here: JUL keeps loggers weakly).
     */
    private static final java.util.logging.Logger BOOTSTRAP_LOG = quiet("io.grpc.netty.shaded.io.netty.bootstrap.Bootstrap");

    private static java.util.logging.Logger quiet(String name) {
        java.util.logging.Logger log = java.util.logging.Logger.getLogger(name);
        log.setLevel(java.util.logging.Level.SEVERE);
        return log;
    }

    private final Path socket;
    private final long timeoutMs;
    private ManagedChannel channel;   // made at the first lookup: a node without this runtime never starts a transport

    CriClient(Path socket, long timeoutMs) {
        this.socket = socket;
        this.timeoutMs = timeoutMs;
    }

    @Override
    public Path socket() {
        return socket;
    }

    @Override
    public RuntimeNames lookup(String containerId, String podUid, RuntimeNamesBuilder into) throws IOException {
        if (channel == null) {
            channel = Grpc.newChannelBuilder("unix://" + socket.toAbsolutePath(), InsecureChannelCredentials.create())
                    .maxInboundMessageSize(MAX_MESSAGE_BYTES)
                    .maxInboundMetadataSize(16 << 10)
                    .userAgent("agentguard")
                    .build();
        }
        ContainerStatusResponse response;
        try {
            response = ClientCalls.blockingUnaryCall(channel, CriRuntimeService.CONTAINER_STATUS,
                    CallOptions.DEFAULT.withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS),
                    ContainerStatusRequest.newBuilder().setContainerId(containerId).build());
        } catch (StatusRuntimeException e) {
            Status.Code code = e.getStatus().getCode();
            if (code == Status.Code.NOT_FOUND) {
                return null;
            }
            if (code == Status.Code.DEADLINE_EXCEEDED) {
                throw new SocketTimeoutException(socket + ": ContainerStatus: no answer within " + timeoutMs + " ms");
            }
            throw new IOException(socket + ": ContainerStatus: " + code + " " + e.getStatus().getDescription(), e);
        }
        if (!response.hasStatus()) {
            return null;
        }
        ContainerStatus status = response.getStatus();
        into.containerName(status.getMetadata().getName());
        for (Map.Entry<String, String> label : status.getLabelsMap().entrySet()) {
            into.label(label.getKey(), label.getValue());
        }
        return into.build();
    }

    @Override
    public void close() {
        if (channel != null) {
            channel.shutdownNow();
        }
    }
}
