package io.agentguard.collector.export;

import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest;
import io.opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse;
import io.opentelemetry.proto.collector.logs.v1.LogsServiceGrpc;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.logs.v1.LogRecord;
import io.opentelemetry.proto.logs.v1.SeverityNumber;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

class OtlpExportTest {
    @TempDir
    Path dir;

    ExportFixture fixture;
    Server server;

    /** An OTLP logs receiver (the OTLP LogsService over gRPC) that answers UNAVAILABLE while down. */
    static final class Receiver extends LogsServiceGrpc.LogsServiceImplBase {
        final Map<Long, Integer> accepted = new ConcurrentHashMap<>();
        final List<ExportLogsServiceRequest> requests = new CopyOnWriteArrayList<>();
        final AtomicInteger refused = new AtomicInteger();
        volatile boolean down;

        @Override
        public void export(ExportLogsServiceRequest request, StreamObserver<ExportLogsServiceResponse> response) {
            if (down) {
                refused.incrementAndGet();
                response.onError(Status.UNAVAILABLE.withDescription("collector restarting").asRuntimeException());
                return;
            }
            requests.add(request);
            for (var rl : request.getResourceLogsList()) {
                for (var sl : rl.getScopeLogsList()) {
                    for (LogRecord r : sl.getLogRecordsList()) {
                        accepted.merge(attrs(r).get("agentguard.violation.id").getIntValue(), 1, Integer::sum);
                    }
                }
            }
            response.onNext(ExportLogsServiceResponse.getDefaultInstance());
            response.onCompleted();
        }
    }

    static Map<String, io.opentelemetry.proto.common.v1.AnyValue> attrs(LogRecord r) {
        return r.getAttributesList().stream().collect(Collectors.toMap(KeyValue::getKey, KeyValue::getValue));
    }

    @AfterEach
    void tearDown() throws Exception {
        if (fixture != null) {
            fixture.close();
        }
        if (server != null) {
            server.shutdownNow();
        }
    }

    @Test
    void otlpLogsReachTheReceiverAcrossItsUnavailablePeriod() throws Exception {
        Receiver receiver = new Receiver();
        server = Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create()).addService(receiver).build().start();
        fixture = new ExportFixture(dir);
        fixture.store("node-o", 10);
        fixture.start("""
                exports:
                  - name: otel
                    type: otlp
                    endpoint: 127.0.0.1:%d
                    insecure: true
                    headers: {x-tenant: sec}
                    retry: {initial_backoff: 20ms, max_backoff: 200ms}
                """.formatted(server.getPort()));
        ExportFixture.await("the first 10", () -> receiver.accepted.size() == 10);

        receiver.down = true;
        fixture.store("node-o", 10);
        ExportFixture.await("refusals", () -> receiver.refused.get() >= 3);
        assertThat(fixture.metric("agentguard_collector_export_lag", "otel")).isGreaterThan(0);
        receiver.down = false;
        ExportFixture.await("all 20", () -> receiver.accepted.size() == 20);

        assertThat(receiver.accepted.keySet()).containsExactlyInAnyOrderElementsOf(WebhookExportTest.ids(20));
        assertThat(receiver.accepted.values()).allMatch(n -> n == 1);   // an UNAVAILABLE answer is never a delivery
        var rl = receiver.requests.getFirst().getResourceLogs(0);
        assertThat(rl.getResource().getAttributesList()).extracting(KeyValue::getKey).contains("service.name", "host.name");
        LogRecord r = rl.getScopeLogs(0).getLogRecords(0);
        assertThat(r.getSeverityNumber()).isEqualTo(SeverityNumber.SEVERITY_NUMBER_ERROR4);
        assertThat(r.getSeverityText()).isEqualTo("CRITICAL");
        assertThat(r.getBody().getStringValue()).isEqualTo("v1");
        assertThat(r.getTimeUnixNano()).isEqualTo(1_700_000_000_005_000_000L);
        var a = attrs(r);
        assertThat(a.get("agentguard.rule").getStringValue()).isEqualTo("Shell in container");
        assertThat(a.get("agentguard.priority").getStringValue()).isEqualTo("critical");
        assertThat(a.get("agentguard.node").getStringValue()).isEqualTo("node-o");
        assertThat(a.get("agentguard.tags").getArrayValue().getValues(0).getStringValue()).isEqualTo("test");
        assertThat(a.get("process.pid").getIntValue()).isEqualTo(4242);
        assertThat(a.get("agentguard.cgroup").getStringValue()).isEqualTo("/kubepods/pod1/abc");
        assertThat(a.get("k8s.pod.name").getStringValue()).isEqualTo("web-1");
        assertThat(a.get("k8s.namespace.name").getStringValue()).isEqualTo("shop");
        assertThat(a.get("container.id").getStringValue()).hasSize(64);
        assertThat(fixture.metric("agentguard_collector_export_delivered_total", "otel")).isEqualTo(20);
    }
}
