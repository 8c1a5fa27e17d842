package io.agentguard.text;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class SuggestionsTest {
    @Test
    void editsCountInsertionsDeletionsAndSubstitutions() {
        assertThat(Suggestions.edits("proc.nmae", "proc.name")).isEqualTo(2);
        assertThat(Suggestions.edits("kitten", "sitting")).isEqualTo(3);
        assertThat(Suggestions.edits("", "abc")).isEqualTo(3);
        assertThat(Suggestions.edits("same", "same")).isZero();
    }

    @Test
    void theClosestNameWithinTheLimitIsSuggestedAndTiesGoToTheFirstInOrder() {
        assertThat(Suggestions.closest("proc.nmae", List.of("proc.pname", "proc.name", "conn.port"), 2))
                .contains("proc.name");
        assertThat(Suggestions.closest("zzzz", List.of("proc.name"), 3)).isEmpty();
        assertThat(Suggestions.closest("ab", List.of("ac", "aa"), 1)).contains("aa");
        assertThat(Suggestions.didYouMean("pin_pat", List.of("pin_path"), 3)).isEqualTo(" (did you mean 'pin_path'?)");
    }
}
