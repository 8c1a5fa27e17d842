package io.agentguard.daemon;

import io.agentguard.event.EventDecoder;
import io.agentguard.event.NvidiaIoctlDecoder;
import io.agentguard.process.ProcessTable;
import io.agentguard.proto.v1.ClassKind;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Violation;
import io.agentguard.rules.Classifier;
import io.agentguard.rules.RuleSet;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static io.agentguard.abi.KernelAbi.*;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;

/** Synthetic records through the consumer pipeline: bad ones counted and skipped, good ones exact. */
class ConsumerPipelineTest {
    private final List<Event> out = new ArrayList<>();
    private final List<Violation> violations = new ArrayList<>();
    private final ConsumerPipeline pipeline = new ConsumerPipeline(
            new EventDecoder(out::add, id -> "cg/" + id, () -> 1_000_000_000L, 1000),
            new ProcessTable(1024, 10_000_000_000L), new Classifier(RuleSet.empty()), id -> "cg/" + id, true,
            violations::add);
    private final MemorySegment buf = Arena.ofAuto().allocate(EXEC_SIZE, 8);

    private void header(int type, long size) {
        buf.set(JAVA_SHORT_UNALIGNED, HEADER_TYPE, (short) type);
        buf.set(JAVA_SHORT_UNALIGNED, HEADER_SIZE_FIELD, (short) size);
        buf.set(JAVA_LONG_UNALIGNED, HEADER_KTIME_NS, 5_000_000_000L);
        buf.set(JAVA_LONG_UNALIGNED, HEADER_CGROUP_ID, 42);
        buf.set(JAVA_INT_UNALIGNED, HEADER_PID, 100);
    }

    @Test
    void recordsWithImpossibleTypeOrLengthAreCountedAndSkipped() {
        pipeline.onRecord(buf, 0, 10);                       // shorter than a header
        header(99, 64);
        pipeline.onRecord(buf, 0, 64);                       // unknown type
        header(AG_REC_FORK, FORK_SIZE + 8);
        pipeline.onRecord(buf, 0, (int) FORK_SIZE + 8);      // size too big for a fork
        header(AG_REC_GPU_IOCTL, GPU_IOCTL_SIZE);
        pipeline.onRecord(buf, 0, 100);                      // header claims more than the ring record holds
        header(AG_REC_FORK, FORK_SIZE);
        buf.set(JAVA_INT_UNALIGNED, FORK_CHILD_PID, 101);
        pipeline.onRecord(buf, 0, (int) FORK_SIZE);
        pipeline.publishCounters();

        assertThat(pipeline.counters().invalid()).isEqualTo(4);
        assertThat(out).hasSize(1);
        Event fork = out.getFirst();
        assertThat(fork.getFork().getChildPid()).isEqualTo(101);
        assertThat(fork.getProcess().getPid()).isEqualTo(100);
        assertThat(fork.getProcess().getCgroupPath()).isEqualTo("cg/42");
        assertThat(fork.getMonotonicNs()).isEqualTo(5_000_000_000L);
        assertThat(fork.getTime().getSeconds()).isEqualTo(6);
        // the child is now in the process table, with the parent as ppid
        assertThat(pipeline.processes().ppid(pipeline.processes().slot(101))).isEqualTo(100);
    }

    @Test
    void execArgsLengthBeyondTheRecordIsClamped() {
        header(AG_REC_EXEC, EXEC_ARGS + 4);
        buf.set(JAVA_SHORT_UNALIGNED, EXEC_ARGS_LEN, (short) 4000);   // lies: only 4 bytes sent
        buf.setString(EXEC_ARGS, "abc");
        pipeline.onRecord(buf, 0, (int) EXEC_ARGS + 4);
        assertThat(out.getFirst().getExec().getArgsList()).containsExactly("abc");
    }

    @Test
    void tcpConnectWithoutOutcomeIsEmittedInProgressAfterTimeout() {
        header(AG_REC_CONNECT, CONNECT_SIZE);
        buf.set(JAVA_SHORT_UNALIGNED, CONNECT_FAMILY, (short) 2);
        buf.set(JAVA_INT_UNALIGNED, CONNECT_FLAGS, CONNECT_RESULT_FOLLOWS);
        buf.set(JAVA_LONG_UNALIGNED, CONNECT_SOCK_COOKIE, 77);
        pipeline.onRecord(buf, 0, (int) CONNECT_SIZE);
        assertThat(out).isEmpty();
        pipeline.expireConnects(5_000_000_000L + 999_000_000L);
        assertThat(out).isEmpty();
        pipeline.expireConnects(5_000_000_000L + 1_000_000_000L);
        assertThat(out).hasSize(1);
        assertThat(out.getFirst().getConnect().getOutcome().name()).isEqualTo("CONNECT_OUTCOME_IN_PROGRESS");
    }

    @Test
    void computeClassesAreRecognisedByShape() {
        assertThat(NvidiaIoctlDecoder.classKind(0xcbc0)).isEqualTo(ClassKind.CLASS_KIND_COMPUTE);
        assertThat(NvidiaIoctlDecoder.classKind(0xa0c0)).isEqualTo(ClassKind.CLASS_KIND_COMPUTE);
        assertThat(NvidiaIoctlDecoder.classKind(0x90c0)).isEqualTo(ClassKind.CLASS_KIND_OTHER);
        assertThat(NvidiaIoctlDecoder.classKind(0xc8b5)).isEqualTo(ClassKind.CLASS_KIND_COPY);
        assertThat(NvidiaIoctlDecoder.classKind(0xc86f)).isEqualTo(ClassKind.CLASS_KIND_CHANNEL);
        assertThat(NvidiaIoctlDecoder.classKind(0x41)).isEqualTo(ClassKind.CLASS_KIND_CLIENT);
        assertThat(NvidiaIoctlDecoder.name(ROLE_UVM, 0x30000001)).isEqualTo("UVM_INITIALIZE");
        assertThat(NvidiaIoctlDecoder.name(ROLE_CONTROL, 0xc030462b)).isEqualTo("RM_ALLOC");
        assertThat(NvidiaIoctlDecoder.name(ROLE_CONTROL, 0x5401)).isEqualTo("IOCTL_0x00005401");
    }
}
