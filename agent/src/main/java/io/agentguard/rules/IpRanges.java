package io.agentguard.rules;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * A set of IP networks as sorted, merged 128-bit ranges (IPv4 as IPv4-mapped IPv6), so
 * membership is one binary search whatever the number of networks.
 */
final class IpRanges {
    private final long[] startHi;
    private final long[] startLo;
    private final long[] endHi;
    private final long[] endLo;

    private IpRanges(List<long[]> merged) {
        int n = merged.size();
        startHi = new long[n];
        startLo = new long[n];
        endHi = new long[n];
        endLo = new long[n];
        for (int i = 0; i < n; i++) {
            long[] r = merged.get(i);
            startHi[i] = r[0];
            startLo[i] = r[1];
            endHi[i] = r[2];
            endLo[i] = r[3];
        }
    }

    /** See {@link io.agentguard.net.IpPrefix#range}. */
    static long[] parseRange(String text, boolean unused) {
        return io.agentguard.net.IpPrefix.range(text);
    }

    static IpRanges of(List<long[]> ranges) {
        List<long[]> sorted = new ArrayList<>(ranges);
        sorted.sort(Comparator.<long[]>comparingLong(r -> r[0] ^ Long.MIN_VALUE).thenComparingLong(r -> r[1] ^ Long.MIN_VALUE));
        List<long[]> merged = new ArrayList<>();
        for (long[] r : sorted) {
            if (!merged.isEmpty()) {
                long[] last = merged.getLast();
                if (compare(r[0], r[1], last[2], last[3]) <= 0) {
                    if (compare(r[2], r[3], last[2], last[3]) > 0) {
                        last[2] = r[2];
                        last[3] = r[3];
                    }
                    continue;
                }
            }
            merged.add(r.clone());
        }
        return new IpRanges(merged);
    }

    static int compare(long aHi, long aLo, long bHi, long bLo) {
        int c = Long.compareUnsigned(aHi, bHi);
        return c != 0 ? c : Long.compareUnsigned(aLo, bLo);
    }

    boolean contains(long hi, long lo) {
        int low = 0;
        int high = startHi.length - 1;
        while (low <= high) {
            int mid = (low + high) >>> 1;
            if (compare(startHi[mid], startLo[mid], hi, lo) > 0) {
                high = mid - 1;
            } else if (compare(endHi[mid], endLo[mid], hi, lo) < 0) {
                low = mid + 1;
            } else {
                return true;
            }
        }
        return false;
    }
}
