package io.agentguard.proto.v1;

import io.grpc.MethodDescriptor;
import io.grpc.protobuf.ProtoUtils;

/**
 * The Query service of collector.proto, described with grpc-java's API (the build has no
 * protoc-gen-grpc-java): records pushed to followers as the collector stores them.
 */
public final class QueryService {
    public static final String SERVICE = "agentguard.v1.Query";

    public static final MethodDescriptor<FollowRequest, FollowItem> FOLLOW =
            MethodDescriptor.<FollowRequest, FollowItem>newBuilder()
                    .setType(MethodDescriptor.MethodType.SERVER_STREAMING)
                    .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, "Follow"))
                    .setRequestMarshaller(ProtoUtils.marshaller(FollowRequest.getDefaultInstance()))
                    .setResponseMarshaller(ProtoUtils.marshaller(FollowItem.getDefaultInstance()))
                    .build();

    private QueryService() {
    }
}
