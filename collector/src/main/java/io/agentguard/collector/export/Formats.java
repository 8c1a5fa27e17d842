package io.agentguard.collector.export;

import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.Violation;
import io.agentguard.proto.v1.Workload;

import java.util.Locale;

/** Shared pieces of the export formats. */
final class Formats {
    private Formats() {
    }

    /** "critical", "warning", ... ("unspecified" for 0). */
    static String priority(Violation v) {
        Priority p = v.getPriority();
        return p == Priority.UNRECOGNIZED ? "unspecified"
                : p.name().substring("PRIORITY_".length()).toLowerCase(Locale.ROOT);
    }

    /** The cgroup path: the violation's, else its process's. */
    static String cgroup(Violation v) {
        return !v.getCgroupPath().isEmpty() ? v.getCgroupPath() : v.getProcess().getCgroupPath();
    }

    static Workload workload(Violation v) {
        return v.hasWorkload() ? v.getWorkload() : v.getProcess().getWorkload();
    }

    /** Cuts s to at most max chars (not splitting a surrogate pair), marking the cut. */
    static String bound(String s, int max) {
        if (s.length() <= max) {
            return s;
        }
        int end = max - 1;
        if (Character.isHighSurrogate(s.charAt(end - 1))) {
            end--;
        }
        return s.substring(0, end) + "\u2026";
    }
}
