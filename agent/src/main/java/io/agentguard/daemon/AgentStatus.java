package io.agentguard.daemon;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.JsonFormat;
import io.agentguard.bpf.KernelCounters;
import io.agentguard.log.Log;
import io.agentguard.pipeline.ConsumerPipeline;
import io.agentguard.proto.v1.CgroupStatus;
import io.agentguard.proto.v1.EnforcementStatus;
import io.agentguard.proto.v1.Heartbeat;
import io.agentguard.proto.v1.ReportStatus;
import io.agentguard.proto.v1.RulesStatus;
import io.agentguard.report.Reporter;
import io.agentguard.rules.RuleReloader;
import io.agentguard.scope.AgentCgroups;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.stream.Stream;

import static io.agentguard.abi.KernelAbi.*;

/**
 * What the running agent tells people and collectors about itself: the counters
 * ({@link Agent.Stats}), the periodic stats line, the exit summary, the heartbeat's counters and
 * the document `agentguard status` prints. Reads the consumer thread's published counters
 * and the kernel's per-CPU ones; never touches the hot path.
 */
final class AgentStatus {
    static final String VERSION = Objects.requireNonNullElse(Agent.class.getPackage().getImplementationVersion(), "dev");

    private final Agent agent;
    private final KernelCounters kernelCounters;
    private final long statsIntervalMs;
    private final Log log;
    private final long startNs = System.nanoTime();
    private final long startedEpochSeconds = System.currentTimeMillis() / 1000;
    private long lastStatsEvents;
    private long lastStatsLost;
    private volatile double eventsPerSecond;

    AgentStatus(Agent agent, KernelCounters kernelCounters, long statsIntervalMs, Log log) {
        this.agent = agent;
        this.kernelCounters = kernelCounters;
        this.statsIntervalMs = statsIntervalMs;
        this.log = log;
    }

    Agent.Stats stats() {
        ConsumerPipeline.Counters c = agent.pipelineCounters();
        return new Agent.Stats(c.events(), kernelCounters.sum(AG_CNT_LOST), kernelCounters.sum(AG_CNT_EMITTED),
                c.invalid(), agent.failedRecords(), c.byType(), System.nanoTime() - startNs, c.violations(),
                c.processes(), c.processEvictions(), c.reportEventsLimited());
    }

    /** The stats line, every stats interval (housekeeping thread). */
    void printStats() {
        try {
            Agent.Stats s = stats();
            double seconds = statsIntervalMs / 1000.0;
            log.info(String.format("%.0f events/s, %.0f lost/s (total %d events, %d lost, %d rate-limited, %d invalid,"
                            + " %d failed, %d violations)", (s.events() - lastStatsEvents) / seconds,
                    (s.lost() - lastStatsLost) / seconds, s.events(), s.lost(), kernelCounters.sum(AG_CNT_RATE_LIMITED),
                    s.invalid(), s.failed(), s.violations()));
            Reporter reporter = agent.reporter();
            if (reporter != null) {
                log.info("report: " + reporter.state() + "; spool " + reporter.spoolPending()
                        + " records pending, " + reporter.dropped() + " dropped"
                        + (reporter.lastError().isEmpty() ? "" : "; last error: " + reporter.lastError()));
            }
            RuleReloader.Status rules = agent.ruleStatus();
            if (rules.failed() > 0 && !rules.lastError().isEmpty()) {
                log.warn("rules: " + rules.rules() + " in force; last reload failed (" + rules.lastFailure().label()
                        + "): " + rules.lastError());
            }
            eventsPerSecond = (s.events() - lastStatsEvents) / seconds;
            lastStatsEvents = s.events();
            lastStatsLost = s.lost();
        } catch (RuntimeException e) {
            log.warn("stats failed: " + e.getMessage());
        }
    }

    String summary() {
        Agent.Stats s = stats();
        double seconds = Math.max(s.uptimeNs() / 1e9, 1e-3);
        return String.format("agentguard: summary: %d events in %.1f s (%.0f/s), %d lost, %d invalid records, "
                        + "%d failed, %d violations; exec %d, fork %d, exit %d, connect %d, gpu-open %d, gpu-ioctl %d",
                s.events(), seconds, s.events() / seconds, s.lost(), s.invalid(), s.failed(), s.violations(),
                s.byType()[AG_REC_EXEC], s.byType()[AG_REC_FORK], s.byType()[AG_REC_EXIT], s.byType()[AG_REC_CONNECT],
                s.byType()[AG_REC_GPU_OPEN], s.byType()[AG_REC_GPU_IOCTL]);
    }

    /** The counters a heartbeat carries (reporter's sender thread). */
    Heartbeat.Builder heartbeat() {
        Agent.Stats s = stats();
        Heartbeat.Builder b = Heartbeat.newBuilder().setEvents(s.events()).setLost(s.lost()).setViolations(s.violations());
        long[] perCpu = new long[kernelCounters.cpus()];
        kernelCounters.perCpu(AG_CNT_LOST, perCpu);
        for (long l : perCpu) {
            b.addLostPerCpu(l);
        }
        return b;
    }

    /** The status `agentguard status` shows, as JSON (protobuf mapping of AgentStatus). */
    String json() {
        Agent.Stats s = stats();
        io.agentguard.proto.v1.AgentStatus.Builder b = io.agentguard.proto.v1.AgentStatus.newBuilder()
                .setVersion(VERSION)
                .setMode(agent.policies().mode())
                .setStarted(Timestamp.newBuilder().setSeconds(startedEpochSeconds))
                .setUptimeSeconds(s.uptimeNs() / 1_000_000_000L)
                .putAllHooks(agent.hooks())
                .setEventsTotal(s.events())
                .setEventsPerSecond(eventsPerSecond > 0 ? eventsPerSecond : s.events() / Math.max(1e-3, s.uptimeNs() / 1e9))
                .setLostTotal(s.lost())
                .setInvalidTotal(s.invalid())
                .setFailedRecordsTotal(s.failed())
                .setRateLimitedTotal(kernelCounters.sum(AG_CNT_RATE_LIMITED))
                .setLossReportsTotal(agent.pipelineCounters().lossReports())
                .setViolationsAggregatedTotal(agent.pipelineCounters().aggregated())
                .setAggregationSummariesTotal(agent.pipelineCounters().summaries())
                .setAggregationOverflowTotal(agent.pipelineCounters().aggregationOverflows())
                .setScopeExitsTotal(s.byType()[AG_REC_SCOPE])
                .setViolationsTotal(s.violations())
                .setProcesses(s.processes())
                .setConsumerLagBytes(agent.consumerLagBytes())
                .setKernelState(agent.stateVerifier().status());
        for (AgentCgroups.Root r : agent.cgroups().fixedRoots()) {
            b.addAgentCgroups(CgroupStatus.newBuilder().setPath(r.relativePath()).setId(r.id())
                    .setProcesses(countProcesses(r.directory())));
        }
        if (!agent.cgroups().patterns().isEmpty()) {
            List<AgentCgroups.Matched> matched = agent.cgroups().matched(agent.scopeRootsMap());
            for (io.agentguard.scope.CgroupPattern p : agent.cgroups().patterns()) {
                io.agentguard.proto.v1.ScopePatternStatus.Builder ps = io.agentguard.proto.v1.ScopePatternStatus.newBuilder()
                        .setPattern(p.text());
                for (AgentCgroups.Matched m : matched) {
                    if (m.pattern().equals(p.text())) {
                        if (ps.getMatchedCount() < 1000) {
                            ps.addMatched(CgroupStatus.newBuilder().setPath(m.path()).setId(m.id()));
                        }
                        ps.setMatchedTotal(ps.getMatchedTotal() + 1);
                    }
                }
                b.addScopePatterns(ps);
            }
            b.setScopeMapFullTotal(kernelCounters.sum(io.agentguard.abi.KernelAbi.AG_CNT_SCOPE_FULL));
        }
        RuleReloader.Status rs = agent.ruleStatus();
        RulesStatus.Builder rules = RulesStatus.newBuilder().setRules(rs.rules()).addAllSources(agent.ruleSources())
                .setReloadsSucceeded(rs.succeeded()).setReloadsFailed(rs.failed()).setLastError(rs.lastError())
                .setWatchChecksTotal(rs.watchChecks())
                .setLastFailureReason(rs.lastFailure() == null ? "" : rs.lastFailure().label());
        for (RuleReloader.FailureReason r : RuleReloader.FailureReason.values()) {
            if (rs.failedBy()[r.ordinal()] > 0) {
                rules.putReloadsFailedByReason(r.label(), rs.failedBy()[r.ordinal()]);
            }
        }
        b.setRules(rules);
        b.setClassifier(io.agentguard.proto.v1.ClassifierStatus.newBuilder().setBudgetPerEvent(agent.budgetPerEvent())
                .setOverBudgetTotal(agent.overBudgetEvents()).setBudgetReportsTotal(agent.budgetReports()));
        Reporter reporter = agent.reporter();
        if (reporter != null) {
            b.setReport(ReportStatus.newBuilder().setState(reporter.state())
                    .setConnectedTo(reporter.connectedTo()).setSpoolRecords(reporter.spoolPending())
                    .setSpoolBytes(reporter.spool().bytes()).setDropped(reporter.dropped())
                    .setLastError(reporter.lastError())
                    .setSpoolEpoch(reporter.spool().epochHex()).setConflicts(reporter.conflicts())
                    .setOversized(reporter.oversized()).setCollectorAhead(reporter.collectorAhead()));
        }
        b.setEnforcement(EnforcementStatus.newBuilder()
                .setActionsCarriedOut(agent.enforcer().carriedOut()).setActionsDropped(agent.enforcer().dropped())
                .setBlastRadiusDisarmed(agent.enforcer().disarmed()).setPinPath(agent.pinRoot()));
        io.agentguard.enforce.ExecFileChecker checks = agent.execChecker();
        b.setExecChecks(io.agentguard.proto.v1.ExecCheckStatus.newBuilder()
                .addAllLoaders(agent.policies().loaders().stream().map(f -> f.path().toString()).toList())
                .setKilled(checks.killed()).setDropped(checks.dropped()).setUnchecked(checks.unchecked()));
        io.agentguard.enforce.HeldProcesses held = agent.heldProcesses();
        if (held != null) {
            b.setTunnels(io.agentguard.proto.v1.TunnelStatus.newBuilder().setJudged(held.judged())
                    .setResumedByTimeout(held.resumedByTimeout()).setResumedAtStart(held.resumedAtStart())
                    .setKilled(held.killed()).setDropped(agent.tunnelJudgeDropped()));
        }
        if (agent.runtimeNames() != null) {
            b.setRuntimeMetadata(agent.runtimeNames().status());
        }
        UnixOwners owners = agent.unixOwners();
        if (owners != null) {
            b.setUnixOwners(io.agentguard.proto.v1.UnixOwnersStatus.newBuilder().setListenersOutside(owners.listeners())
                    .setFoundAfterTotal(owners.foundAfter()).setDroppedTotal(owners.dropped()));
        }
        Watchdog watchdog = agent.watchdog();
        if (watchdog != null) {
            b.setWatchdog(io.agentguard.proto.v1.WatchdogStatus.newBuilder().setIntervalMs(watchdog.intervalMs())
                    .setPingsTotal(watchdog.pings()).setWithheldTotal(watchdog.withheld())
                    .setLastStall(watchdog.lastStall()));
        }
        b.setWeakeningReloadsTotal(agent.weakeningReloads()).setRefusedReloadsTotal(agent.refusedReloads());
        b.setPosture(agent.posture().status());
        try {
            return JsonFormat.printer().print(b);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    private static int countProcesses(Path cgroup) {
        try (Stream<Path> dirs = Files.walk(cgroup)) {
            return dirs.filter(Files::isDirectory).mapToInt(d -> {
                try {
                    return (int) Files.readAllLines(d.resolve("cgroup.procs")).stream().filter(l -> !l.isBlank()).count();
                } catch (IOException e) {
                    return 0;
                }
            }).sum();
        } catch (IOException | UncheckedIOException e) {
            return 0;
        }
    }
}
