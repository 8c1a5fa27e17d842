package io.agentguard.output;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Whether a file descriptor is the journal's stream: systemd sets JOURNAL_STREAM to the
 * "DEVICE:INODE" of the stdout/stderr it connected to journald (systemd.exec(5)); a
 * redirected stdout (a file, a pipe, a terminal) has other numbers, so the variable alone,
 * inherited by a child, does not count.
 */
public final class JournalStream {
    private JournalStream() {
    }

    /** stdout (fd 1) is the journal named by this process's JOURNAL_STREAM. */
    public static boolean isStdout() {
        return matches(System.getenv("JOURNAL_STREAM"), Path.of("/proc/self/fd/1"));
    }

    static boolean matches(String journalStream, Path fd) {
        if (journalStream == null) {
            return false;
        }
        int colon = journalStream.indexOf(':');
        if (colon < 0) {
            return false;
        }
        try {
            long dev = Long.parseUnsignedLong(journalStream.substring(0, colon));
            long ino = Long.parseUnsignedLong(journalStream.substring(colon + 1));
            Map<String, Object> st = Files.readAttributes(fd, "unix:dev,ino");
            return ((Number) st.get("dev")).longValue() == dev && ((Number) st.get("ino")).longValue() == ino;
        } catch (NumberFormatException | IOException | UnsupportedOperationException e) {
            return false;
        }
    }
}
