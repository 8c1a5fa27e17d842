package io.agentguard.text;

import org.apache.commons.text.similarity.LevenshteinDistance;

import java.util.Collection;
import java.util.Optional;
import java.util.TreeSet;

/**
 * "Did you mean": the known name closest to a mistyped one, for the precise errors of
 * configuration and rule files. Distance is Levenshtein's (Commons Text); ties go to the
 * name that sorts first, so a message is the same on every run.
 */
public final class Suggestions {
    private Suggestions() {
    }

    /** The name of {@code known} closest to {@code typed}, if at most {@code maxEdits} edits away. */
    public static Optional<String> closest(String typed, Collection<String> known, int maxEdits) {
        LevenshteinDistance distance = new LevenshteinDistance(maxEdits);   // -1 beyond maxEdits
        String best = null;
        int bestEdits = Integer.MAX_VALUE;
        for (String candidate : new TreeSet<>(known)) {
            int edits = distance.apply(typed, candidate);
            if (edits >= 0 && edits < bestEdits) {
                best = candidate;
                bestEdits = edits;
            }
        }
        return Optional.ofNullable(best);
    }

    /** " (did you mean 'x'?)" for the closest name, or "". */
    public static String didYouMean(String typed, Collection<String> known, int maxEdits) {
        return closest(typed, known, maxEdits).map(s -> " (did you mean '" + s + "'?)").orElse("");
    }
}
