package io.agentguard.collector.cli;

import com.google.protobuf.util.JsonFormat;
import io.agentguard.collector.store.JdbcStore;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.Violation;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** agentguard-collector query. */
@Command(name = "query", mixinStandardHelpOptions = true,
        description = "Prints stored violations, oldest first, as a table or as JSON lines; --follow keeps printing new ones.")
public final class QueryCommand implements Callable<Integer> {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneOffset.UTC);

    @Option(names = "--db", paramLabel = "URL", description = "as for serve")
    String db = "sqlite:/var/lib/agentguard-collector/collector.db";

    @Option(names = "--since", paramLabel = "DURATION", description = "only the last DURATION (30d, 12h, 15m, 90s)")
    String since;

    @Option(names = "--node", description = "only this node")
    String node;

    @Option(names = "--rule", description = "only this rule")
    String rule;

    @Option(names = "--priority", paramLabel = "P", description = "this priority or more severe (e.g. WARNING)")
    String priority;

    @Option(names = "--container", paramLabel = "ID", description = "only this container: its full id or a prefix of at"
            + " least 12 hex characters (as docker ps shows it)")
    String container;

    @Option(names = "--pod", paramLabel = "UID", description = "only this Kubernetes pod (its UID), or Podman pod (its id)")
    String pod;

    @Option(names = "--job", paramLabel = "ID", description = "only this Slurm job")
    String job;

    @Option(names = "--unit", paramLabel = "NAME", description = "only this systemd unit (e.g. agent-7.scope)")
    String unit;

    @Option(names = "--json", description = "JSON lines (protobuf JSON mapping of Violation, with node and sequence)")
    boolean json;

    @Option(names = "--follow", description = "keep printing new violations (and the summaries of aggregated ones,"
            + " COUNT marked +, as they come)")
    boolean follow;

    @Option(names = "--conflicts", description = "instead: records that arrived under a (node, epoch, sequence) already"
            + " holding other content, each with the version stored first; exit 3 if there are any")
    boolean conflicts;

    @Option(names = "--limit", description = "at most this many (default 1000; per poll with --follow)")
    int limit = 1000;

    @Override
    public Integer call() throws Exception {
        Integer maxPriority = null;
        if (priority != null) {
            try {
                maxPriority = Priority.valueOf("PRIORITY_" + priority.toUpperCase(Locale.ROOT)).getNumber();
            } catch (IllegalArgumentException e) {
                System.err.println("agentguard-collector: unknown priority '" + priority + "'");
                return 2;
            }
        }
        String containerPrefix = container == null ? null : container.toLowerCase(Locale.ROOT);
        try {
            new JdbcStore.Filter(null, null, null, null, 0, 1, containerPrefix, pod, job, unit);
        } catch (IllegalArgumentException e) {
            System.err.println("agentguard-collector: --container: " + e.getMessage());
            return 2;
        }
        Instant from = since == null ? null : Instant.now().minus(ServeCommand.parseDuration(since));
        JsonFormat.Printer printer = JsonFormat.printer().omittingInsignificantWhitespace();
        try (JdbcStore store = JdbcStore.open(db)) {
            if (conflicts) {
                return conflicts(store, printer);
            }
            long after = 0;
            if (!json) {
                System.out.printf("%-19s %-16s %-8s %-13s %-7s %-40s %-24s %s%n", "TIME", "NODE", "SEQ", "PRIORITY",
                        "COUNT", "RULE", "WORKLOAD", "OUTPUT");
            }
            do {
                // following: a summary comes after its first was printed, so it is printed too (with its count)
                List<JdbcStore.StoredViolation> rows = store.query(new JdbcStore.Filter(from, node, rule, maxPriority,
                        after, limit, containerPrefix, pod, job, unit), follow);
                for (JdbcStore.StoredViolation r : rows) {
                    Violation v = r.violation();
                    if (json) {
                        String body = printer.print(v);
                        System.out.println("{\"node\":" + quote(r.node()) + ",\"epoch\":\"" + r.epoch()
                                + "\",\"sequence\":" + r.sequence() + (r.conflicted() ? ",\"conflict\":true" : "")
                                + (body.length() > 2 ? "," + body.substring(1) : "}"));
                    } else {
                        System.out.printf("%-19s %-16s %-8d %-13s %-7s %-40s %-24s %s%n",
                                TIME.format(Instant.ofEpochSecond(v.getTime().getSeconds())), r.node(), r.sequence(),
                                v.getPriority().name().replace("PRIORITY_", ""),
                                Math.max(1, v.getCount()) + (v.getSummary() ? "+" : ""), v.getRule(), workload(v),
                                (r.conflicted() ? "[CONFLICT: see --conflicts] " : "") + v.getOutput());
                    }
                }
                System.out.flush();
                after = store.lastQueryMaxId();
                if (follow) {
                    Thread.sleep(500);
                }
            } while (follow);
        }
        return 0;
    }

    /** Conflicting versions, oldest first; exit 3 when there are any (scripts and alerts can test for it). */
    private int conflicts(JdbcStore store, JsonFormat.Printer printer) throws Exception {
        List<JdbcStore.Conflict> rows = store.conflicts(node, 0, limit);
        if (!json) {
            System.out.printf("%-19s %-16s %-32s %-8s %-9s %s%n", "RECEIVED", "NODE", "EPOCH", "SEQ", "KIND", "VERSIONS");
        }
        for (JdbcStore.Conflict c : rows) {
            if (json) {
                System.out.println("{\"node\":" + quote(c.node()) + ",\"epoch\":\"" + c.epoch() + "\",\"sequence\":"
                        + c.sequence() + ",\"received\":\"" + c.receivedAt() + "\",\"peer\":" + quote(c.peer())
                        + ",\"stored_first\":" + render(printer, c.firstKind(), c.firstData())
                        + ",\"conflicting\":" + render(printer, c.kind(), c.data()) + "}");
            } else {
                System.out.printf("%-19s %-16s %-32s %-8d %-9s first: %s%n%94s then (from %s): %s%n",
                        TIME.format(c.receivedAt()), c.node(), c.epoch(), c.sequence(), c.kind(),
                        summary(c.firstKind(), c.firstData()), "", c.peer(), summary(c.kind(), c.data()));
            }
        }
        System.out.flush();
        return rows.isEmpty() ? 0 : 3;
    }

    private static String render(JsonFormat.Printer printer, String kind, byte[] data) throws Exception {
        if (data == null) {
            return "null";
        }
        return "{\"" + kind + "\":" + printer.print("violation".equals(kind) ? Violation.parseFrom(data)
                : io.agentguard.proto.v1.Event.parseFrom(data)) + "}";
    }

    private static String summary(String kind, byte[] data) throws Exception {
        if (data == null) {
            return "(removed by retention)";
        }
        if ("violation".equals(kind)) {
            Violation v = Violation.parseFrom(data);
            return "violation " + v.getRule() + ": " + v.getOutput();
        }
        return "event " + io.agentguard.proto.v1.Event.parseFrom(data).getKindCase();
    }

    /**
     * The workload in a few characters: pod name or UID and container short id, container
     * name or short id, job.step, unit; "-" if none.
     */
    static String workload(Violation v) {
        io.agentguard.proto.v1.Workload w = v.hasWorkload() ? v.getWorkload() : v.getProcess().getWorkload();
        String shortId = w.getContainerId().length() > 12 ? w.getContainerId().substring(0, 12) : w.getContainerId();
        String container = !w.getContainerName().isEmpty() ? w.getContainerName() : shortId;
        String text;
        if (!w.getPodUid().isEmpty()) {
            String pod = !w.getPodName().isEmpty()
                    ? (w.getPodNamespace().isEmpty() ? "" : w.getPodNamespace() + "/") + w.getPodName()
                    : "pod:" + w.getPodUid();
            text = container.isEmpty() ? pod : pod + "/" + container;
        } else if (!container.isEmpty()) {
            text = "ctr:" + container;
        } else if (!w.getJobId().isEmpty()) {
            text = "job:" + w.getJobId() + (w.getStepId().isEmpty() ? "" : "." + w.getStepId());
        } else if (!w.getUnit().isEmpty()) {
            text = w.getUnit();
        } else {
            text = "-";
        }
        return text;
    }

    private static String quote(String s) {
        return s == null ? "null" : "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
