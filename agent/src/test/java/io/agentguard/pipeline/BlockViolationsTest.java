package io.agentguard.pipeline;

import io.agentguard.abi.KernelAbi.Connect;
import io.agentguard.abi.KernelAbi.Exit;
import io.agentguard.abi.KernelAbi.GpuOpen;
import io.agentguard.abi.KernelAbi.Header;
import io.agentguard.process.ProcessTable;
import io.agentguard.proto.v1.BlockKind;
import io.agentguard.proto.v1.Violation;
import io.agentguard.rules.Classifier;
import io.agentguard.rules.RuleCompiler;
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

/**
 * Every block is a violation, one per fact: synthetic records of what the kernel blocked, through
 * the consumer pipeline with aggregation on.
 */
class BlockViolationsTest {
    private static final long WINDOW_MS = 10_000;
    private final List<Violation> violations = new ArrayList<>();
    private final MemorySegment buf = Arena.ofAuto().allocate(Connect.SIZEOF, 8);

    private ConsumerPipeline pipeline(String rules, long windowMs) {
        RuleSet set = rules == null ? RuleSet.empty()
                : RuleCompiler.compile(List.of(new RuleCompiler.Source("test.yaml", rules)));
        return new ConsumerPipeline.Builder(new Classifier(set), new ProcessTable(1024, 10_000_000_000L))
                .cgroupPaths(id -> "agents/a" + id).wallMinusMonotonicNs(() -> 1_000_000_000L)
                .violations(violations::add).aggregationWindowMs(windowMs).build();
    }

    private void header(int type, long size, int pid, long ktimeNs) {
        buf.fill((byte) 0);
        buf.set(JAVA_SHORT_UNALIGNED, Header.TYPE, (short) type);
        buf.set(JAVA_SHORT_UNALIGNED, Header.SIZE, (short) size);
        buf.set(JAVA_LONG_UNALIGNED, Header.KTIME_NS, ktimeNs);
        buf.set(JAVA_LONG_UNALIGNED, Header.CGROUP_ID, 42);
        buf.set(JAVA_INT_UNALIGNED, Header.PID, pid);
        buf.setString(Header.COMM, "agent");
    }

    /** A denied inet connect of pid to 127.66.0.(last) port. */
    private void deniedConnect(ConsumerPipeline p, int pid, int last, int port, long ktimeNs, int flags, int verdict) {
        header(AG_REC_CONNECT, Connect.SIZEOF, pid, ktimeNs);
        buf.set(JAVA_SHORT_UNALIGNED, Connect.FAMILY, (short) AG_AF_INET);
        buf.set(JAVA_SHORT_UNALIGNED, Connect.SOCK_TYPE, (short) 1);
        buf.set(JAVA_SHORT_UNALIGNED, Connect.PROTOCOL, (short) 6);
        buf.set(JAVA_SHORT_UNALIGNED, Connect.PORT, (short) port);
        buf.set(java.lang.foreign.ValueLayout.JAVA_BYTE, Connect.ADDR, (byte) 127);
        buf.set(java.lang.foreign.ValueLayout.JAVA_BYTE, Connect.ADDR + 1, (byte) 66);
        buf.set(java.lang.foreign.ValueLayout.JAVA_BYTE, Connect.ADDR + 3, (byte) last);
        buf.set(JAVA_INT_UNALIGNED, Connect.VERDICT, verdict);
        buf.set(JAVA_INT_UNALIGNED, Connect.FLAGS, flags);
        p.onRecord(buf, 0, (int) Connect.SIZEOF);
    }

    @Test
    void aLoopOfDeniedConnectsIsOneViolationAtOnceAndOneSummaryWithTheExactCount() {
        ConsumerPipeline p = pipeline(null, WINDOW_MS);
        long t0 = 5_000_000_000L;
        for (int i = 0; i < 1000; i++) {   // a loop over destinations and ports: the destination is not the fact
            deniedConnect(p, 100, 1 + i % 200, 1000 + i, t0 + i * 1000L, 0, AG_VERDICT_DENIED);
        }
        assertThat(violations).hasSize(1);
        Violation first = violations.getFirst();
        assertThat(first.getRule()).isEqualTo("agentguard: connection denied by egress policy");
        assertThat(first.getBlockKind()).isEqualTo(BlockKind.BLOCK_KIND_CONNECT);
        assertThat(first.getCount()).isEqualTo(1);
        assertThat(first.getSummary()).isFalse();
        assertThat(first.getAggregationKey()).isNotEmpty();
        assertThat(first.getOutput()).contains("127.66.0.1 port 1000");

        p.expireConnects(t0 + WINDOW_MS * 1_000_000L - 1);   // the window is not over yet
        assertThat(violations).hasSize(1);
        p.expireConnects(t0 + WINDOW_MS * 1_000_000L);
        assertThat(violations).hasSize(2);
        Violation summary = violations.get(1);
        assertThat(summary.getSummary()).isTrue();
        assertThat(summary.getCount()).isEqualTo(1000);   // every occurrence in the window, the first included
        assertThat(summary.getRule()).isEqualTo(first.getRule());
        assertThat(summary.getAggregationKey()).isEqualTo(first.getAggregationKey());
        assertThat(summary.getBlockKind()).isEqualTo(BlockKind.BLOCK_KIND_CONNECT);
        assertThat(summary.getLastTime().getSeconds() * 1_000_000_000L + summary.getLastTime().getNanos())
                .isEqualTo(t0 + 999 * 1000L + 1_000_000_000L);

        p.publishCounters();
        assertThat(p.counters().blocked(BlockKind.BLOCK_KIND_CONNECT_VALUE, false)).isEqualTo(1000);
        assertThat(p.counters().aggregated()).isEqualTo(999);
        assertThat(p.counters().summaries()).isEqualTo(1);
        assertThat(p.counters().violations()).isEqualTo(2);

        // after the window, the next occurrence is reported at once again
        deniedConnect(p, 100, 1, 1000, t0 + WINDOW_MS * 1_000_000L + 5, 0, AG_VERDICT_DENIED);
        assertThat(violations).hasSize(3);
        assertThat(violations.get(2).getAggregationKey()).isNotEqualTo(first.getAggregationKey());
    }

    @Test
    void withoutAggregationEveryDeniedConnectIsAViolationOfItsOwn() {
        ConsumerPipeline p = pipeline(null, 0);
        for (int i = 0; i < 10; i++) {
            deniedConnect(p, 100, 1, 1000 + i, 5_000_000_000L + i, 0, AG_VERDICT_DENIED);
        }
        assertThat(violations).hasSize(10).allSatisfy(v -> {
            assertThat(v.getBlockKind()).isEqualTo(BlockKind.BLOCK_KIND_CONNECT);
            assertThat(v.getAggregationKey()).isEmpty();
        });
    }

    @Test
    void eachProcessHasItsOwnAggregateAndItsExitClosesIt() {
        ConsumerPipeline p = pipeline(null, WINDOW_MS);
        for (int i = 0; i < 5; i++) {
            deniedConnect(p, 100, 1, 1000, 5_000_000_000L + i, 0, AG_VERDICT_DENIED);
            deniedConnect(p, 200, 1, 1000, 5_000_000_000L + i, 0, AG_VERDICT_DENIED);
        }
        assertThat(violations).hasSize(2);
        header(AG_REC_EXIT, Exit.SIZEOF, 100, 5_000_001_000L);
        p.onRecord(buf, 0, (int) Exit.SIZEOF);
        assertThat(violations).hasSize(3);
        assertThat(violations.get(2).getSummary()).isTrue();
        assertThat(violations.get(2).getCount()).isEqualTo(5);
        assertThat(violations.get(2).getProcess().getPid()).isEqualTo(100);
        p.flush();   // shutdown, end of a replay: every open aggregate goes out
        assertThat(violations).hasSize(4);
        assertThat(violations.get(3).getProcess().getPid()).isEqualTo(200);
        assertThat(violations.get(3).getCount()).isEqualTo(5);
    }

    @Test
    void aDeniedConnectARuleMatchedIsOneViolationTheRulesWithBlockKind() {
        ConsumerPipeline p = pipeline("""
                - rule: outbound to the test net
                  desc: d
                  condition: evt.type = connect and conn.addr cidr 127.66.0.0/24
                  output: "connect %conn.addr"
                  priority: WARNING
                """, WINDOW_MS);
        deniedConnect(p, 100, 7, 443, 5_000_000_000L, 0, AG_VERDICT_DENIED);
        assertThat(violations).hasSize(1);
        assertThat(violations.getFirst().getRule()).isEqualTo("outbound to the test net");
        assertThat(violations.getFirst().getBlockKind()).isEqualTo(BlockKind.BLOCK_KIND_CONNECT);
        // a repeat of the rule is counted, and does not turn into a finding either
        deniedConnect(p, 100, 8, 443, 5_000_000_100L, 0, AG_VERDICT_DENIED);
        assertThat(violations).hasSize(1);
        p.flush();
        assertThat(violations).hasSize(2);
        assertThat(violations.get(1).getRule()).isEqualTo("outbound to the test net");
        assertThat(violations.get(1).getCount()).isEqualTo(2);
    }

    @Test
    void anAllowedConnectARuleMatchedHasNoBlockKind() {
        ConsumerPipeline p = pipeline("""
                - rule: outbound to the test net
                  desc: d
                  condition: evt.type = connect and conn.addr cidr 127.66.0.0/24
                  output: "connect %conn.addr"
                  priority: WARNING
                """, WINDOW_MS);
        deniedConnect(p, 100, 7, 443, 5_000_000_000L, 0, AG_VERDICT_ALLOWED);
        assertThat(violations).hasSize(1);
        assertThat(violations.getFirst().getBlockKind()).isEqualTo(BlockKind.BLOCK_KIND_UNSPECIFIED);
    }

    @Test
    void tunnelAndShellConnectsAndMonitorModeHaveTheirOwnFindings() {
        ConsumerPipeline p = pipeline(null, WINDOW_MS);
        deniedConnect(p, 100, 22, 22, 5_000_000_000L, AG_CONNECT_TUNNEL, AG_VERDICT_DENIED);
        deniedConnect(p, 101, 5, 4444, 5_000_000_000L, AG_CONNECT_SHELL, AG_VERDICT_DENIED);
        deniedConnect(p, 102, 5, 4444, 5_000_000_000L, 0, AG_VERDICT_WOULD_BLOCK);
        deniedConnect(p, 103, 5, 4444, 5_000_000_000L, AG_CONNECT_TUNNEL, AG_VERDICT_WOULD_BLOCK);
        assertThat(violations).extracting(Violation::getRule).containsExactly(
                "agentguard: tunnel connection denied", "agentguard: shell network connection denied",
                "agentguard: connection denied by egress policy (monitor)",
                "agentguard: tunnel connection denied (monitor)");
        assertThat(violations).extracting(Violation::getBlockKind).containsExactly(
                BlockKind.BLOCK_KIND_TUNNEL_CONNECT, BlockKind.BLOCK_KIND_SHELL_CONNECT, BlockKind.BLOCK_KIND_CONNECT,
                BlockKind.BLOCK_KIND_TUNNEL_CONNECT);
        p.publishCounters();
        assertThat(p.counters().blocked(BlockKind.BLOCK_KIND_CONNECT_VALUE, true)).isEqualTo(1);
        assertThat(p.counters().blocked(BlockKind.BLOCK_KIND_TUNNEL_CONNECT_VALUE, false)).isEqualTo(1);
        assertThat(p.counters().blocked(BlockKind.BLOCK_KIND_TUNNEL_CONNECT_VALUE, true)).isEqualTo(1);
    }

    private void gpuOpen(ConsumerPipeline p, int pid, int role, int index, int verdict) {
        header(AG_REC_GPU_OPEN, GpuOpen.SIZEOF, pid, 5_000_000_000L);
        buf.set(JAVA_INT_UNALIGNED, GpuOpen.MAJOR, 195);
        buf.set(JAVA_INT_UNALIGNED, GpuOpen.MINOR, index);
        buf.set(JAVA_SHORT_UNALIGNED, GpuOpen.ROLE, (short) role);
        buf.set(JAVA_SHORT_UNALIGNED, GpuOpen.INDEX, (short) index);
        buf.set(JAVA_SHORT_UNALIGNED, GpuOpen.VERDICT, (short) verdict);
        p.onRecord(buf, 0, (int) GpuOpen.SIZEOF);
    }

    @Test
    void aDeniedGpuOpenIsAViolationOnePerGpu() {
        ConsumerPipeline p = pipeline(null, WINDOW_MS);
        gpuOpen(p, 100, AG_DEV_GPU, 0, AG_VERDICT_DENIED);
        gpuOpen(p, 100, AG_DEV_GPU, 0, AG_VERDICT_DENIED);
        gpuOpen(p, 100, AG_DEV_GPU, 1, AG_VERDICT_DENIED);   // another GPU: another fact
        gpuOpen(p, 100, AG_DEV_GPU, 1, AG_VERDICT_ALLOWED);
        assertThat(violations).extracting(Violation::getRule).containsExactly("agentguard: GPU device open denied",
                "agentguard: GPU device open denied");
        assertThat(violations.getFirst().getBlockKind()).isEqualTo(BlockKind.BLOCK_KIND_GPU_OPEN);
        assertThat(violations.getFirst().getOutput()).contains("gpu 0 (195:0)");
        gpuOpen(p, 101, AG_DEV_CONTROL, 0, AG_VERDICT_WOULD_BLOCK);
        assertThat(violations.getLast().getRule()).isEqualTo("agentguard: GPU device open denied (monitor)");
    }

    @Test
    void aFullTableReportsEveryNewKeyAloneAndCountsTheOverflow() {
        ConsumerPipeline p = pipeline(null, WINDOW_MS);
        int processes = ViolationAggregator.MAX_ENTRIES + 10;
        for (int pid = 1; pid <= processes; pid++) {
            deniedConnect(p, pid, 1, 80, 5_000_000_000L, 0, AG_VERDICT_DENIED);
            deniedConnect(p, pid, 1, 80, 5_000_000_001L, 0, AG_VERDICT_DENIED);
        }
        // tracked keys: one each, their repeat counted; untracked: both reported, nothing lost
        assertThat(violations).hasSize(ViolationAggregator.MAX_ENTRIES + 20);
        p.publishCounters();
        assertThat(p.counters().aggregationOverflows()).isEqualTo(20);
        assertThat(p.counters().aggregated()).isEqualTo(ViolationAggregator.MAX_ENTRIES);
        p.flush();
        assertThat(violations).hasSize(2 * ViolationAggregator.MAX_ENTRIES + 20);
        assertThat(violations.subList(ViolationAggregator.MAX_ENTRIES + 20, violations.size()))
                .allSatisfy(v -> assertThat(v.getCount()).isEqualTo(2));
    }

    @Test
    void aRepeatCountedIntoItsAggregateAllocatesNothing() {
        ConsumerPipeline p = pipeline("""
                - rule: outbound to the test net
                  desc: d
                  condition: evt.type = connect and conn.addr cidr 127.66.0.0/24
                  output: "connect %conn.addr"
                  priority: WARNING
                """, WINDOW_MS);
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean)
                java.lang.management.ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().threadId();
        for (int round = 0; round < 3; round++) {   // warm up the paths (JIT, lazily made tables) first
            long t0 = 5_000_000_000L + round * 1_000_000L;
            for (int i = 0; i < 2000; i++) {
                deniedConnect(p, 100, 7, 9, t0 + i, 0, AG_VERDICT_DENIED);   // the rule's repeats
                deniedConnect(p, 101, 7, 9, t0 + i, 0, AG_VERDICT_DENIED + 0);
            }
        }
        long before = threads.getThreadAllocatedBytes(tid);
        for (int i = 0; i < 10_000; i++) {
            deniedConnect(p, 100, 7, 9, 6_000_000_000L + i, 0, AG_VERDICT_DENIED);
        }
        long allocated = threads.getThreadAllocatedBytes(tid) - before;
        assertThat(violations).hasSize(2);   // the first of each process, nothing for 16 000 repeats
        assertThat(allocated).as("bytes for 10 000 repeats").isLessThan(10_000);
    }
}
