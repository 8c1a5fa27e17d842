package io.agentguard.text;

import java.util.Collection;
import java.util.Optional;
import java.util.TreeSet;

/**
 * "Did you mean": the known name closest to a mistyped one, for the precise errors of
 * configuration and rule files. Distance is Levenshtein's; ties go to the name that sorts
 * first, so a message is the same on every run. Written here rather than taken from Commons
 * Text: that library would pull java.desktop and java.scripting into the package's jlink'd
 * runtime (+11 MB, and script engines in a security daemon) for these twenty lines.
 */
public final class Suggestions {
    private Suggestions() {
    }

    /** The name of {@code known} closest to {@code typed}, if at most {@code maxEdits} edits away. */
    public static Optional<String> closest(String typed, Collection<String> known, int maxEdits) {
        String best = null;
        int bestEdits = maxEdits + 1;
        for (String candidate : new TreeSet<>(known)) {
            if (Math.abs(typed.length() - candidate.length()) > maxEdits) {
                continue;   // at least that many edits: skips the quadratic distance for a megabyte-long typo
            }
            int edits = edits(typed, candidate);
            if (edits < bestEdits) {
                best = candidate;
                bestEdits = edits;
            }
        }
        return Optional.ofNullable(best);
    }

    /** Levenshtein distance: insertions, deletions and substitutions that turn a into b. */
    static int edits(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitution, Math.min(current[j - 1], previous[j]) + 1);
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[b.length()];
    }

    /** " (did you mean 'x'?)" for the closest name, or "". */
    public static String didYouMean(String typed, Collection<String> known, int maxEdits) {
        return closest(typed, known, maxEdits).map(s -> " (did you mean '" + s + "'?)").orElse("");
    }
}
