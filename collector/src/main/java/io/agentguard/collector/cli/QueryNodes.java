package io.agentguard.collector.cli;

import com.google.protobuf.util.JsonFormat;
import io.agentguard.collector.store.JdbcStore;
import io.agentguard.proto.v1.Heartbeat;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.time.Duration;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

import static io.agentguard.collector.cli.QueryOptions.BAD_INPUT;
import static io.agentguard.collector.cli.QueryOptions.quote;

/** agentguard-collector query nodes: every node's health as the collector last heard it. */
@Command(name = "nodes", mixinStandardHelpOptions = true,
        description = "Prints every node that ever reported: when it was last heard, agent version, kernel, mode, hooks,"
                + " lost and dropped counts and spool backlog from its last heartbeat; STALE when not heard within"
                + " --stale-after.")
public final class QueryNodes implements Callable<Integer> {
    /** Exit status of --fail-on-stale when a node is stale (as --conflicts: the query found a problem). */
    static final int STALE = 3;

    @Mixin
    QueryOptions options;

    @Option(names = "--stale-after", paramLabel = "DURATION", description = "a node not heard (hello or heartbeat) for"
            + " this long is STALE (default 2m; agents send a heartbeat every report.heartbeat_ms)")
    String staleAfter = "2m";

    @Option(names = "--fail-on-stale", description = "exit 3 if any node is stale (for scripts and checks)")
    boolean failOnStale;

    @Override
    public Integer call() throws Exception {
        Duration stale;
        try {
            stale = Durations.parse(staleAfter);
        } catch (IllegalArgumentException e) {
            System.err.println("agentguard-collector: --stale-after: " + e.getMessage());
            return BAD_INPUT;
        }
        JsonFormat.Printer printer = JsonFormat.printer().omittingInsignificantWhitespace();
        boolean anyStale = false;
        try (JdbcStore store = options.open()) {
            if (store == null) {
                return BAD_INPUT;
            }
            List<JdbcStore.NodeInfo> nodes = store.nodes();
            long now = System.currentTimeMillis();
            if (!options.json) {
                System.out.printf("%-24s %-6s %-10s %-16s %-24s %-8s %8s %8s %8s  %s%n", "NODE", "STATE", "LAST SEEN",
                        "VERSION", "KERNEL", "MODE", "LOST", "DROPPED", "SPOOL", "HOOKS");
            }
            for (JdbcStore.NodeInfo n : nodes) {
                long ageMs = n.lastSeenMs() == 0 ? Long.MAX_VALUE : Math.max(0, now - n.lastSeenMs());
                boolean isStale = ageMs > stale.toMillis();
                anyStale |= isStale;
                Heartbeat hb = n.heartbeat();
                TreeMap<String, String> hooks = new TreeMap<>(n.hello() == null ? java.util.Map.of() : n.hello().getHooksMap());
                if (options.json) {
                    System.out.println("{\"node\":" + quote(n.node()) + ",\"stale\":" + isStale
                            + ",\"last_seen\":" + (n.lastSeenMs() == 0 ? "null"
                            : "\"" + java.time.Instant.ofEpochMilli(n.lastSeenMs()) + "\"")
                            + ",\"last_seen_age_seconds\":" + (n.lastSeenMs() == 0 ? "null" : ageMs / 1000)
                            + ",\"agent_version\":" + quote(n.agentVersion()) + ",\"kernel\":" + quote(n.kernel())
                            + ",\"mode\":" + quote(n.mode()) + ",\"hooks\":{" + hooks.entrySet().stream()
                            .map(h -> quote(h.getKey()) + ":" + quote(h.getValue())).collect(Collectors.joining(","))
                            + "},\"heartbeat\":" + (hb == null ? "null" : printer.print(hb)) + "}");
                } else {
                    System.out.printf("%-24s %-6s %-10s %-16s %-24s %-8s %8s %8s %8s  %s%n", n.node(),
                            isStale ? "STALE" : "ok", n.lastSeenMs() == 0 ? "never" : age(ageMs) + " ago",
                            dash(n.agentVersion()), dash(n.kernel()), dash(n.mode()),
                            hb == null ? "-" : hb.getLost(), hb == null ? "-" : hb.getDropped(),
                            hb == null ? "-" : hb.getSpoolRecords(), hooks.isEmpty() ? "-" : hooks.entrySet().stream()
                                    .map(h -> h.getKey() + "=" + h.getValue()).collect(Collectors.joining(",")));
                }
            }
            System.out.flush();
        }
        return failOnStale && anyStale ? STALE : 0;
    }

    private static String dash(String s) {
        return s == null || s.isEmpty() ? "-" : s;
    }

    /** 45s, 12m, 3h, 5d: the largest unit, rounded down. */
    static String age(long ms) {
        long s = ms / 1000;
        return s < 120 ? s + "s" : s < 7200 ? s / 60 + "m" : s < 172_800 ? s / 3600 + "h" : s / 86_400 + "d";
    }
}
