package io.agentguard.collector.cli;

import com.google.protobuf.util.JsonFormat;
import io.agentguard.collector.store.JdbcStore;
import io.agentguard.collector.store.RecordFilter;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.FollowItem;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.Violation;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;

import static io.agentguard.collector.cli.QueryOptions.BAD_INPUT;
import static io.agentguard.collector.cli.QueryOptions.TIME;
import static io.agentguard.collector.cli.QueryOptions.quote;

/** What `query violations` and plain `query` do (picocli refuses a command whose subcommand subclasses it). */
abstract class ViolationsQuery implements Callable<Integer> {
    @Mixin
    QueryOptions options;

    @Mixin
    QueryOptions.Follow follow;

    @Mixin
    QueryOptions.Workload workload;

    @Option(names = "--since", paramLabel = "DURATION", description = "only the last DURATION (2w, 30d, 3d12h, 15m, 90s)")
    String since;

    @Option(names = "--rule", description = "only this rule")
    String rule;

    @Option(names = "--priority", paramLabel = "P", description = "this priority or more severe (e.g. WARNING)")
    String priority;

    @Option(names = "--evidence", description = "each violation's evidence events, decoded, under it (in --json they"
            + " are always in \"evidence\")")
    boolean evidence;

    @Option(names = "--conflicts", description = "instead: records that arrived under a (node, epoch, sequence) already"
            + " holding other content, each with the version stored first; exit 3 if there are any")
    boolean conflicts;

    @Override
    public Integer call() throws Exception {
        Integer maxPriority = null;
        if (priority != null) {
            try {
                maxPriority = Priority.valueOf("PRIORITY_" + priority.toUpperCase(Locale.ROOT)).getNumber();
            } catch (IllegalArgumentException e) {
                System.err.println("agentguard-collector: unknown priority '" + priority + "'");
                return BAD_INPUT;
            }
        }
        String containerPrefix = QueryOptions.lower(workload.container);
        RecordFilter filter;
        Instant from;
        try {
            filter = new RecordFilter(workload.node, rule, maxPriority == null ? 0 : maxPriority, containerPrefix,
                    workload.pod, workload.job, workload.unit, null, null, 0, null, null);
            from = QueryOptions.ago("--since", since);
        } catch (IllegalArgumentException e) {
            System.err.println("agentguard-collector: " + (e.getMessage().startsWith("--") ? "" : "--container: ")
                    + e.getMessage());
            return BAD_INPUT;
        }
        JsonFormat.Printer printer = JsonFormat.printer().omittingInsignificantWhitespace();
        try (JdbcStore store = options.open()) {
            if (store == null) {
                return BAD_INPUT;
            }
            if (conflicts) {
                return conflicts(store, printer);
            }
            // subscribe before reading the backlog: nothing committed in between is missed
            try (QueryOptions.Subscription sub = follow.follow ? new QueryOptions.Subscription(follow.collector,
                    filter.toRequest().setViolations(true).build()) : null) {
                if (!options.json) {
                    System.out.printf("%-19s %-16s %-8s %-13s %-7s %-40s %-24s %s%n", "TIME", "NODE", "SEQ", "PRIORITY",
                            "COUNT", "RULE", "WORKLOAD", "OUTPUT");
                }
                Set<String> recent = new HashSet<>();
                long after = 0;
                while (true) {
                    // following: a summary comes after its first was printed, so it is printed too (with its count)
                    List<JdbcStore.StoredViolation> rows = store.query(new JdbcStore.Filter(from, workload.node, rule,
                            maxPriority, after, options.limit, containerPrefix, workload.pod, workload.job, workload.unit),
                            sub != null);
                    for (JdbcStore.StoredViolation r : rows) {
                        print(printer, r.node(), r.epoch(), r.sequence(), r.conflicted(), r.violation());
                        if (sub != null && r.receivedAt().toEpochMilli() >= sub.subscribedAt.toEpochMilli()
                                - QueryOptions.DEDUP_WINDOW_MS) {
                            recent.add(r.node() + "/" + r.epoch() + "/" + r.sequence());
                        }
                    }
                    after = store.lastQueryMaxId();
                    if (sub == null || rows.size() < options.limit) {
                        break;
                    }
                }
                System.out.flush();
                if (sub == null) {
                    return 0;
                }
                for (FollowItem item = sub.next(); item != null; item = sub.next()) {
                    skipped(item.getSkipped());
                    if (item.hasRecord() && item.getRecord().hasViolation()
                            && !recent.remove(item.getNode() + "/" + item.getEpoch() + "/" + item.getRecord().getSequence())) {
                        print(printer, item.getNode(), item.getEpoch(), item.getRecord().getSequence(), false,
                                item.getRecord().getViolation());
                    }
                    System.out.flush();
                }
                System.err.println("agentguard-collector: the collector ended the follow (it stopped?)");
                return 1;
            }
        }
    }

    private void skipped(long n) {
        if (n == 0) {
            return;
        }
        if (options.json) {
            System.out.println("{\"skipped\":" + n + "}");
        } else {
            System.out.println("... " + n + " records skipped (this follower fell behind the collector)");
        }
    }

    private void print(JsonFormat.Printer printer, String node, String epoch, long sequence, boolean conflicted,
                       Violation v) throws Exception {
        if (options.json) {
            String body = printer.print(v);
            System.out.println("{\"node\":" + quote(node) + ",\"epoch\":\"" + epoch + "\",\"sequence\":" + sequence
                    + (conflicted ? ",\"conflict\":true" : "") + (body.length() > 2 ? "," + body.substring(1) : "}"));
            return;
        }
        System.out.printf("%-19s %-16s %-8d %-13s %-7s %-40s %-24s %s%n",
                TIME.format(Instant.ofEpochSecond(v.getTime().getSeconds())), node, sequence,
                v.getPriority().name().replace("PRIORITY_", ""),
                Math.max(1, v.getCount()) + (v.getSummary() ? "+" : ""), v.getRule(), workload(v),
                (conflicted ? "[CONFLICT: see --conflicts] " : "") + v.getOutput());
        if (evidence) {
            if (v.getEvidenceCount() == 0) {
                System.out.println("    evidence: (none sent)");
            }
            for (Event e : v.getEvidenceList()) {
                System.out.println("    evidence: " + QueryEvents.line(node, e));
            }
        }
    }

    /** Conflicting versions, oldest first; exit 3 when there are any (scripts and alerts can test for it). */
    private int conflicts(JdbcStore store, JsonFormat.Printer printer) throws Exception {
        List<JdbcStore.Conflict> rows = store.conflicts(workload.node, 0, options.limit);
        if (!options.json) {
            System.out.printf("%-19s %-16s %-32s %-8s %-9s %s%n", "RECEIVED", "NODE", "EPOCH", "SEQ", "KIND", "VERSIONS");
        }
        for (JdbcStore.Conflict c : rows) {
            if (options.json) {
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
                : Event.parseFrom(data)) + "}";
    }

    private static String summary(String kind, byte[] data) throws Exception {
        if (data == null) {
            return "(removed by retention)";
        }
        if ("violation".equals(kind)) {
            Violation v = Violation.parseFrom(data);
            return "violation " + v.getRule() + ": " + v.getOutput();
        }
        return "event " + Event.parseFrom(data).getKindCase();
    }

    /** A violation's workload in a few characters (as {@link #workload(io.agentguard.proto.v1.Workload)}). */
    static String workload(Violation v) {
        return workload(v.hasWorkload() ? v.getWorkload() : v.getProcess().getWorkload());
    }

    /**
     * The workload in a few characters: pod name or UID and container short id, container
     * name or short id, job.step, unit; "-" if none.
     */
    static String workload(io.agentguard.proto.v1.Workload w) {
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
}
