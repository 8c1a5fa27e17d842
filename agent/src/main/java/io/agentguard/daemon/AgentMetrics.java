package io.agentguard.daemon;

import io.agentguard.pipeline.ConsumerPipeline;
import io.agentguard.proto.v1.BlockKind;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.RuleActionKind;
import io.agentguard.proto.v1.Verdict;
import io.agentguard.proto.v1.Violation;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Info;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.io.IOException;
import java.io.UncheckedIOException;

import static io.agentguard.abi.KernelAbi.*;

/**
 * The agent's Prometheus metrics, on an HTTP endpoint bound to localhost by default. Most
 * are read from the published counters when scraped; violations, actions and reloads are
 * counted as they happen (never on the consumer thread's hot path for plain events).
 */
final class AgentMetrics implements AutoCloseable {
    private static final String[] TYPE_NAMES = {null, "exec", "fork", "exit", "connect", "connect_result", "gpu_open",
        "gpu_ioctl", "tamper", null, "scope", "socket", "stdio_socket", "app_proto"};

    /** BlockKind by number, lower case without its prefix: the kind label of agentguard_blocked_total. */
    private static final String[] BLOCK_KIND_NAMES = blockKindNames();

    private static String[] blockKindNames() {
        String[] names = new String[BlockKind.values().length];
        for (BlockKind k : BlockKind.values()) {
            if (k != BlockKind.UNRECOGNIZED) {
                names[k.getNumber()] = k.name().replace("BLOCK_KIND_", "").toLowerCase(java.util.Locale.ROOT);
            }
        }
        return names;
    }

    final PrometheusRegistry registry = new PrometheusRegistry();
    private final Counter violations;
    private final Counter violationsByPriority;
    private final Counter actions;
    private final HTTPServer server;

    AgentMetrics(Agent agent, String listen) {
        // the process and JVM (heap, GC, threads, CPU, RSS, open files): the agent's own cost on the node
        JvmMetrics.builder().register(registry);
        Info.builder().name("agentguard_build_info").help("the agent's version and Java runtime; always 1")
                .labelNames("version", "java_version").register(registry)
                .setLabelValues(AgentStatus.VERSION, Runtime.version().toString());
        CounterWithCallback.builder().name("agentguard_events_total").help("events seen, by type").labelNames("type")
                .callback(cb -> {
                    long[] byType = agent.stats().byType();
                    for (int t = 1; t < byType.length && t < TYPE_NAMES.length; t++) {
                        if (TYPE_NAMES[t] != null) {
                            cb.call(byType[t], TYPE_NAMES[t]);
                        }
                    }
                }).register(registry);
        CounterWithCallback.builder().name("agentguard_lost_records_total")
                .help("ring records lost because the ring (or its share for ordinary records) was full (counted in the"
                        + " kernel)")
                .callback(cb -> cb.call(agent.stats().lost())).register(registry);
        CounterWithCallback.builder().name("agentguard_rate_limited_records_total")
                .help("ring records the kernel dropped because their agent cgroup was over its rate limit")
                .callback(cb -> cb.call(agent.rateLimitedRecords())).register(registry);
        CounterWithCallback.builder().name("agentguard_loss_reports_total")
                .help("'agentguard: events lost' violations raised (per agent cgroup, at most one per 10 s)")
                .callback(cb -> cb.call(agent.pipelineCounters().lossReports())).register(registry);
        CounterWithCallback.builder().name("agentguard_posture_findings_total")
                .help("posture violations: privileges in agent cgroups that defeat the guard, unsafe guard paths")
                .callback(cb -> cb.call(agent.posture().findings())).register(registry);
        GaugeWithCallback.builder().name("agentguard_unsafe_paths")
                .help("guard paths others can write, at the last path check (start, reload)")
                .callback(cb -> cb.call(agent.posture().status().getUnsafePathsCount())).register(registry);
        CounterWithCallback.builder().name("agentguard_invalid_records_total")
                .help("ring records with an impossible type or length, skipped")
                .callback(cb -> cb.call(agent.stats().invalid())).register(registry);
        CounterWithCallback.builder().name("agentguard_failed_records_total")
                .help("ring records the pipeline failed on, skipped (the log says where)")
                .callback(cb -> cb.call(agent.stats().failed())).register(registry);
        GaugeWithCallback.builder().name("agentguard_consumer_lag_bytes")
                .help("bytes committed to the ring and not yet read").callback(cb -> cb.call(agent.consumerLagBytes()))
                .register(registry);
        GaugeWithCallback.builder().name("agentguard_consumer_silence_seconds")
                .help("seconds since the ring consumer's last loop turn (it turns at least every few hundred ms while"
                        + " alive; a dead consumer reports a huge value)")
                .callback(cb -> cb.call(Math.max(0, System.nanoTime() - agent.consumerHeartbeatNs()) / 1e9))
                .register(registry);
        GaugeWithCallback.builder().name("agentguard_processes").help("processes in the process table")
                .callback(cb -> cb.call(agent.stats().processes())).register(registry);
        GaugeWithCallback.builder().name("agentguard_rules").help("rules in force")
                .callback(cb -> cb.call(agent.ruleStatus().rules())).register(registry);
        GaugeWithCallback.builder().name("agentguard_spool_records").help("records spooled, not yet acknowledged")
                .callback(cb -> cb.call(agent.reporter() == null ? 0 : agent.reporter().spoolPending())).register(registry);
        GaugeWithCallback.builder().name("agentguard_collector_connected")
                .help("1 while a collector stream is up").callback(cb -> cb.call(agent.reporter() != null
                        && !agent.reporter().connectedTo().isEmpty() ? 1 : 0)).register(registry);
        CounterWithCallback.builder().name("agentguard_report_events_limited_total")
                .help("events not reported because of report.events_per_second")
                .callback(cb -> cb.call(agent.stats().reportEventsLimited())).register(registry);
        CounterWithCallback.builder().name("agentguard_report_dropped_total")
                .help("records that could not be spooled (queue full, disk full)")
                .callback(cb -> cb.call(agent.reporter() == null ? 0 : agent.reporter().dropped())).register(registry);
        CounterWithCallback.builder().name("agentguard_blocked_total")
                .help("records the kernel blocked (verdict denied) or would have blocked in monitor mode (would_block),"
                        + " by kind; every one is counted, repeats aggregated into one violation included")
                .labelNames("kind", "verdict").callback(cb -> {
                    ConsumerPipeline.Counters c = agent.pipelineCounters();
                    for (BlockKind k : BlockKind.values()) {
                        if (k == BlockKind.BLOCK_KIND_UNSPECIFIED || k == BlockKind.UNRECOGNIZED) {
                            continue;
                        }
                        String kind = BLOCK_KIND_NAMES[k.getNumber()];
                        cb.call(c.blocked(k.getNumber(), false), kind, "denied");
                        cb.call(c.blocked(k.getNumber(), true), kind, "would_block");
                    }
                }).register(registry);
        CounterWithCallback.builder().name("agentguard_violations_aggregated_total")
                .help("occurrences of a violation counted into its aggregate (same rule, process, cgroup and GPU within"
                        + " report.aggregation_window_ms) instead of being reported alone")
                .callback(cb -> cb.call(agent.pipelineCounters().aggregated())).register(registry);
        CounterWithCallback.builder().name("agentguard_aggregation_summaries_total")
                .help("summary violations reported at the end of an aggregation window (count > 1)")
                .callback(cb -> cb.call(agent.pipelineCounters().summaries())).register(registry);
        CounterWithCallback.builder().name("agentguard_aggregation_overflow_total")
                .help("violations reported alone, untracked, because the aggregation table was full")
                .callback(cb -> cb.call(agent.pipelineCounters().aggregationOverflows())).register(registry);
        violations = Counter.builder().name("agentguard_violations_total").help("violations, by rule and priority"
                        + " (every rule in force is listed from 0, so a first violation shows as an increase)")
                .labelNames("rule", "priority").register(registry);
        violationsByPriority = Counter.builder().name("agentguard_violations_by_priority_total")
                .help("violations, by priority, agentguard's own ('agentguard: ...') included; every priority from 0")
                .labelNames("priority").register(registry);
        for (Priority p : Priority.values()) {
            if (p != Priority.PRIORITY_UNSPECIFIED && p != Priority.UNRECOGNIZED) {
                violationsByPriority.labelValues(priority(p));
            }
        }
        actions = Counter.builder().name("agentguard_enforcement_actions_total")
                .help("rule actions, by kind and verdict (denied = carried out)").labelNames("kind", "verdict")
                .register(registry);
        for (RuleActionKind k : RuleActionKind.values()) {
            if (k == RuleActionKind.RULE_ACTION_KIND_UNSPECIFIED || k == RuleActionKind.UNRECOGNIZED) {
                continue;
            }
            for (Verdict v : Verdict.values()) {
                if (v != Verdict.VERDICT_UNSPECIFIED && v != Verdict.UNRECOGNIZED) {
                    actions.labelValues(actionKind(k), verdict(v));
                }
            }
        }
        CounterWithCallback.builder().name("agentguard_enforcement_actions_dropped_total")
                .help("rule actions not carried out because the enforcer's queue was full")
                .callback(cb -> cb.call(agent.enforcer().dropped())).register(registry);
        GaugeWithCallback.builder().name("agentguard_enforcing")
                .help("1 in enforce mode, 0 in monitor mode (blocks only reported as would_block)")
                .callback(cb -> cb.call("enforce".equals(agent.policies().mode()) ? 1 : 0)).register(registry);
        CounterWithCallback.builder().name("agentguard_weakening_reloads_total")
                .help("reloads that weakened the configuration or rules (each also a violation"
                        + " 'agentguard: enforcement weakened by reload')")
                .callback(cb -> cb.call(agent.weakeningReloads())).register(registry);
        CounterWithCallback.builder().name("agentguard_refused_reloads_total")
                .help("SIGHUP reloads refused because they came from an agent cgroup")
                .callback(cb -> cb.call(agent.refusedReloads())).register(registry);
        CounterWithCallback.builder().name("agentguard_watchdog_pings_total")
                .help("systemd watchdog pings sent (0 when systemd does not watch the agent)")
                .callback(cb -> {
                    Watchdog w = agent.watchdog();
                    cb.call(w == null ? 0 : w.pings());
                }).register(registry);
        CounterWithCallback.builder().name("agentguard_watchdog_withheld_total")
                .help("systemd watchdog pings withheld because the ring consumer or housekeeping stalled (systemd"
                        + " restarts the agent when they stay withheld)")
                .callback(cb -> {
                    Watchdog w = agent.watchdog();
                    cb.call(w == null ? 0 : w.withheld());
                }).register(registry);
        CounterWithCallback.builder().name("agentguard_rule_reloads_total").help("rule reloads, by result")
                .labelNames("result").callback(cb -> {
                    cb.call(agent.ruleStatus().succeeded(), "ok");
                    cb.call(agent.ruleStatus().failed(), "failed");
                }).register(registry);
        CounterWithCallback.builder().name("agentguard_rules_reload_failures_total")
                .help("rule reloads that failed, by reason (invalid, limit, io, out_of_memory, stack_overflow, internal);"
                        + " the rules in force stay and the file watch goes on")
                .labelNames("reason").callback(cb -> {
                    long[] by = agent.ruleStatus().failedBy();
                    for (io.agentguard.rules.RuleReloader.FailureReason r : io.agentguard.rules.RuleReloader.FailureReason.values()) {
                        cb.call(by[r.ordinal()], r.label());
                    }
                }).register(registry);
        CounterWithCallback.builder().name("agentguard_rules_watch_checks_total")
                .help("looks at the rule files for changes (a watch that stopped would stop counting)")
                .callback(cb -> cb.call(agent.ruleStatus().watchChecks())).register(registry);
        CounterWithCallback.builder().name("agentguard_classifier_over_budget_total")
                .help("events whose classification stopped at classifier.budget_per_event (rules after that point not"
                        + " evaluated; reported as 'agentguard: classification budget exceeded')")
                .callback(cb -> cb.call(agent.overBudgetEvents())).register(registry);
        CounterWithCallback.builder().name("agentguard_state_drift_total")
                .help("differences found between agentguard's links, pins or maps and the kernel's (tampering),"
                        + " by object (link, pin, map, program) and whether it was put back")
                .labelNames("object", "repaired")
                .callback(cb -> {
                    java.util.Map<String, Long> counts = new java.util.TreeMap<>();
                    for (String object : io.agentguard.bpf.StateDrift.OBJECTS) {   // every label set from 0
                        counts.put(object + "\u0000false", 0L);
                        counts.put(object + "\u0000true", 0L);
                    }
                    agent.stateVerifier().forEachDriftCount((object, repaired, total) ->
                            counts.put(object + "\u0000" + repaired, total));
                    counts.forEach((key, total) -> {
                        int sep = key.indexOf('\u0000');
                        cb.call(total, key.substring(0, sep), key.substring(sep + 1));
                    });
                }).register(registry);
        CounterWithCallback.builder().name("agentguard_state_checks_total")
                .help("checks of agentguard's links, pins and maps against the kernel")
                .callback(cb -> cb.call(agent.stateVerifier().checks())).register(registry);
        if (listen.isEmpty()) {
            server = null;
        } else {
            int colon = listen.lastIndexOf(':');
            try {
                server = HTTPServer.builder().hostname(listen.substring(0, colon))
                        .port(Integer.parseInt(listen.substring(colon + 1))).registry(registry).buildAndStart();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot serve metrics on " + listen + ": " + e.getMessage(), e);
            }
        }
    }

    int port() {
        return server == null ? -1 : server.getPort();
    }

    void violation(Violation v) {
        String priority = priority(v.getPriority());
        violations.labelValues(v.getRule(), priority).inc();
        violationsByPriority.labelValues(priority).inc();
    }

    /** Lists every rule in force at 0 (start, each successful reload); series of removed rules stay. */
    void rulesInForce(java.util.List<io.agentguard.rules.CompiledRule> rules) {
        for (io.agentguard.rules.CompiledRule r : rules) {
            violations.labelValues(r.name(), r.priority().name().toLowerCase(java.util.Locale.ROOT));
        }
    }

    void event(Event e) {
        if (e.hasAction()) {
            actions.labelValues(actionKind(e.getAction().getKind()), verdict(e.getAction().getVerdict())).inc();
        }
    }

    private static String priority(Priority p) {
        return p.name().replace("PRIORITY_", "").toLowerCase(java.util.Locale.ROOT);
    }

    private static String actionKind(RuleActionKind k) {
        return k.name().replace("RULE_ACTION_KIND_", "").toLowerCase(java.util.Locale.ROOT);
    }

    private static String verdict(Verdict v) {
        return v.name().replace("VERDICT_", "").toLowerCase(java.util.Locale.ROOT);
    }

    @Override
    public void close() {
        if (server != null) {
            server.close();
        }
    }
}
