package io.agentguard.net;

import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * IPv4 and IPv6 addresses between their bytes and the text people and tools expect: IPv6
 * compressed per RFC 5952 (lowercase, longest run of two or more zero groups as "::", first
 * run on ties), IPv4-mapped IPv6 as ::ffff:a.b.c.d. Never a name lookup.
 */
public final class IpAddresses {
    private IpAddresses() {
    }

    /** The bytes of a literal address (4 or 16); "" is 0.0.0.0. Throws IllegalArgumentException otherwise. */
    public static byte[] parse(String text) {
        if (text.isEmpty()) {
            return new byte[4];
        }
        // a literal only (IPv6 has a ':', IPv4 is a dotted quad): InetAddress would resolve a name
        if (!text.matches("[0-9a-fA-F:.]+") || !text.contains(":") && !text.matches("\\d+\\.\\d+\\.\\d+\\.\\d+")) {
            throw new IllegalArgumentException("not an IP address: '" + text + "'");
        }
        try {
            return InetAddress.getByName(text).getAddress();
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("not an IP address: '" + text + "'");
        }
    }

    /** An IPv4 address as IPv4-mapped IPv6 (::ffff:a.b.c.d). */
    public static byte[] mapped(byte[] ipv4) {
        byte[] mapped = new byte[16];
        mapped[10] = (byte) 0xff;
        mapped[11] = (byte) 0xff;
        System.arraycopy(ipv4, 0, mapped, 12, 4);
        return mapped;
    }

    public static String format(byte[] raw) {
        if (raw.length == 4) {
            return ipv4(raw, 0);
        }
        if (raw.length != 16) {
            return "";
        }
        int[] groups = new int[8];
        for (int i = 0; i < 8; i++) {
            groups[i] = ((raw[2 * i] & 0xff) << 8) | (raw[2 * i + 1] & 0xff);
        }
        if (groups[0] == 0 && groups[1] == 0 && groups[2] == 0 && groups[3] == 0 && groups[4] == 0
                && groups[5] == 0xffff) {
            return "::ffff:" + ipv4(raw, 12);
        }
        int bestStart = -1;
        int bestLength = 1;
        for (int i = 0; i < 8; ) {
            if (groups[i] != 0) {
                i++;
                continue;
            }
            int j = i;
            while (j < 8 && groups[j] == 0) {
                j++;
            }
            if (j - i > bestLength) {
                bestStart = i;
                bestLength = j - i;
            }
            i = j;
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                sb.append("::");
                i += bestLength - 1;
                continue;
            }
            if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
                sb.append(':');
            }
            sb.append(Integer.toHexString(groups[i]));
        }
        return sb.toString();
    }

    private static String ipv4(byte[] raw, int at) {
        return (raw[at] & 0xff) + "." + (raw[at + 1] & 0xff) + "." + (raw[at + 2] & 0xff) + "." + (raw[at + 3] & 0xff);
    }
}
