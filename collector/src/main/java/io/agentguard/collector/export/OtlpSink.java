package io.agentguard.collector.export;

import io.agentguard.proto.v1.Violation;
import io.agentguard.proto.v1.Workload;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.MetadataUtils;
import io.opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest;
import io.opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse;
import io.opentelemetry.proto.collector.logs.v1.LogsServiceGrpc;
import io.opentelemetry.proto.common.v1.AnyValue;
import io.opentelemetry.proto.common.v1.ArrayValue;
import io.opentelemetry.proto.common.v1.InstrumentationScope;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.logs.v1.LogRecord;
import io.opentelemetry.proto.logs.v1.ResourceLogs;
import io.opentelemetry.proto.logs.v1.ScopeLogs;
import io.opentelemetry.proto.logs.v1.SeverityNumber;
import io.opentelemetry.proto.resource.v1.Resource;

import java.io.IOException;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * OpenTelemetry logs over OTLP/gRPC (the OTLP protos with the collector's grpc-java): one
 * log record per violation, sent as its own Export call, so the response confirms exactly that
 * violation (at-least-once). UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED and
 * the like are retried; a response whose partial_success rejects the record, or a status the
 * OTLP spec calls not retryable, is a rejection. Resource: service.name, host.name = the node.
 */
final class OtlpSink implements Sink {
    private final ExportsConfig.Otlp config;
    private final ManagedChannel channel;
    private final LogsServiceGrpc.LogsServiceBlockingStub stub;

    OtlpSink(ExportsConfig.Otlp config) throws IOException {
        this.config = config;
        ChannelCredentials creds = config.insecure() ? InsecureChannelCredentials.create()
                : config.caFile() == null ? TlsChannelCredentials.create()
                : TlsChannelCredentials.newBuilder().trustManager(config.caFile().toFile()).build();
        this.channel = Grpc.newChannelBuilderForAddress(config.host(), config.port(), creds).build();
        Metadata headers = new Metadata();
        for (Map.Entry<String, String> h : config.headers().entrySet()) {
            headers.put(Metadata.Key.of(h.getKey().toLowerCase(java.util.Locale.ROOT), Metadata.ASCII_STRING_MARSHALLER),
                    h.getValue());
        }
        this.stub = LogsServiceGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
    }

    @Override
    public void send(ExportStore.Row row) throws Transient, Rejected {
        ExportLogsServiceRequest request;
        try {
            request = request(row, config.serviceName());
        } catch (RuntimeException e) {
            throw new Rejected("formatting: " + e);
        }
        ExportLogsServiceResponse response;
        try {
            response = stub.withDeadlineAfter(config.timeout().toMillis(), TimeUnit.MILLISECONDS).export(request);
        } catch (StatusRuntimeException e) {
            Status.Code code = e.getStatus().getCode();
            switch (code) {
                case INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, UNAUTHENTICATED, UNIMPLEMENTED, FAILED_PRECONDITION,
                     OUT_OF_RANGE, ALREADY_EXISTS -> throw new Rejected("OTLP " + code + ": " + e.getStatus().getDescription());
                default -> throw new Transient("OTLP " + code + ": " + e.getStatus().getDescription(), e);
            }
        }
        if (response.hasPartialSuccess() && response.getPartialSuccess().getRejectedLogRecords() > 0) {
            throw new Rejected("OTLP rejected the record: " + response.getPartialSuccess().getErrorMessage());
        }
    }

    static SeverityNumber severity(Violation v) {
        return switch (v.getPriority()) {
            case PRIORITY_EMERGENCY -> SeverityNumber.SEVERITY_NUMBER_FATAL4;
            case PRIORITY_ALERT -> SeverityNumber.SEVERITY_NUMBER_FATAL;
            case PRIORITY_CRITICAL -> SeverityNumber.SEVERITY_NUMBER_ERROR4;
            case PRIORITY_ERROR -> SeverityNumber.SEVERITY_NUMBER_ERROR;
            case PRIORITY_WARNING -> SeverityNumber.SEVERITY_NUMBER_WARN;
            case PRIORITY_NOTICE -> SeverityNumber.SEVERITY_NUMBER_INFO2;
            case PRIORITY_INFORMATIONAL -> SeverityNumber.SEVERITY_NUMBER_INFO;
            case PRIORITY_DEBUG -> SeverityNumber.SEVERITY_NUMBER_DEBUG;
            default -> SeverityNumber.SEVERITY_NUMBER_UNSPECIFIED;
        };
    }

    static ExportLogsServiceRequest request(ExportStore.Row row, String serviceName) {
        Violation v = row.violation();
        LogRecord.Builder r = LogRecord.newBuilder()
                .setTimeUnixNano(v.getTime().getSeconds() * 1_000_000_000L + v.getTime().getNanos())
                .setObservedTimeUnixNano(System.currentTimeMillis() * 1_000_000L)
                .setSeverityNumber(severity(v))
                .setSeverityText(Formats.priority(v).toUpperCase(java.util.Locale.ROOT))
                .setBody(str(v.getOutput()));
        attr(r, "agentguard.violation.id", AnyValue.newBuilder().setIntValue(row.id()).build());
        attr(r, "agentguard.rule", str(v.getRule()));
        attr(r, "agentguard.priority", str(Formats.priority(v)));
        attr(r, "agentguard.node", str(row.node()));
        if (v.getTagsCount() > 0) {
            ArrayValue.Builder tags = ArrayValue.newBuilder();
            v.getTagsList().forEach(t -> tags.addValues(str(t)));
            attr(r, "agentguard.tags", AnyValue.newBuilder().setArrayValue(tags).build());
        }
        if (v.getCount() > 1) {
            attr(r, "agentguard.count", AnyValue.newBuilder().setIntValue(v.getCount()).build());
        }
        if (v.getProcess().getPid() != 0) {
            attr(r, "process.pid", AnyValue.newBuilder().setIntValue(Integer.toUnsignedLong(v.getProcess().getPid())).build());
        }
        attr(r, "process.executable.name", str(v.getProcess().getComm()));
        attr(r, "process.executable.path", str(v.getProcess().getExe()));
        attr(r, "process.command_line", str(v.getProcess().getCmdline()));
        attr(r, "agentguard.cgroup", str(Formats.cgroup(v)));
        Workload w = Formats.workload(v);
        attr(r, "container.id", str(w.getContainerId()));
        attr(r, "container.name", str(w.getContainerName()));
        attr(r, "container.runtime", str(w.getRuntime()));
        attr(r, "k8s.pod.uid", str(w.getPodUid()));
        attr(r, "k8s.pod.name", str(w.getPodName()));
        attr(r, "k8s.namespace.name", str(w.getPodNamespace()));
        attr(r, "agentguard.job_id", str(w.getJobId()));
        attr(r, "agentguard.unit", str(w.getUnit()));
        Resource resource = Resource.newBuilder()
                .addAttributes(KeyValue.newBuilder().setKey("service.name").setValue(str(serviceName)))
                .addAttributes(KeyValue.newBuilder().setKey("host.name").setValue(str(row.node())))
                .build();
        return ExportLogsServiceRequest.newBuilder().addResourceLogs(ResourceLogs.newBuilder().setResource(resource)
                .addScopeLogs(ScopeLogs.newBuilder().setScope(InstrumentationScope.newBuilder().setName("agentguard-collector"))
                        .addLogRecords(r))).build();
    }

    private static AnyValue str(String s) {
        return AnyValue.newBuilder().setStringValue(s).build();
    }

    /** Empty strings are left out. */
    private static void attr(LogRecord.Builder r, String key, AnyValue value) {
        if (value.hasStringValue() && value.getStringValue().isEmpty()) {
            return;
        }
        r.addAttributes(KeyValue.newBuilder().setKey(key).setValue(value));
    }

    @Override
    public void close() {
        channel.shutdownNow();
        try {
            channel.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
