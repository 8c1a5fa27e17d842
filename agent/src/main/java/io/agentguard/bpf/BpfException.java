package io.agentguard.bpf;

import java.util.List;

/** A libbpf or bpf() failure: which call, errno, and what libbpf logged meanwhile. */
public final class BpfException extends RuntimeException {
    private final String function;
    private final int errno;
    private final List<String> libbpfLog;

    public BpfException(String function, int errno, String detail, List<String> libbpfLog) {
        super(message(function, errno, detail, libbpfLog));
        this.function = function;
        this.errno = errno;
        this.libbpfLog = List.copyOf(libbpfLog);
    }

    private static String message(String function, int errno, String detail, List<String> log) {
        StringBuilder sb = new StringBuilder();
        sb.append(function).append(" failed");
        if (detail != null && !detail.isEmpty()) {
            sb.append(" (").append(detail).append(')');
        }
        sb.append(": ").append(Errno.name(errno)).append(' ').append(Libc.strerror(errno));
        if (errno == Errno.EPERM) {
            sb.append(" (loading BPF needs root, or CAP_BPF with CAP_PERFMON, CAP_NET_ADMIN and CAP_SYS_ADMIN"
                    + " for cgroup hooks)");
        }
        int shown = 0;
        for (int i = Math.max(0, log.size() - 25); i < log.size(); i++, shown++) {
            String line = log.get(i).startsWith("libbpf: ") ? log.get(i).substring(8) : log.get(i);
            sb.append(shown == 0 ? "\n  libbpf: " : "\n          ").append(line);
        }
        return sb.toString();
    }

    public String function() {
        return function;
    }

    public int errno() {
        return errno;
    }

    public List<String> libbpfLog() {
        return libbpfLog;
    }
}
