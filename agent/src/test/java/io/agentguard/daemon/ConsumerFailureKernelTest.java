package io.agentguard.daemon;

import io.agentguard.proto.v1.Event;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A record the pipeline fails on (here the sink throws, as a bug or a hostile record would
 * make any stage do) is skipped, counted and reported; the consumer thread goes on, and the
 * record is not delivered again.
 */
class ConsumerFailureKernelTest {
    private static final String POISON = "poison-4f1c";

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096)
            .failOn(e -> e.hasExec() && e.getExec().getArgsList().contains(POISON));

    @Test
    void aRecordThePipelineFailsOnIsSkippedCountedAndTheConsumerGoesOn() throws Exception {
        Path cg = KERNEL.newCgroup("poison");
        KERNEL.runIn(cg, "/bin/sh", "-c", "/bin/true " + POISON + "; /bin/echo after-the-poison");
        List<Event> after = KERNEL.await(e -> e.hasExec() && e.getExec().getArgsList().contains("after-the-poison"), 1,
                Duration.ofSeconds(10));
        assertThat(after).as("the exec after the failed one arrives").hasSize(1);
        KERNEL.settle(KERNEL.cgroupId(cg), 300);

        assertThat(KERNEL.agent().stats().failed()).isEqualTo(1);
        assertThat(KERNEL.agent().failure()).as("the consumer thread is alive").isNull();
        assertThat(KERNEL.snapshot(e -> e.hasExec() && e.getExec().getArgsList().contains(POISON))).isEmpty();
        assertThat(KERNEL.agent().status()).contains("\"failedRecordsTotal\": \"1\"");
    }
}
