package io.agentguard.daemon;

import io.agentguard.config.SyscallOutcomes;
import io.agentguard.proto.v1.ConnectOutcome;
import io.agentguard.proto.v1.Event;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The agent with the fewest hooks: a one-page ring and no syscall exit tracepoints.
 * Losses are counted in the kernel and surfaced; what only syscall hooks can see is
 * reported as not observed rather than guessed.
 */
class MinimalHooksKernelTest {
    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(8192, 4096, SyscallOutcomes.OFF);

    @Test
    void recordsThatCannotBeReservedAreCountedAsLost() throws Exception {
        Path cg = KERNEL.newCgroup("lost");
        String big = "y".repeat(6000);   // an exec record with this argv exceeds the 4 KiB ring
        long lostBefore = KERNEL.agent().stats().lost();
        KERNEL.runIn(cg, "/bin/echo", big);
        KERNEL.runIn(cg, "/bin/echo", big);
        List<Event> events = KERNEL.settle(KERNEL.cgroupId(cg), 300);

        assertThat(KERNEL.agent().stats().lost() - lostBefore).isEqualTo(2);
        assertThat(events).noneMatch(Event::hasExec);
        // the exits of the same processes still arrived: loss is per record, not per stream
        assertThat(events.stream().filter(Event::hasExit)).hasSize(2);
    }

    @Test
    void withoutSyscallHooksUdpOutcomeIsNotObservedAndFailedExecsAreUnseen() throws Exception {
        assertThat(KERNEL.agent().hooks().get("syscall-outcomes")).isEqualTo("off by configuration");
        Path cg = KERNEL.newCgroup("udp");
        String connector = KernelAgentExtension.nativeTool("connector").toString();
        KERNEL.runIn(cg, connector, "udp4", "127.66.0.3", "5353");
        KERNEL.runIn(cg, "/bin/sh", "-c", "/nonexistent/miner --donate-level 1; exit 0");

        List<Event> connects = KERNEL.await(e -> e.getProcess().getCgroupId() == KERNEL.cgroupId(cg) && e.hasConnect(),
                1, Duration.ofSeconds(10));
        assertThat(connects.getFirst().getConnect().getOutcome()).isEqualTo(ConnectOutcome.CONNECT_OUTCOME_NOT_OBSERVED);
        List<Event> execs = KERNEL.settle(KERNEL.cgroupId(cg), 300).stream().filter(Event::hasExec).toList();
        assertThat(execs).extracting(e -> e.getExec().getFilename()).containsExactly(connector, "/bin/sh");
        assertThat(execs).allMatch(e -> e.getExec().getSuccess());
    }
}
