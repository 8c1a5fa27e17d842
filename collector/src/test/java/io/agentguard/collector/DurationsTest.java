package io.agentguard.collector;

import io.agentguard.collector.cli.Durations;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Durations as an operator writes them for --since, --until, --stale-after and --retention. */
class DurationsTest {
    @ParameterizedTest
    @CsvSource({"2w, 1209600", "30d, 2592000", "3d12h, 302400", "12h, 43200", "15m, 900", "90s, 90", "1w2d3h4m5s, 788645",
            "0s, 0"})
    void acceptsWeeksDaysHoursMinutesSecondsAndTheirSums(String text, long seconds) {
        assertThat(Durations.parse(text)).isEqualTo(Duration.ofSeconds(seconds));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "3x | unknown unit 'x' at position 2",
            "12 | '12' has no unit",
            "d | a number must come at position 1",
            "12h3d | unit 'd' at position 5 after a unit as small or smaller",
            "1d1d | unit 'd' at position 4",
            "-5m | a number must come at position 1",
            "3 d | unknown unit ' ' at position 2",
            "99999999999999999w | is too long",
            "1.5h | unknown unit '.' at position 2"})
    void refusesAnythingElseSayingWhatAndWhere(String text, String message) {
        assertThatThrownBy(() -> Durations.parse(text)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(message).hasMessageContaining("'" + text + "'");
    }
}
