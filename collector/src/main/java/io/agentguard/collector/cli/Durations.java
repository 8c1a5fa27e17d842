package io.agentguard.collector.cli;

import java.time.Duration;

/** Durations as operators write them: 2w, 3d12h, 90m, 45s (units largest first, each once). */
public final class Durations {
    private static final String UNITS = "wdhms";
    private static final long[] SECONDS = {7 * 86_400L, 86_400L, 3_600L, 60L, 1L};

    private Durations() {
    }

    /** The duration written; IllegalArgumentException saying precisely what is wrong and where. */
    public static Duration parse(String text) {
        String hint = "use a number and a unit, w d h m or s, several largest first: 2w, 3d12h, 15m, 90s";
        if (text == null || text.isEmpty()) {
            throw new IllegalArgumentException("empty duration: " + hint);
        }
        long total = 0;
        int lastUnit = -1;
        int i = 0;
        while (i < text.length()) {
            int start = i;
            while (i < text.length() && text.charAt(i) >= '0' && text.charAt(i) <= '9') {
                i++;
            }
            if (i == start) {
                throw new IllegalArgumentException("duration '" + text + "': a number must come at position " + (start + 1)
                        + " (found '" + text.charAt(start) + "'); " + hint);
            }
            if (i == text.length()) {
                throw new IllegalArgumentException("duration '" + text + "': '" + text.substring(start)
                        + "' has no unit; " + hint);
            }
            char u = text.charAt(i);
            int unit = UNITS.indexOf(u);
            if (unit < 0) {
                throw new IllegalArgumentException("duration '" + text + "': unknown unit '" + u + "' at position "
                        + (i + 1) + "; " + hint);
            }
            if (unit <= lastUnit) {
                throw new IllegalArgumentException("duration '" + text + "': unit '" + u + "' at position " + (i + 1)
                        + " after a unit as small or smaller; " + hint);
            }
            lastUnit = unit;
            try {
                total = Math.addExact(total, Math.multiplyExact(Long.parseLong(text.substring(start, i)), SECONDS[unit]));
            } catch (ArithmeticException | NumberFormatException e) {
                throw new IllegalArgumentException("duration '" + text + "' is too long");
            }
            i++;
        }
        return Duration.ofSeconds(total);
    }
}
