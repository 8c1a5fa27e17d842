package io.agentguard.daemon;

import io.agentguard.config.AgentConfig;
import io.agentguard.config.TlsMode;
import io.agentguard.monitoring.MonitoringFiles;
import io.agentguard.proto.v1.BlockKind;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.RuleActionKind;
import io.agentguard.proto.v1.Verdict;
import io.agentguard.rules.CompiledRule;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A real agent (kernel hooks loaded) reporting to a real collector process (`agentguard-collector
 * serve`): every metric the shipped dashboard and alerting rules use is in their /metrics
 * output, and the labelled counters list every label set at 0 from the start.
 */
class MonitoringKernelTest {
    static final String NODE = "monitoring-kernel-node";
    static final Path DIR;
    static final Process COLLECTOR;
    /** The export's receiver: a loopback syslog UDP socket (nothing is read from it). */
    static final DatagramSocket SYSLOG;
    static final int COLLECTOR_PORT;
    static final int COLLECTOR_METRICS_PORT;

    static {
        try {
            DIR = Files.createTempDirectory("agentguard-monitoring");
            // one export, so that the export metric families (series per configured export) are in the output
            SYSLOG = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            Path exports = DIR.resolve("exports.yaml");
            Files.writeString(exports, """
                    exports:
                      - name: siem
                        type: syslog
                        transport: udp
                        address: 127.0.0.1:%d
                    """.formatted(SYSLOG.getLocalPort()));
            String java = ProcessHandle.current().info().command().orElseThrow();
            COLLECTOR = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                    "io.agentguard.collector.cli.CollectorMain", "serve", "--plaintext", "--listen", "127.0.0.1:0",
                    "--metrics-listen", "127.0.0.1:0", "--query-listen", "", "--db", "sqlite:" + DIR.resolve("collector.db"),
                    "--exports", exports.toString())
                    .redirectErrorStream(true).start();
            BufferedReader out = new BufferedReader(new InputStreamReader(COLLECTOR.getInputStream(), StandardCharsets.UTF_8));
            Pattern started = Pattern.compile("listening on .*port (\\d+);.*metrics on 127\\.0\\.0\\.1:(\\d+)");
            Matcher m = null;
            StringBuilder seen = new StringBuilder();
            for (String line; (line = out.readLine()) != null; ) {
                seen.append(line).append('\n');
                Matcher candidate = started.matcher(line);
                if (candidate.find()) {
                    m = candidate;
                    break;
                }
            }
            if (m == null) {
                throw new IllegalStateException("the collector did not start:\n" + seen);
            }
            COLLECTOR_PORT = Integer.parseInt(m.group(1));
            COLLECTOR_METRICS_PORT = Integer.parseInt(m.group(2));
            Thread.ofVirtual().start(() -> out.lines().forEach(l -> { }));   // keep its pipe drained
        } catch (Exception e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096).configure(b -> b.report(
            new AgentConfig.Report(List.of("127.0.0.1:" + COLLECTOR_PORT), NODE, TlsMode.PLAINTEXT, "", "", "",
                    DIR.resolve("spool").toString(), 1L << 30, false, 1000, 4, 200)));

    @AfterAll
    static void stop() throws Exception {
        COLLECTOR.destroy();
        COLLECTOR.waitFor(30, TimeUnit.SECONDS);
        SYSLOG.close();
    }

    private static String scrape(int port) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        return r.body();
    }

    /** The collector's output once this agent's heartbeat reached it (the per-node series need a node). */
    private static String collectorMetricsWithTheNode() throws Exception {
        String text = "";
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            text = scrape(COLLECTOR_METRICS_PORT);
            if (text.contains("agentguard_collector_node_spool_records{node=\"" + NODE + "\"}")
                    && text.contains("agentguard_collector_agents_connected 1")) {
                return text;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the agent's heartbeat never reached the collector:\n" + text);
    }

    private static Set<String> exposed() throws Exception {
        Set<String> names = new TreeSet<>(MonitoringFiles.exposedNames(scrape(KERNEL.agent().metricsPort())));
        names.addAll(MonitoringFiles.exposedNames(collectorMetricsWithTheNode()));
        return names;
    }

    private static Map<String, String> shippedExpressions(String rulesYaml) {
        Map<String, String> all = new java.util.LinkedHashMap<>(MonitoringFiles.rules(rulesYaml).expressions());
        all.putAll(MonitoringFiles.dashboardExpressions(MonitoringFiles.read(MonitoringFiles.DASHBOARD)));
        return all;
    }

    @Test
    void everyMetricTheDashboardAndTheAlertsUseIsInTheAgentsOrTheCollectorsMetrics() throws Exception {
        String rules = MonitoringFiles.read(MonitoringFiles.RULES);
        Map<String, String> expressions = shippedExpressions(rules);
        assertThat(expressions).hasSizeGreaterThan(40);   // the files were found and parsed
        Set<String> exposed = exposed();
        assertThat(MonitoringFiles.missing(expressions, MonitoringFiles.rules(rules).recorded(), exposed)).isEmpty();
        // what the names check leans on is really there: JVM, process, build info on both
        assertThat(exposed).contains("agentguard_build_info", "agentguard_collector_build_info",
                "jvm_memory_used_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes");
        // the export alerts and panels are covered: their names are in the expressions checked above
        assertThat(expressions.values()).anyMatch(e -> e.contains("agentguard_collector_export_failed_attempts_total"))
                .anyMatch(e -> e.contains("agentguard_collector_export_dead_letter_total"))
                .anyMatch(e -> e.contains("agentguard_collector_export_lag"))
                .anyMatch(e -> e.contains("agentguard_collector_export_delivered_total"));
    }

    @Test
    void aRuleNamingAMetricNeitherExposesFailsTheCheck() throws Exception {
        // an operator's typo, or a metric renamed in the code and not in the rules
        String broken = MonitoringFiles.read(MonitoringFiles.RULES)
                .replace("agentguard_lost_records_total", "agentguard_lost_record_total");
        MonitoringFiles.Rules rules = MonitoringFiles.rules(broken);
        assertThat(MonitoringFiles.missing(rules.expressions(), rules.recorded(), exposed()))
                .containsExactly("alert AgentguardEventsLost: agentguard_lost_record_total");
        // an export metric under a name no collector exposes (the plural OPERATIONS.md once announced)
        MonitoringFiles.Rules exportTypo = MonitoringFiles.rules(MonitoringFiles.read(MonitoringFiles.RULES)
                .replace("agentguard_collector_export_dead_letter_total", "agentguard_collector_export_dead_letters_total"));
        assertThat(MonitoringFiles.missing(exportTypo.expressions(), exportTypo.recorded(), exposed()))
                .containsExactly("alert AgentguardExportDeadLetters: agentguard_collector_export_dead_letters_total");
        // a recording rule defines its name: using it is no error
        MonitoringFiles.Rules recorded = MonitoringFiles.rules("""
                groups:
                  - name: g
                    rules:
                      - record: job:agentguard_events:rate5m
                        expr: sum by (job) (rate(agentguard_events_total[5m]))
                      - alert: A
                        expr: job:agentguard_events:rate5m > 1e6
                """);
        assertThat(MonitoringFiles.missing(recorded.expressions(), recorded.recorded(), exposed())).isEmpty();
    }

    @Test
    void aFreshAgentListsEveryLabelSetOfItsLabelledCountersAtZero() throws Exception {
        String text = scrape(KERNEL.agent().metricsPort());
        List<String> expected = new ArrayList<>();
        for (BlockKind k : BlockKind.values()) {
            if (k != BlockKind.BLOCK_KIND_UNSPECIFIED && k != BlockKind.UNRECOGNIZED) {
                String kind = k.name().replace("BLOCK_KIND_", "").toLowerCase(Locale.ROOT);
                expected.add("agentguard_blocked_total{kind=\"" + kind + "\",verdict=\"denied\"} 0");
                expected.add("agentguard_blocked_total{kind=\"" + kind + "\",verdict=\"would_block\"} 0");
            }
        }
        for (RuleActionKind k : RuleActionKind.values()) {
            for (Verdict v : Verdict.values()) {
                if (k != RuleActionKind.UNRECOGNIZED && v != Verdict.UNRECOGNIZED && k.getNumber() > 0 && v.getNumber() > 0) {
                    expected.add("agentguard_enforcement_actions_total{kind=\"" + k.name().replace("RULE_ACTION_KIND_", "")
                            .toLowerCase(Locale.ROOT) + "\",verdict=\"" + v.name().replace("VERDICT_", "")
                            .toLowerCase(Locale.ROOT) + "\"} 0");
                }
            }
        }
        for (CompiledRule r : KERNEL.agent().classifier().rules().rules()) {
            expected.add("agentguard_violations_total{priority=\"" + r.priority().name().toLowerCase(Locale.ROOT)
                    + "\",rule=\"" + escape(r.name()) + "\"} 0");
        }
        for (Priority p : Priority.values()) {
            if (p != Priority.UNRECOGNIZED && p.getNumber() > 0) {
                expected.add("agentguard_violations_by_priority_total{priority=\""
                        + p.name().replace("PRIORITY_", "").toLowerCase(Locale.ROOT) + "\"} ");
            }
        }
        for (String object : io.agentguard.bpf.StateDrift.OBJECTS) {
            expected.add("agentguard_state_drift_total{object=\"" + object + "\",repaired=\"false\"} 0");
            expected.add("agentguard_state_drift_total{object=\"" + object + "\",repaired=\"true\"} 0");
        }
        for (io.agentguard.rules.RuleReloader.FailureReason r : io.agentguard.rules.RuleReloader.FailureReason.values()) {
            expected.add("agentguard_rules_reload_failures_total{reason=\"" + r.label() + "\"} 0");
        }
        expected.add("agentguard_rule_reloads_total{result=\"ok\"} ");
        expected.add("agentguard_rule_reloads_total{result=\"failed\"} 0");
        expected.add("agentguard_events_total{type=\"tamper\"} 0");
        assertThat(expected).hasSizeGreaterThan(60);
        assertThat(notAtZero(text, expected)).as("label sets missing or not at 0 in:%n%s", text).isEmpty();

        String collector = scrape(COLLECTOR_METRICS_PORT);
        List<String> collectorExpected = new ArrayList<>(List.of(
                "agentguard_collector_records_stored_total{kind=\"violation\"} 0",
                "agentguard_collector_records_stored_total{kind=\"event\"} 0",
                "agentguard_collector_store_errors_total 0"));
        for (String reason : List.of("too-large", "empty", "store", "second-hello", "no-node", "bad-node-name",
                "bad-certificate", "node-mismatch", "no-epoch", "no-hello", "bad-batch", "bad-epoch")) {
            collectorExpected.add("agentguard_collector_streams_rejected_total{reason=\"" + reason + "\"} 0");
        }
        // the configured export's series, before anything failed (delivered, lag: any violation of this run may be sent)
        for (String family : List.of("failed_attempts_total", "dead_letter_total")) {
            collectorExpected.add("agentguard_collector_export_" + family + "{export=\"siem\"} 0");
        }
        for (String family : List.of("delivered_total", "lag", "last_success_timestamp_seconds")) {
            collectorExpected.add("agentguard_collector_export_" + family + "{export=\"siem\"} ");
        }
        assertThat(notAtZero(collector, collectorExpected)).as("label sets missing or not at 0 in the collector's:%n%s", collector).isEmpty();
    }

    /**
     * The expected series ("name{labels} 0", or "name{labels} " for present at any value) that the
     * exposition lacks or shows at another value.
     */
    private static List<String> notAtZero(String exposition, List<String> expected) {
        Map<String, Double> values = new java.util.HashMap<>();
        for (String line : exposition.split("\n")) {
            int space = line.lastIndexOf(' ');
            if (!line.startsWith("#") && space > 0) {
                values.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
            }
        }
        List<String> wrong = new ArrayList<>();
        for (String e : expected) {
            int space = e.lastIndexOf(' ');
            Double value = values.get(e.substring(0, space));
            if (value == null || (space < e.length() - 1 && value != 0)) {
                wrong.add(e + (value == null ? " (absent)" : " (is " + value + ")"));
            }
        }
        return wrong;
    }

    private static String escape(String labelValue) {
        return labelValue.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
