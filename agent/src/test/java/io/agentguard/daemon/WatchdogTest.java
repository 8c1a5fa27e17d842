package io.agentguard.daemon;

import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

class WatchdogTest {
    @Test
    void settingsComeFromSystemdsEnvironmentForThisProcessOnly() {
        assertThat(Watchdog.Settings.fromEnvironment(Map.of(), 42)).isNull();
        assertThat(Watchdog.Settings.fromEnvironment(Map.of("WATCHDOG_USEC", "10000000"), 42))
                .isEqualTo(new Watchdog.Settings(10_000_000));
        assertThat(Watchdog.Settings.fromEnvironment(Map.of("WATCHDOG_USEC", "10000000", "WATCHDOG_PID", "42"), 42))
                .isNotNull();
        assertThat(Watchdog.Settings.fromEnvironment(Map.of("WATCHDOG_USEC", "10000000", "WATCHDOG_PID", "7"), 42))
                .isNull();
        assertThat(Watchdog.Settings.fromEnvironment(Map.of("WATCHDOG_USEC", "ten"), 42)).isNull();
        assertThat(Watchdog.Settings.fromEnvironment(Map.of("WATCHDOG_USEC", "0"), 42)).isNull();
    }

    @Test
    void aSilentConsumerOrHousekeepingWithholdsThePing() {
        AtomicLong consumer = new AtomicLong(0);
        AtomicLong housekeeping = new AtomicLong(0);
        long intervalNs = 10_000_000_000L;
        Watchdog.Judge judge = new Watchdog.Judge(intervalNs, consumer::get, housekeeping::get);
        assertThat(judge.stalled(intervalNs)).isNull();
        assertThat(judge.stalled(intervalNs + 1_000_000)).isEqualTo("ring consumer silent for 10001 ms");
        consumer.set(intervalNs);
        assertThat(judge.stalled(intervalNs + 1_000_000)).isEqualTo("housekeeping silent for 10001 ms");
        housekeeping.set(intervalNs);
        assertThat(judge.stalled(intervalNs + 1_000_000)).isNull();
    }
}
