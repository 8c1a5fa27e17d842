package io.agentguard.collector.export;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.util.List;

/**
 * The exports' metrics, label export, registered in the collector's Prometheus registry. Every
 * configured export's series exist at 0 from start (alerts on rate() need them).
 */
public final class ExportMetrics {
    final Counter delivered;
    final Counter failedAttempts;
    final Counter deadLetters;
    final Gauge lag;
    final Gauge lastSuccess;

    public ExportMetrics(PrometheusRegistry registry, List<String> exports) {
        delivered = Counter.builder().name("agentguard_collector_export_delivered_total")
                .help("Violations the receiver confirmed, per export (at-least-once: a resend after a crash counts again)")
                .labelNames("export").register(registry);
        failedAttempts = Counter.builder().name("agentguard_collector_export_failed_attempts_total")
                .help("Delivery attempts that failed (receiver down, timeout, 5xx/429 or rejection), per export")
                .labelNames("export").register(registry);
        deadLetters = Counter.builder().name("agentguard_collector_export_dead_letter_total")
                .help("Violations given up on after the receiver rejected them reject_attempts times, per export")
                .labelNames("export").register(registry);
        lag = Gauge.builder().name("agentguard_collector_export_lag")
                .help("Violations stored after the export's position: not yet delivered, filtered or dead-lettered")
                .labelNames("export").register(registry);
        lastSuccess = Gauge.builder().name("agentguard_collector_export_last_success_timestamp_seconds")
                .help("Unix time of the export's last confirmed delivery (0: none since start)")
                .labelNames("export").register(registry);
        for (String e : exports) {
            delivered.labelValues(e);
            failedAttempts.labelValues(e);
            deadLetters.labelValues(e);
            lag.labelValues(e);
            lastSuccess.labelValues(e);
        }
    }
}
