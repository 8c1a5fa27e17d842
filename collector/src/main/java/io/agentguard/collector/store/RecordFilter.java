package io.agentguard.collector.store;

import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.FollowRequest;
import io.agentguard.proto.v1.Violation;
import io.agentguard.proto.v1.Workload;

import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * What a query or a follower asks for, judged on the decoded record: the one definition the
 * event query, the violation evidence and the pushed follow stream share (SQL only narrows the
 * rows read; this decides). Nulls (and 0 for pid, maxPriority) mean "any".
 *
 * @param container a full container id or a prefix of at least {@link JdbcStore#MIN_CONTAINER_PREFIX} hex characters
 * @param cgroup    a cgroup path prefix in whole components ("/a/b" holds "/a/b" and "/a/b/c", not "/a/bc")
 * @param type      the Event kind (exec, connect, gpu, ...)
 */
public record RecordFilter(String node, String rule, int maxPriority, String container, String pod, String job,
                           String unit, String cgroup, Event.KindCase type, int pid, Instant since, Instant until) {
    public RecordFilter {
        if (container != null) {
            new JdbcStore.Filter(null, null, null, null, 0, 1, container, null, null, null);   // same check
        }
    }

    /** Every filter empty. */
    public static RecordFilter any() {
        return new RecordFilter(null, null, 0, null, null, null, null, null, null, 0, null, null);
    }

    /** The Event kinds a query names, as it names them: exec, fork, ..., stdio_socket, app_proto. */
    public static List<String> typeNames() {
        return Arrays.stream(Event.KindCase.values()).filter(k -> k != Event.KindCase.KIND_NOT_SET)
                .map(k -> k.name().toLowerCase(Locale.ROOT)).toList();
    }

    /** The kind named (dashes or underscores, any case); an unknown name is an error that lists the valid ones. */
    public static Event.KindCase type(String name) {
        String n = name.toLowerCase(Locale.ROOT).replace('-', '_');
        if (typeNames().contains(n)) {
            return Event.KindCase.valueOf(n.toUpperCase(Locale.ROOT));
        }
        throw new IllegalArgumentException("unknown event type '" + name + "'; valid types: "
                + String.join(", ", typeNames()));
    }

    public static String typeName(Event.KindCase k) {
        return k == Event.KindCase.KIND_NOT_SET ? "-" : k.name().toLowerCase(Locale.ROOT);
    }

    public boolean matches(String recordNode, Violation v) {
        if (node != null && !node.equals(recordNode) || rule != null && !rule.equals(v.getRule())
                || maxPriority != 0 && v.getPriorityValue() > maxPriority || pid != 0 && v.getProcess().getPid() != pid
                || type != null || cgroup != null && !underCgroup(v.getCgroupPath().isEmpty()
                ? v.getProcess().getCgroupPath() : v.getCgroupPath())) {
            return false;
        }
        return workloadMatches(v.hasWorkload() ? v.getWorkload() : v.getProcess().getWorkload())
                && inTime(v.getTime().getSeconds() * 1000 + v.getTime().getNanos() / 1_000_000);
    }

    public boolean matches(String recordNode, Event e) {
        if (node != null && !node.equals(recordNode) || rule != null || maxPriority != 0
                || type != null && e.getKindCase() != type || pid != 0 && e.getProcess().getPid() != pid
                || cgroup != null && !underCgroup(e.getProcess().getCgroupPath())) {
            return false;
        }
        return workloadMatches(e.getProcess().getWorkload())
                && inTime(e.getTime().getSeconds() * 1000 + e.getTime().getNanos() / 1_000_000);
    }

    private boolean workloadMatches(Workload w) {
        return (container == null || w.getContainerId().startsWith(container))
                && (pod == null || pod.equals(w.getPodUid())) && (job == null || job.equals(w.getJobId()))
                && (unit == null || unit.equals(w.getUnit()));
    }

    private boolean inTime(long timeMs) {
        return (since == null || timeMs >= since.toEpochMilli()) && (until == null || timeMs < until.toEpochMilli());
    }

    /** Whole path components: the prefix "/" or "" holds everything. */
    private boolean underCgroup(String path) {
        String p = trim(path);
        String prefix = trim(cgroup);
        return prefix.isEmpty() || p.equals(prefix) || p.startsWith(prefix + "/");
    }

    static String trim(String path) {
        int from = 0;
        int to = path.length();
        while (from < to && path.charAt(from) == '/') {
            from++;
        }
        while (to > from && path.charAt(to - 1) == '/') {
            to--;
        }
        return path.substring(from, to);
    }

    /** As sent to a collector's Query.Follow (since and until are the client's business). */
    public FollowRequest.Builder toRequest() {
        FollowRequest.Builder b = FollowRequest.newBuilder().setMaxPriority(maxPriority).setPid(pid);
        if (node != null) {
            b.setNode(node);
        }
        if (rule != null) {
            b.setRule(rule);
        }
        if (container != null) {
            b.setContainer(container);
        }
        if (pod != null) {
            b.setPod(pod);
        }
        if (job != null) {
            b.setJob(job);
        }
        if (unit != null) {
            b.setUnit(unit);
        }
        if (cgroup != null) {
            b.setCgroup(cgroup);
        }
        if (type != null) {
            b.setType(typeName(type));
        }
        return b;
    }

    /** From a follower's request; IllegalArgumentException for a bad container or type. */
    public static RecordFilter of(FollowRequest r) {
        return new RecordFilter(blank(r.getNode()), blank(r.getRule()), r.getMaxPriority(),
                blank(r.getContainer()), blank(r.getPod()), blank(r.getJob()), blank(r.getUnit()), blank(r.getCgroup()),
                r.getType().isEmpty() ? null : type(r.getType()), r.getPid(), null, null);
    }

    private static String blank(String s) {
        return s.isEmpty() ? null : s;
    }
}
