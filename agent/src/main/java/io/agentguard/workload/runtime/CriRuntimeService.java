package io.agentguard.workload.runtime;

import io.agentguard.proto.cri.ContainerStatusRequest;
import io.agentguard.proto.cri.ContainerStatusResponse;
import io.grpc.MethodDescriptor;
import io.grpc.protobuf.ProtoUtils;

/**
 * The one method of the CRI's runtime.v1.RuntimeService the agent calls (proto/src/main/proto/cri),
 * described with grpc-java's API as CollectorService is (no grpc code generator in the build).
 */
final class CriRuntimeService {
    static final String SERVICE = "runtime.v1.RuntimeService";

    static final MethodDescriptor<ContainerStatusRequest, ContainerStatusResponse> CONTAINER_STATUS =
            MethodDescriptor.<ContainerStatusRequest, ContainerStatusResponse>newBuilder()
                    .setType(MethodDescriptor.MethodType.UNARY)
                    .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, "ContainerStatus"))
                    .setRequestMarshaller(ProtoUtils.marshaller(ContainerStatusRequest.getDefaultInstance()))
                    .setResponseMarshaller(ProtoUtils.marshaller(ContainerStatusResponse.getDefaultInstance()))
                    .setIdempotent(true)
                    .build();

    private CriRuntimeService() {
    }
}
