package io.agentguard.rules;

import java.net.InetAddress;
import java.net.UnknownHostException;
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

    /** Parses "a.b.c.d", "a.b.c.d/n", IPv6 and IPv6/n; throws IllegalArgumentException with the reason. */
    static long[] parseRange(String text, boolean cidrRequiredOk) {
        String address = text;
        int prefix = -1;
        int slash = text.indexOf('/');
        if (slash >= 0) {
            address = text.substring(0, slash);
            try {
                prefix = Integer.parseInt(text.substring(slash + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad prefix length");
            }
        }
        if (!address.matches("[0-9a-fA-F:.]+") || (!address.contains(":") && !address.matches("\\d+\\.\\d+\\.\\d+\\.\\d+"))) {
            throw new IllegalArgumentException("not an IP address");
        }
        byte[] raw;
        try {
            raw = InetAddress.getByName(address).getAddress();
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("not an IP address");
        }
        long hi;
        long lo;
        int bits;
        if (raw.length == 4) {
            // Java returns IPv4-mapped IPv6 text (::ffff:a.b.c.d) as IPv4 too; its prefix is then a v6 one.
            boolean writtenAsV6 = address.contains(":");
            hi = 0;
            lo = 0x0000_ffff_0000_0000L | (Integer.toUnsignedLong(((raw[0] & 0xff) << 24) | ((raw[1] & 0xff) << 16)
                    | ((raw[2] & 0xff) << 8) | (raw[3] & 0xff)));
            int max = writtenAsV6 ? 128 : 32;
            if (prefix > max) {
                throw new IllegalArgumentException("prefix length " + prefix + " > " + max);
            }
            bits = prefix < 0 ? 128 : writtenAsV6 ? prefix : 96 + prefix;
        } else {
            hi = 0;
            lo = 0;
            for (int i = 0; i < 8; i++) {
                hi = (hi << 8) | (raw[i] & 0xff);
                lo = (lo << 8) | (raw[i + 8] & 0xff);
            }
            if (prefix > 128) {
                throw new IllegalArgumentException("prefix length " + prefix + " > 128");
            }
            bits = prefix < 0 ? 128 : prefix;
        }
        long maskHi = bits >= 64 ? -1L : (bits == 0 ? 0 : -1L << (64 - bits));
        long maskLo = bits <= 64 ? 0 : (bits == 128 ? -1L : -1L << (128 - bits));
        return new long[] {hi & maskHi, lo & maskLo, hi | ~maskHi, lo | ~maskLo};
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
