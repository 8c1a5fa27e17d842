package io.agentguard.pipeline;

import io.agentguard.abi.KernelAbi.CgroupBudget;
import io.agentguard.bpf.BpfMap;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Turns the kernel's per agent cgroup drop counters (ag_budgets) into "events lost"
 * violations: what the agent did not see, and for which cgroup. Read by the consumer thread
 * once a second, also while a flood keeps it busy (that is when drops happen), and reported
 * at most once per {@link #REPORT_INTERVAL_NS} per cgroup with what was dropped since the
 * last report. Reading counters, not records, so that no ring space is needed to say the ring
 * had none.
 */
public final class LossMonitor {
    static final long SCAN_INTERVAL_NS = 1_000_000_000L;
    static final long REPORT_INTERVAL_NS = 10_000_000_000L;
    /** A budget untouched this long, its drops reported, is removed: cgroups come and go, the map is bounded. */
    static final long IDLE_ENTRY_NS = 600_000_000_000L;

    /** Receives one report: what was dropped since the last one, and in all. */
    public interface LossSink {
        void lost(long cgroupId, long rateLimited, long ringFull, long rateLimitedTotal, long ringFullTotal, long nowNs);
    }

    private final BpfMap budgets;
    private final MemorySegment value = Arena.ofAuto().allocate(CgroupBudget.SIZEOF, 8);
    private final Map<Long, long[]> reported = new HashMap<>();   // cgroup -> {rate, ring, lastReportNs}
    private long lastScanNs = Long.MIN_VALUE;

    public LossMonitor(BpfMap budgets) {
        this.budgets = budgets;
    }

    /** Scans when a second has passed since the last scan; reports through sink. */
    public void poll(long nowNs, LossSink sink) {
        if (nowNs - lastScanNs < SCAN_INTERVAL_NS && lastScanNs != Long.MIN_VALUE) {
            return;
        }
        lastScanNs = nowNs;
        budgets.forEachKey(8, key -> {
            if (!budgets.lookup(key, value)) {
                return;
            }
            long cgroupId = key.get(JAVA_LONG, 0);
            long rate = value.get(JAVA_LONG, CgroupBudget.DROPPED_RATE);
            long ring = value.get(JAVA_LONG, CgroupBudget.DROPPED_RING);
            long[] last = reported.computeIfAbsent(cgroupId, id -> new long[] {0, 0, Long.MIN_VALUE});
            if (rate < last[0] || ring < last[1]) {   // the entry was recreated: count from zero again
                last[0] = 0;
                last[1] = 0;
            }
            if ((rate > last[0] || ring > last[1])
                    && (last[2] == Long.MIN_VALUE || nowNs - last[2] >= REPORT_INTERVAL_NS)) {
                sink.lost(cgroupId, rate - last[0], ring - last[1], rate, ring, nowNs);
                last[0] = rate;
                last[1] = ring;
                last[2] = nowNs;
            }
            long windowStartNs = value.get(JAVA_LONG, CgroupBudget.WINDOW_START_NS);
            if (cgroupId != 0 && rate == last[0] && ring == last[1] && nowNs - windowStartNs > IDLE_ENTRY_NS) {
                budgets.delete(key);
                reported.remove(cgroupId);
            }
        });
    }
}
