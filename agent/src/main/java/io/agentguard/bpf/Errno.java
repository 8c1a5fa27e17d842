package io.agentguard.bpf;

/** errno values (Linux, x86-64 and arm64 share these) and their symbolic names. */
public final class Errno {
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int EINTR = 4;
    public static final int EAGAIN = 11;
    public static final int EACCES = 13;
    public static final int EEXIST = 17;
    public static final int ENOTTY = 25;
    public static final int EINVAL = 22;
    public static final int ENOSPC = 28;
    public static final int ENOTSUP = 95;
    public static final int ECONNREFUSED = 111;
    public static final int ETIMEDOUT = 110;

    private static final String[] NAMES = new String[134];

    static {
        String[] table = {
            "1 EPERM", "2 ENOENT", "3 ESRCH", "4 EINTR", "5 EIO", "6 ENXIO", "7 E2BIG", "8 ENOEXEC",
            "9 EBADF", "10 ECHILD", "11 EAGAIN", "12 ENOMEM", "13 EACCES", "14 EFAULT", "16 EBUSY",
            "17 EEXIST", "19 ENODEV", "20 ENOTDIR", "21 EISDIR", "22 EINVAL", "24 EMFILE", "25 ENOTTY",
            "28 ENOSPC", "32 EPIPE", "36 ENAMETOOLONG", "38 ENOSYS", "71 EPROTO", "88 ENOTSOCK",
            "93 EPROTONOSUPPORT", "95 EOPNOTSUPP", "97 EAFNOSUPPORT", "98 EADDRINUSE", "99 EADDRNOTAVAIL",
            "100 ENETDOWN", "101 ENETUNREACH", "103 ECONNABORTED", "104 ECONNRESET", "106 EISCONN",
            "110 ETIMEDOUT", "111 ECONNREFUSED", "113 EHOSTUNREACH", "114 EALREADY", "115 EINPROGRESS",
            "125 ECANCELED", "524 ENOTSUPP",
        };
        for (String entry : table) {
            int space = entry.indexOf(' ');
            int value = Integer.parseInt(entry.substring(0, space));
            if (value < NAMES.length) {
                NAMES[value] = entry.substring(space + 1);
            }
        }
    }

    private Errno() {
    }

    /** "ECONNREFUSED", or "errno 42" for values without a name here. */
    public static String name(int errno) {
        int e = Math.abs(errno);
        String name = e < NAMES.length ? NAMES[e] : (e == 524 ? "ENOTSUPP" : null);
        return name != null ? name : "errno " + e;
    }
}
