package io.agentguard.net;

import java.net.InetAddress;
import java.net.UnknownHostException;

/** IP networks as ranges of the 128-bit address space, IPv4 mapped (::ffff:0:0/96). */
public final class IpPrefix {
    private IpPrefix() {
    }

    /**
     * Parses "a.b.c.d", "a.b.c.d/n", IPv6 and IPv6/n into {startHi, startLo, endHi, endLo} of the
     * 128-bit space (IPv4 as ::ffff:a.b.c.d); throws IllegalArgumentException with the reason.
     */
    public static long[] range(String text) {
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


    /** Prefix length in the 128-bit space ("10.0.0.0/8" -> 104; no length -> 128). */
    public static int bits(String text) {
        long[] r = range(text);
        int slash = text.indexOf('/');
        if (slash < 0) {
            return 128;
        }
        int prefix = Integer.parseInt(text.substring(slash + 1));
        boolean v4 = (r[0] == 0 && (r[1] >>> 32) == 0xffff) && !text.substring(0, slash).contains(":");
        return v4 ? 96 + prefix : prefix;
    }
}
