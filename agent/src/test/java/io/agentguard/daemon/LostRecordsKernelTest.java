package io.agentguard.daemon;

import io.agentguard.proto.v1.Event;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Records that do not fit the ring are counted in the kernel and surfaced, and the agent
 * keeps working: with a one-page ring, an exec record carrying 6000 bytes of argv can
 * never be reserved, while small records still flow.
 */
class LostRecordsKernelTest {
    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(8192, 4096);

    @Test
    void recordsThatCannotBeReservedAreCountedAsLost() throws Exception {
        Path cg = KERNEL.newCgroup("lost");
        String big = "y".repeat(6000);
        long lostBefore = KERNEL.agent().stats().lost();
        KERNEL.runIn(cg, "/bin/echo", big);
        KERNEL.runIn(cg, "/bin/echo", big);
        List<Event> events = KERNEL.settle(KERNEL.cgroupId(cg), 300);

        assertThat(KERNEL.agent().stats().lost() - lostBefore).isEqualTo(2);
        assertThat(events).noneMatch(Event::hasExec);
        // the exits of the same processes still arrived: loss is per record, not per stream
        assertThat(events.stream().filter(Event::hasExit)).hasSize(2);
    }
}
