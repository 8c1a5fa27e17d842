package io.agentguard.pipeline;

import io.agentguard.proto.v1.Violation;

import java.util.Arrays;

/**
 * One violation per fact: repeats of the same rule (or kernel finding) by the same process in
 * the same cgroup on the same fact are counted, not reported one by one. The first occurrence
 * is reported at once (count 1, latency unchanged); repeats within
 * {@code report.aggregation_window_ms} of it only increment a count; when the window ends (the
 * consumer's housekeeping tick, the process's exit, shutdown) a count above one is reported as
 * one summary violation: the first violation again, with {@code count} = every occurrence in
 * the window (the first included), {@code summary = true}, {@code last_time} and the same
 * {@code aggregation_key}. A collector keeps one row per key whose count is the summary's.
 *
 * <p>The fact is the GPU index for GPU events and 0 otherwise: the destination is deliberately
 * not part of the key, so a loop of denied connects or a port scan is one violation with a
 * count. (Rules whose action blocks a destination pass the destination as the fact: each
 * destination must be blocked.)
 *
 * <p>Asked on the consumer thread <em>before</em> anything is decoded or built: a repeat costs a
 * probe in primitive arrays and no allocation. The table is bounded (4096 slots, open
 * addressing, linear probing, at most 3/4 full); when it is full a new key is admitted
 * untracked (reported alone, as before aggregation) and counted as an overflow: nothing is
 * ever dropped, and every count is exact. Single writer: the consumer thread.
 */
public final class ViolationAggregator {
    /** admit: a repeat inside its window, counted; report nothing. */
    public static final int REPEAT = -1;
    /** admit: report it alone, not tracked (aggregation off, or the table full). */
    public static final int UNTRACKED = -2;

    static final int SLOTS = 4096;
    static final int MAX_ENTRIES = SLOTS / 4 * 3;
    private static final int MASK = SLOTS - 1;

    /** Receives the summary of a window that counted more than one occurrence. */
    @FunctionalInterface
    public interface Summaries {
        void summary(Violation first, long count, long lastNs);
    }

    private final long windowNs;
    private Object[] rules = new Object[SLOTS];   // null: free
    private int[] tgids = new int[SLOTS];
    private long[] cgroups = new long[SLOTS];
    private long[] facts = new long[SLOTS];
    private long[] firstNs = new long[SLOTS];
    private long[] lastNs = new long[SLOTS];
    private long[] counts = new long[SLOTS];
    private Violation[] firsts = new Violation[SLOTS];
    // the other half of a double buffer: a rebuild rehashes the survivors into it, no allocation
    private Object[] rules2 = new Object[SLOTS];
    private int[] tgids2 = new int[SLOTS];
    private long[] cgroups2 = new long[SLOTS];
    private long[] facts2 = new long[SLOTS];
    private long[] firstNs2 = new long[SLOTS];
    private long[] lastNs2 = new long[SLOTS];
    private long[] counts2 = new long[SLOTS];
    private Violation[] firsts2 = new Violation[SLOTS];
    /** Bit (tgid & MASK): some entry may belong to a process with such a tgid (an exit looks only then). */
    private final long[] tgidBits = new long[SLOTS / 64];
    private int entries;
    private long nextDueNs = Long.MAX_VALUE;

    private long repeats;
    private long summaries;
    private long overflows;

    /** windowMs 0: off, every occurrence is reported alone. */
    public ViolationAggregator(long windowMs) {
        this.windowNs = windowMs * 1_000_000L;
    }

    public boolean enabled() {
        return windowNs > 0;
    }

    /**
     * Whether this occurrence of rule (a compiled rule or a kernel finding, compared by
     * identity) is reported now. Returns a slot (&gt;= 0: the first of a new window; hand the
     * violation built for it to {@link #remember}), {@link #REPEAT} (counted; report nothing) or
     * {@link #UNTRACKED} (report it; aggregation is off or the table is full). A window found
     * over is closed first (its summary goes to summaries).
     */
    public int admit(Object rule, int tgid, long cgroupId, long fact, long nowNs, Summaries out) {
        if (windowNs <= 0) {
            return UNTRACKED;
        }
        int i = home(rule, tgid, cgroupId, fact);
        while (rules[i] != null) {
            if (rules[i] == rule && tgids[i] == tgid && cgroups[i] == cgroupId && facts[i] == fact) {
                if (nowNs - firstNs[i] < windowNs) {
                    counts[i]++;
                    if (nowNs > lastNs[i]) {
                        lastNs[i] = nowNs;
                    }
                    repeats++;
                    return REPEAT;
                }
                close(i, out);   // its window is over: this occurrence opens the next one, here
                open(i, nowNs);
                return i;
            }
            i = (i + 1) & MASK;
        }
        if (entries >= MAX_ENTRIES) {
            overflows++;
            return UNTRACKED;
        }
        rules[i] = rule;
        tgids[i] = tgid;
        cgroups[i] = cgroupId;
        facts[i] = fact;
        open(i, nowNs);
        entries++;
        tgidBits[(tgid & MASK) >>> 6] |= 1L << (tgid & 63);
        return i;
    }

    private void open(int i, long nowNs) {
        firstNs[i] = nowNs;
        lastNs[i] = nowNs;
        counts[i] = 1;
        firsts[i] = null;
        if (nowNs + windowNs < nextDueNs && nowNs + windowNs > nowNs) {
            nextDueNs = nowNs + windowNs;
        }
    }

    /** The violation reported for slot's first occurrence: its summary repeats it, with the count. */
    public void remember(int slot, Violation first) {
        firsts[slot] = first;
    }

    /** The key a slot's violations (first and summary) carry: rule, process, cgroup, fact and the window's start. */
    public String key(int slot, String rule) {
        return rule + "|" + tgids[slot] + "|" + cgroups[slot] + "|" + facts[slot] + "|" + firstNs[slot];
    }

    /** Closes every window over at nowNs (Long.MAX_VALUE: all of them, at shutdown or the end of a replay). */
    public void expire(long nowNs, Summaries out) {
        if (entries == 0 || nowNs < nextDueNs) {
            return;
        }
        rebuild(i -> nowNs - firstNs[i] >= windowNs, out);
    }

    /** A process exited: its windows close now (it cannot repeat anything). */
    public void processExited(int tgid, Summaries out) {
        if (entries == 0 || (tgidBits[(tgid & MASK) >>> 6] & 1L << (tgid & 63)) == 0) {
            return;
        }
        rebuild(i -> tgids[i] == tgid, out);
    }

    private interface SlotTest {
        boolean test(int slot);
    }

    /** Closes the entries that pass, rehashes the others into the second buffer and swaps. */
    private void rebuild(SlotTest closeIt, Summaries out) {
        boolean any = false;
        for (int i = 0; i < SLOTS; i++) {
            if (rules[i] != null && closeIt.test(i)) {
                any = true;
                break;
            }
        }
        if (!any) {
            recomputeDue();
            return;
        }
        Arrays.fill(rules2, null);
        Arrays.fill(firsts2, null);
        Arrays.fill(tgidBits, 0);
        int kept = 0;
        for (int i = 0; i < SLOTS; i++) {
            if (rules[i] == null) {
                continue;
            }
            if (closeIt.test(i)) {
                close(i, out);
                continue;
            }
            int j = home(rules[i], tgids[i], cgroups[i], facts[i]);
            while (rules2[j] != null) {
                j = (j + 1) & MASK;
            }
            rules2[j] = rules[i];
            tgids2[j] = tgids[i];
            cgroups2[j] = cgroups[i];
            facts2[j] = facts[i];
            firstNs2[j] = firstNs[i];
            lastNs2[j] = lastNs[i];
            counts2[j] = counts[i];
            firsts2[j] = firsts[i];
            tgidBits[(tgids[i] & MASK) >>> 6] |= 1L << (tgids[i] & 63);
            kept++;
        }
        Object[] r = rules; rules = rules2; rules2 = r;
        int[] t = tgids; tgids = tgids2; tgids2 = t;
        long[] c = cgroups; cgroups = cgroups2; cgroups2 = c;
        long[] f = facts; facts = facts2; facts2 = f;
        long[] a = firstNs; firstNs = firstNs2; firstNs2 = a;
        long[] l = lastNs; lastNs = lastNs2; lastNs2 = l;
        long[] n = counts; counts = counts2; counts2 = n;
        Violation[] v = firsts; firsts = firsts2; firsts2 = v;
        Arrays.fill(rules2, null);
        Arrays.fill(firsts2, null);   // the old buffer must not keep violations alive
        entries = kept;
        recomputeDue();
    }

    private void recomputeDue() {
        long due = Long.MAX_VALUE;
        for (int i = 0; i < SLOTS; i++) {
            if (rules[i] != null) {
                long end = firstNs[i] + windowNs;
                if (end > firstNs[i] && end < due) {
                    due = end;
                }
            }
        }
        nextDueNs = due;
    }

    private void close(int i, Summaries out) {
        if (counts[i] > 1 && firsts[i] != null) {
            summaries++;
            out.summary(firsts[i], counts[i], lastNs[i]);
        }
    }

    private static int home(Object rule, int tgid, long cgroupId, long fact) {
        long h = System.identityHashCode(rule) * 0x9E3779B97F4A7C15L;
        h ^= tgid * 0xC2B2AE3D27D4EB4FL;
        h ^= cgroupId * 0x165667B19E3779F9L;
        h ^= fact * 0xD6E8FEB86659FD93L;
        h ^= h >>> 29;
        h *= 0xBF58476D1CE4E5B9L;
        h ^= h >>> 32;
        return (int) h & MASK;
    }

    /** Occurrences counted into a window instead of being reported alone. */
    public long repeats() {
        return repeats;
    }

    /** Summary violations reported. */
    public long summaries() {
        return summaries;
    }

    /** Keys admitted untracked because the table was full. */
    public long overflows() {
        return overflows;
    }

    /** Windows open now. */
    public int entries() {
        return entries;
    }
}
