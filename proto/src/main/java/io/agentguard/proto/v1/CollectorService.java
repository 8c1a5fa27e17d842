package io.agentguard.proto.v1;

import io.grpc.MethodDescriptor;
import io.grpc.protobuf.ProtoUtils;

/**
 * The Collector service of collector.proto, described with grpc-java's API (the build has
 * no protoc-gen-grpc-java): the one bidirectional streaming method both sides use.
 */
public final class CollectorService {
    public static final String SERVICE = "agentguard.v1.Collector";

    public static final MethodDescriptor<AgentMessage, CollectorMessage> STREAM =
            MethodDescriptor.<AgentMessage, CollectorMessage>newBuilder()
                    .setType(MethodDescriptor.MethodType.BIDI_STREAMING)
                    .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, "Stream"))
                    .setRequestMarshaller(ProtoUtils.marshaller(AgentMessage.getDefaultInstance()))
                    .setResponseMarshaller(ProtoUtils.marshaller(CollectorMessage.getDefaultInstance()))
                    .build();

    private CollectorService() {
    }
}
