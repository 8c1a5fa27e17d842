package io.agentguard.posture;

import io.agentguard.text.Suggestions;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Linux capabilities by number and name (include/uapi/linux/capability.h; names as in
 * capabilities(7) without the CAP_ prefix, lower case), as bit masks of 64 bits: the kernel's
 * kernel_cap_t, /proc/PID/status's CapEff etc. and the exec record's cred fields.
 */
public final class Capabilities {
    private static final String[] NAMES = {
            "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid",
            "setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw",
            "ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
            "sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod",
            "lease", "audit_write", "audit_control", "setfcap", "mac_override", "mac_admin", "syslog",
            "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
    };

    public static final int CHOWN = 0;
    public static final int DAC_OVERRIDE = 1;
    public static final int FOWNER = 3;
    public static final int SETUID = 7;
    public static final int NET_ADMIN = 12;
    public static final int NET_RAW = 13;
    public static final int SYS_MODULE = 16;
    public static final int SYS_PTRACE = 19;
    public static final int SYS_ADMIN = 21;
    public static final int PERFMON = 38;
    public static final int BPF = 39;

    /**
     * The capabilities that defeat the guard from inside an agent cgroup: load or detach BPF
     * programs and read their maps (sys_admin, bpf, perfmon), change the network the egress
     * policy relies on or go around it (net_admin, net_raw), stop or read the daemon
     * (sys_ptrace), load kernel code (sys_module), write its files whatever their mode
     * (dac_override).
     */
    public static final long DANGEROUS = bit(SYS_ADMIN) | bit(BPF) | bit(PERFMON) | bit(NET_ADMIN) | bit(NET_RAW)
            | bit(SYS_PTRACE) | bit(SYS_MODULE) | bit(DAC_OVERRIDE);

    private Capabilities() {
    }

    public static long bit(int cap) {
        return 1L << cap;
    }

    /** "sys_admin", or "cap_N" for a number this table does not name. */
    public static String name(int cap) {
        return cap >= 0 && cap < NAMES.length ? NAMES[cap] : "cap_" + cap;
    }

    /** The names of the set bits, lowest first. */
    public static List<String> names(long mask) {
        List<String> out = new ArrayList<>(Long.bitCount(mask));
        for (long m = mask; m != 0; m &= m - 1) {
            out.add(name(Long.numberOfTrailingZeros(m)));
        }
        return out;
    }

    /**
     * A capability from "net_raw", "CAP_NET_RAW" (any case) or its number.
     *
     * @throws IllegalArgumentException with what was wrong and the closest name
     */
    public static int parse(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        if (t.startsWith("cap_")) {
            t = t.substring(4);
        }
        for (int i = 0; i < NAMES.length; i++) {
            if (NAMES[i].equals(t)) {
                return i;
            }
        }
        if (!t.isEmpty() && t.chars().allMatch(Character::isDigit) && t.length() <= 2 && Integer.parseInt(t) < NAMES.length) {
            return Integer.parseInt(t);
        }
        String hint = Suggestions.closest(t, List.of(NAMES), 3).map(n -> " (did you mean '" + n + "'?)").orElse("");
        throw new IllegalArgumentException("unknown capability '" + text + "'" + hint + "; capabilities are named as in"
                + " capabilities(7), e.g. net_bind_service or CAP_NET_BIND_SERVICE");
    }

    /** How many capabilities this kernel has: /proc/sys/kernel/cap_last_cap + 1. */
    public static int count() {
        try {
            // read as lines: Files.readString trusts the size procfs reports and can stop short
            return Integer.parseInt(java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/sys/kernel/cap_last_cap"))
                    .getFirst().trim()) + 1;
        } catch (java.io.IOException | NumberFormatException e) {
            return NAMES.length;
        }
    }
}
