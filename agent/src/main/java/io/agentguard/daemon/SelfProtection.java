package io.agentguard.daemon;

import io.agentguard.bpf.ConfigMap;
import io.agentguard.bpf.Libc;
import io.agentguard.log.Log;
import io.agentguard.scope.AgentCgroups;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What the daemon does for itself against the processes it watches (the kernel side is
 * bpf/self_protection.bpf.c): it makes itself non-dumpable, so that its memory
 * (/proc/PID/mem, process_vm_*, ptrace) needs CAP_SYS_PTRACE even for a process of its own
 * uid; it tells the kernel its cgroup, whose freeze is then tampering; and it keeps the
 * oom_score_adj it started with, putting it back when someone changes it.
 */
final class SelfProtection {
    private static final Path OOM_SCORE_ADJ = Path.of("/proc/self/oom_score_adj");

    private final int oomScoreAdj;
    private final long cgroupId;
    private final boolean dumpableCleared;
    private final Log log;
    private volatile long oomScoreAdjRestored;

    private SelfProtection(int oomScoreAdj, long cgroupId, boolean dumpableCleared, Log log) {
        this.oomScoreAdj = oomScoreAdj;
        this.cgroupId = cgroupId;
        this.dumpableCleared = dumpableCleared;
        this.log = log;
    }

    /** Non-dumpable, the cgroup written to ag_config, the oom_score_adj (the unit's OOMScoreAdjust) noted. */
    static SelfProtection start(ConfigMap config, Path cgroupMount, Log log) {
        // PR_SET_DUMPABLE 0: /proc/self files become root's and ptrace_may_access needs CAP_SYS_PTRACE
        boolean cleared = Libc.prctl(Libc.PR_SET_DUMPABLE, 0) == 0;
        if (!cleared) {
            log.warn("self-protection: prctl(PR_SET_DUMPABLE, 0) failed; the daemon's memory is open to its own uid");
        }
        long cgroup = ownCgroup(cgroupMount);
        config.selfCgroup(cgroup);
        return new SelfProtection(readOomScoreAdj(), cgroup, cleared, log);
    }

    /** The daemon's cgroup v2 id (0 in the root cgroup, which cannot be frozen, or when unknown). */
    static long ownCgroup(Path cgroupMount) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/cgroup"))) {
                if (line.startsWith("0::/")) {
                    String relative = line.substring(4).trim();
                    return relative.isEmpty() ? 0 : AgentCgroups.inode(cgroupMount.resolve(relative));
                }
            }
        } catch (IOException | RuntimeException e) {
            // no cgroup v2 line: nothing to watch
        }
        return 0;
    }

    private static int readOomScoreAdj() {
        try {
            return Integer.parseInt(Files.readString(OOM_SCORE_ADJ).trim());
        } catch (IOException | NumberFormatException e) {
            return Integer.MIN_VALUE;
        }
    }

    /**
     * Puts the oom_score_adj back if it changed (housekeeping, twice a second): a raised value
     * makes the daemon the OOM killer's first choice. Lowering it back needs CAP_SYS_RESOURCE,
     * which the daemon has as root.
     */
    void checkOomScoreAdj() {
        if (oomScoreAdj == Integer.MIN_VALUE) {
            return;
        }
        int now = readOomScoreAdj();
        if (now == oomScoreAdj || now == Integer.MIN_VALUE) {
            return;
        }
        try {
            Files.writeString(OOM_SCORE_ADJ, Integer.toString(oomScoreAdj));
            oomScoreAdjRestored++;
            log.warn("self-protection: oom_score_adj was changed to " + now + "; put back to " + oomScoreAdj);
        } catch (IOException e) {
            log.warn("self-protection: oom_score_adj was changed to " + now + " and cannot be put back to "
                    + oomScoreAdj + ": " + e.getMessage());
        }
    }

    int oomScoreAdj() {
        return oomScoreAdj;
    }

    long cgroupId() {
        return cgroupId;
    }

    boolean dumpableCleared() {
        return dumpableCleared;
    }

    long oomScoreAdjRestored() {
        return oomScoreAdjRestored;
    }
}
