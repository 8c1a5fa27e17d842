package io.agentguard.daemon;

import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Verdict;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A kill rule firing on more distinct cgroups than allowed disarms itself and says so; the
 * default pack's kill rules are not disarmed with it.
 */
class BlastRadiusKernelTest {
    static final Path RULES;

    static {
        try {
            RULES = Files.createTempDirectory("agentguard-blast");
            Files.writeString(RULES.resolve("kill.yaml"), """
                    - rule: Overeager kill
                      desc: t
                      condition: evt.type = exec and proc.name = sleep and proc.args = "0.4"
                      output: o
                      priority: CRITICAL
                      action: kill_cgroup
                    """);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096).withRules(List.of(RULES + "/*.yaml"))
            .configure(b -> b.enforce(true).blastRadius(2, 60_000));

    @Test
    void killsOnMoreDistinctCgroupsThanAllowedTripTheGuard() throws Exception {
        int[] status = new int[3];
        for (int i = 0; i < 3; i++) {
            status[i] = KERNEL.runIn(KERNEL.newCgroup("victim" + i), "/bin/sleep", "0.4").exitStatus();
        }
        assertThat(status[0]).isEqualTo(128 + 9);
        assertThat(status[1]).isEqualTo(128 + 9);
        assertThat(status[2]).as("the third cgroup is spared").isZero();
        List<Violation> tripped = KERNEL.awaitViolations(v -> v.getRule().equals("agentguard blast-radius guard tripped"),
                1, Duration.ofSeconds(10));
        assertThat(tripped).hasSize(1);
        List<Event> actions = KERNEL.await(e -> e.hasAction() && e.getAction().getRule().equals("Overeager kill"), 3,
                Duration.ofSeconds(10));
        assertThat(actions).extracting(e -> e.getAction().getVerdict())
                .containsExactly(Verdict.VERDICT_DENIED, Verdict.VERDICT_DENIED, Verdict.VERDICT_WOULD_BLOCK);
        assertThat(actions.get(2).getAction().getResult()).isEqualTo("disarmed by the blast-radius guard");
        assertThat(KERNEL.agent().enforcer().disarmed()).isTrue();

        // the watched agent tripped the guard on purpose: the default pack's kill rules still kill
        int miner = KERNEL.runIn(KERNEL.newCgroup("after-trip"), "/bin/sh", "-c", "sleep 3", "--donate-level", "1")
                .exitStatus();
        assertThat(miner).as("killed by the pack's miner rule despite the tripped guard").isEqualTo(128 + 9);
    }
}
