package io.agentguard.log;

import java.io.PrintStream;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The agent's log: leveled lines on stderr. Under systemd (JOURNAL_STREAM set) each line
 * starts with a syslog priority prefix ("&lt;4&gt;") that journald turns into the entry's
 * level; on a terminal, with a UTC timestamp and the level. The same message repeated
 * within 10 s is written once; the next one says how many were suppressed. Thread-safe.
 */
public final class Log {
    public enum Level {
        DEBUG(7), INFO(6), WARN(4), ERROR(3);

        final int syslog;

        Level(int syslog) {
            this.syslog = syslog;
        }
    }

    private static final long REPEAT_WINDOW_NS = 10_000_000_000L;

    private final PrintStream out;
    private final boolean journal;
    private final Level threshold;
    private final Map<String, long[]> recent = new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, long[]> e) {
            return size() > 256;
        }
    };

    public Log(PrintStream out, Level threshold) {
        this(out, threshold, System.getenv("JOURNAL_STREAM") != null);
    }

    public Log(PrintStream out, Level threshold, boolean journal) {
        this.out = out;
        this.threshold = threshold;
        this.journal = journal;
    }

    public static Log stderr() {
        return new Log(System.err, Level.INFO);
    }

    public void debug(String message) {
        write(Level.DEBUG, message);
    }

    public void info(String message) {
        write(Level.INFO, message);
    }

    public void warn(String message) {
        write(Level.WARN, message);
    }

    public void error(String message) {
        write(Level.ERROR, message);
    }

    private synchronized void write(Level level, String message) {
        if (level.ordinal() < threshold.ordinal()) {
            return;
        }
        long now = System.nanoTime();
        long[] seen = recent.get(message);   // {lastWrittenNs, suppressed}
        if (seen != null && now - seen[0] < REPEAT_WINDOW_NS) {
            seen[1]++;
            return;
        }
        String suffix = seen != null && seen[1] > 0 ? " (" + seen[1] + " repeats suppressed)" : "";
        recent.put(message, new long[] {now, 0});
        if (journal) {
            out.println("<" + level.syslog + ">agentguard: " + message + suffix);
        } else {
            out.println(Instant.now().truncatedTo(ChronoUnit.MILLIS) + " " + level + " agentguard: " + message + suffix);
        }
    }
}
