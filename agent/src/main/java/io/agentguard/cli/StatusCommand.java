package io.agentguard.cli;

import com.google.protobuf.util.JsonFormat;
import io.agentguard.config.AgentConfigLoader;
import io.agentguard.proto.v1.AgentStatus;
import io.agentguard.proto.v1.CgroupStatus;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/** agentguard status: what the running agent is doing. */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = {"Asks the running agent, over its root-only socket, for its state: mode, hooks, agent cgroups,"
                + " events and losses, rules and the last reload, collector connection and spool.",
                "Exit status: 0 running, 3 not running (no socket), 1 other failure."})
public final class StatusCommand implements Callable<Integer> {
    @Option(names = "--runtime-dir", paramLabel = "DIR", description = "default: runtime_dir of --config, or /run/agentguard")
    Path runtimeDir;

    @Option(names = "--config", paramLabel = "FILE", description = "configuration to take runtime_dir from")
    Path configFile;

    @Option(names = "--json", description = "the status as JSON (protobuf mapping of agentguard.v1.AgentStatus)")
    boolean json;

    @Override
    public Integer call() throws Exception {
        Path dir = runtimeDir != null ? runtimeDir : Path.of((configFile != null ? AgentConfigLoader.load(configFile)
                : AgentConfigLoader.embeddedDefault()).runtimeDir());
        Path socket = dir.resolve("status.sock");
        String text;
        try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            c.connect(UnixDomainSocketAddress.of(socket));
            ByteBuffer buf = ByteBuffer.allocate(1 << 20);
            while (c.read(buf) > 0) {
                if (!buf.hasRemaining()) {
                    break;
                }
            }
            text = new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            System.err.println("agentguard: not running (no answer on " + socket + ": " + e.getMessage() + ")");
            return 3;
        }
        if (json) {
            System.out.println(text);
            return 0;
        }
        AgentStatus.Builder s = AgentStatus.newBuilder();
        JsonFormat.parser().ignoringUnknownFields().merge(text, s);
        System.out.printf("agentguard %s: running for %ds, mode %s%n", s.getVersion(), s.getUptimeSeconds(), s.getMode());
        System.out.println("agent cgroups:");
        for (CgroupStatus c : s.getAgentCgroupsList()) {
            System.out.printf("  %-40s %d processes%n", c.getPath(), c.getProcesses());
        }
        for (io.agentguard.proto.v1.ScopePatternStatus p : s.getScopePatternsList()) {
            System.out.printf("  pattern %-32s %s%n", p.getPattern(), p.getMatchedTotal() == 0 ? "matches nothing"
                    : p.getMatchedTotal() + " cgroups in scope");
            for (CgroupStatus c : p.getMatchedList()) {
                System.out.printf("    %-38s id %d%n", c.getPath(), c.getId());
            }
        }
        if (s.getScopeMapFullTotal() > 0) {
            System.out.printf("  WARNING: %d new cgroups matched a pattern but the scope map was full: not in scope%n",
                    s.getScopeMapFullTotal());
        }
        System.out.printf("events: %d (%.0f/s), lost %d, invalid %d, failed %d, violations %d, lag %d bytes,"
                        + " %d processes tracked%n", s.getEventsTotal(), s.getEventsPerSecond(), s.getLostTotal(),
                s.getInvalidTotal(), s.getFailedRecordsTotal(), s.getViolationsTotal(), s.getConsumerLagBytes(),
                s.getProcesses());
        System.out.printf("kernel drops: %d over per-cgroup rate limits, %d events-lost reports; %d tasks left the"
                + " agent cgroups%n", s.getRateLimitedTotal(), s.getLossReportsTotal(), s.getScopeExitsTotal());
        System.out.printf("aggregation: %d repeats counted into %d summaries, %d reported untracked (table full)%n",
                s.getViolationsAggregatedTotal(), s.getAggregationSummariesTotal(), s.getAggregationOverflowTotal());
        System.out.printf("rules: %d from %s; reloads %d ok, %d failed%s%s%n", s.getRules().getRules(),
                String.join(", ", s.getRules().getSourcesList()), s.getRules().getReloadsSucceeded(),
                s.getRules().getReloadsFailed(), s.getRules().getReloadsFailedByReasonMap().isEmpty() ? ""
                        : " " + new java.util.TreeMap<>(s.getRules().getReloadsFailedByReasonMap()),
                s.getRules().getLastError().isEmpty() ? ""
                        : "; last error (" + s.getRules().getLastFailureReason() + "): " + s.getRules().getLastError());
        if (s.hasClassifier()) {
            System.out.printf("classifier: budget %d units per event; %d events over it, %d reported%n",
                    s.getClassifier().getBudgetPerEvent(), s.getClassifier().getOverBudgetTotal(),
                    s.getClassifier().getBudgetReportsTotal());
        }
        if (s.hasReport()) {
            System.out.printf("report: %s; spool %d records (%d bytes), %d dropped%s%n", s.getReport().getState(),
                    s.getReport().getSpoolRecords(), s.getReport().getSpoolBytes(), s.getReport().getDropped(),
                    s.getReport().getLastError().isEmpty() ? "" : "; last error: " + s.getReport().getLastError());
            System.out.printf("report integrity: spool epoch %s; %d records acknowledged as conflicts, %d collector"
                    + " hellos ahead of the spool, %d records shrunk to the size limit%n", s.getReport().getSpoolEpoch(),
                    s.getReport().getConflicts(), s.getReport().getCollectorAhead(), s.getReport().getOversized());
        } else {
            System.out.println("report: off");
        }
        System.out.printf("enforcement: %d actions carried out, %d dropped%s; pinned: %s%n",
                s.getEnforcement().getActionsCarriedOut(), s.getEnforcement().getActionsDropped(),
                s.getEnforcement().getBlastRadiusDisarmed() ? "; BLAST-RADIUS GUARD DISARMED" : "",
                s.getEnforcement().getPinPath().isEmpty() ? "no" : s.getEnforcement().getPinPath());
        if (s.hasUnixOwners()) {
            System.out.printf("unix owners: %d listeners outside the agent cgroups; %d connects found after the fact,"
                    + " %d not looked at (queue full)%n", s.getUnixOwners().getListenersOutside(),
                    s.getUnixOwners().getFoundAfterTotal(), s.getUnixOwners().getDroppedTotal());
        }
        var posture = s.getPosture();
        System.out.println(posture.getUnsafePathsCount() == 0 ? "paths: ok" + (posture.getPathsChecked().isEmpty() ? ""
                : " (checked at " + posture.getPathsChecked() + ")") : "paths: " + posture.getUnsafePathsCount()
                + " unsafe (checked at " + posture.getPathsChecked() + ")");
        for (String u : posture.getUnsafePathsList()) {
            System.out.println("  UNSAFE: " + u);
        }
        System.out.printf("posture: %d findings, %d repeats suppressed, %d execs not looked at%n",
                posture.getFindingsTotal(), posture.getRepeatsSuppressedTotal(), posture.getDroppedTotal());
        for (String f : posture.getAgentFindingsList()) {
            System.out.println("  " + f);
        }
        var k = s.getKernelState();
        System.out.printf("kernel state: %s; %d checks, %d drift found (%d repaired)%s%n",
                k.getVerifyIntervalMs() > 0 ? "checked every " + k.getVerifyIntervalMs() + " ms" : "checked at start only",
                k.getChecksTotal(), k.getDriftTotal(), k.getRepairedTotal(),
                k.getLastDrift().isEmpty() ? "" : "; last: " + k.getLastDrift());
        for (String u : k.getUnrepairedList()) {
            System.out.println("  NOT REPAIRED: " + u);
        }
        if (s.hasWatchdog()) {
            var w = s.getWatchdog();
            System.out.printf("watchdog: systemd, %d ms; %d pings, %d withheld%s%n", w.getIntervalMs(), w.getPingsTotal(),
                    w.getWithheldTotal(), w.getLastStall().isEmpty() ? "" : "; last stall: " + w.getLastStall());
        } else {
            System.out.println("watchdog: off (not started by systemd with WatchdogSec=)");
        }
        if (s.getWeakeningReloadsTotal() > 0 || s.getRefusedReloadsTotal() > 0) {
            System.out.printf("reloads that weakened enforcement: %d (each a violation); refused (SIGHUP from an agent"
                    + " cgroup): %d%n", s.getWeakeningReloadsTotal(), s.getRefusedReloadsTotal());
        }
        System.out.println("hooks:");
        for (Map.Entry<String, String> h : new TreeMap<>(s.getHooksMap()).entrySet()) {
            System.out.printf("  %-24s %s%n", h.getKey(), h.getValue());
        }
        return 0;
    }
}
