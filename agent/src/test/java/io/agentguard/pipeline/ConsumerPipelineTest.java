package io.agentguard.pipeline;

import io.agentguard.abi.KernelAbi.Connect;
import io.agentguard.abi.KernelAbi.Exec;
import io.agentguard.abi.KernelAbi.Fork;
import io.agentguard.abi.KernelAbi.GpuIoctl;
import io.agentguard.abi.KernelAbi.Header;
import io.agentguard.abi.KernelAbi.Tamper;
import io.agentguard.event.NvidiaIoctlDecoder;
import io.agentguard.event.Records;
import io.agentguard.process.ProcessTable;
import io.agentguard.proto.v1.AddressFamily;
import io.agentguard.proto.v1.ClassKind;
import io.agentguard.proto.v1.ConnectEvent;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ProcessInfo;
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

/** Synthetic records through the consumer pipeline: bad ones counted and skipped, good ones exact. */
class ConsumerPipelineTest {
    private final List<Event> out = new ArrayList<>();
    private final List<Violation> violations = new ArrayList<>();
    private final ConsumerPipeline pipeline = new ConsumerPipeline.Builder(new Classifier(RuleSet.empty()),
            new ProcessTable(1024, 10_000_000_000L)).cgroupPaths(id -> "cg/" + id).wallMinusMonotonicNs(() -> 1_000_000_000L)
            .connectOutcomeTimeoutMs(1000).events(out::add, true).violations(violations::add).build();
    private final MemorySegment buf = Arena.ofAuto().allocate(Exec.SIZEOF, 8);

    private void header(int type, long size) {
        buf.set(JAVA_SHORT_UNALIGNED, Header.TYPE, (short) type);
        buf.set(JAVA_SHORT_UNALIGNED, Header.SIZE, (short) size);
        buf.set(JAVA_LONG_UNALIGNED, Header.KTIME_NS, 5_000_000_000L);
        buf.set(JAVA_LONG_UNALIGNED, Header.CGROUP_ID, 42);
        buf.set(JAVA_INT_UNALIGNED, Header.PID, 100);
    }

    @Test
    void recordsWithImpossibleTypeOrLengthAreCountedAndSkipped() {
        pipeline.onRecord(buf, 0, 10);                       // shorter than a header
        header(99, 64);
        pipeline.onRecord(buf, 0, 64);                       // unknown type
        header(AG_REC_FORK, Fork.SIZEOF + 8);
        pipeline.onRecord(buf, 0, (int) Fork.SIZEOF + 8);      // size too big for a fork
        header(AG_REC_GPU_IOCTL, GpuIoctl.SIZEOF);
        pipeline.onRecord(buf, 0, 100);                      // header claims more than the ring record holds
        header(AG_REC_FORK, Fork.SIZEOF);
        buf.set(JAVA_INT_UNALIGNED, Fork.CHILD_PID, 101);
        pipeline.onRecord(buf, 0, (int) Fork.SIZEOF);
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
        header(AG_REC_EXEC, Exec.ARGS + 4);
        buf.set(JAVA_SHORT_UNALIGNED, Exec.ARGS_LEN, (short) 4000);   // lies: only 4 bytes sent
        buf.setString(Exec.ARGS, "abc");
        pipeline.onRecord(buf, 0, (int) Exec.ARGS + 4);
        assertThat(out.getFirst().getExec().getArgsList()).containsExactly("abc");
    }

    @Test
    void aKillByTheExecPolicyIsAViolationEvenWithoutARule() {
        header(AG_REC_EXEC, Exec.ARGS);
        buf.setString(Exec.FILENAME, "/tmp/xmrig");
        buf.set(JAVA_SHORT_UNALIGNED, Exec.FILENAME_LEN, (short) 10);
        buf.set(JAVA_SHORT_UNALIGNED, Exec.FLAGS, (short) AG_EXEC_DENIED);
        pipeline.onRecord(buf, 0, (int) Exec.ARGS);
        buf.set(JAVA_SHORT_UNALIGNED, Exec.FLAGS, (short) 0);   // an allowed exec makes none
        pipeline.onRecord(buf, 0, (int) Exec.ARGS);

        assertThat(violations).hasSize(1);
        Violation v = violations.getFirst();
        assertThat(v.getRule()).isEqualTo("agentguard: exec killed by policy");
        assertThat(v.getRuleSource()).isEqualTo(KernelFindings.SOURCE);
        assertThat(v.getOutput()).contains("/tmp/xmrig").contains("cg/42");
        assertThat(v.getEvidence(0).getExec().getFilename()).isEqualTo("/tmp/xmrig");
        pipeline.publishCounters();
        assertThat(pipeline.counters().violations()).isEqualTo(1);
    }

    @Test
    void aTamperRecordIsAViolationWhetherStoppedOrOnlySeen() {
        header(AG_REC_TAMPER, Tamper.SIZEOF);
        buf.set(JAVA_INT_UNALIGNED, Tamper.SIGNAL, 19);
        buf.set(JAVA_SHORT_UNALIGNED, Tamper.KIND, (short) AG_TAMPER_SIGNAL);
        buf.set(JAVA_SHORT_UNALIGNED, Tamper.VERDICT, (short) AG_VERDICT_DENIED);
        pipeline.onRecord(buf, 0, (int) Tamper.SIZEOF);
        buf.set(JAVA_SHORT_UNALIGNED, Tamper.VERDICT, (short) AG_VERDICT_WOULD_BLOCK);
        pipeline.onRecord(buf, 0, (int) Tamper.SIZEOF);

        assertThat(violations).extracting(Violation::getRule).containsExactly(
                "agentguard: tampering with the agent stopped", "agentguard: tampering with the agent");
        assertThat(violations.getFirst().getOutput()).contains("SIGSTOP");
    }

    @Test
    void tcpConnectWithoutOutcomeIsEmittedInProgressAfterTimeout() {
        header(AG_REC_CONNECT, Connect.SIZEOF);
        buf.set(JAVA_SHORT_UNALIGNED, Connect.FAMILY, (short) AG_AF_INET);
        buf.set(JAVA_INT_UNALIGNED, Connect.FLAGS, AG_CONNECT_RESULT_FOLLOWS);
        buf.set(JAVA_LONG_UNALIGNED, Connect.SOCK_COOKIE, 77);
        pipeline.onRecord(buf, 0, (int) Connect.SIZEOF);
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
        assertThat(NvidiaIoctlDecoder.name(AG_DEV_UVM, 0x30000001)).isEqualTo("UVM_INITIALIZE");
        assertThat(NvidiaIoctlDecoder.name(AG_DEV_CONTROL, 0xc030462b)).isEqualTo("RM_ALLOC");
        assertThat(NvidiaIoctlDecoder.name(AG_DEV_CONTROL, 0x5401)).isEqualTo("IOCTL_0x00005401");
    }

    /** Pairs (10.0.0.1+k, 2000-31k) all had one key under the unkeyed hash of the first pipeline version. */
    @Test
    void aScanOfHandPickedAddressPortPairsCountsEveryDestination() {
        List<Violation> found = new ArrayList<>();
        ConsumerPipeline scanWatch = new ConsumerPipeline.Builder(new Classifier(RuleCompiler.compile(List.of(
                new RuleCompiler.Source("scan.yaml", "- rule: scan\n  desc: d\n  condition: evt.type = connect and"
                        + " proc.distinct_dests >= 25\n  output: o\n  priority: NOTICE\n")))),
                new ProcessTable(1024, 10_000_000_000L)).violations(found::add).build();
        Records records = new Records();
        for (int k = 0; k < 25; k++) {
            Event connect = Event.newBuilder().setMonotonicNs(1_000_000_000L + k).setProcess(ProcessInfo.newBuilder()
                    .setPid(300)).setConnect(ConnectEvent.newBuilder().setFamily(AddressFamily.ADDRESS_FAMILY_INET)
                    .setAddress("10.0.0." + (1 + k)).setPort(2000 - 31 * k).setProtocol(AG_IPPROTO_TCP)).build();
            scanWatch.onRecord(buf, 0, records.write(connect, buf, 0));
        }
        assertThat(found).as("the 25th distinct destination").hasSize(1);
        assertThat(found.getFirst().getEvidence(0).getConnect().getAddress()).isEqualTo("10.0.0.25");
    }

    @Test
    void theSameDestinationAgainIsOneDestination() {
        ProcessTable table = new ProcessTable(1024, 10_000_000_000L);
        ConsumerPipeline p = new ConsumerPipeline.Builder(new Classifier(RuleSet.empty()), table).build();
        Records records = new Records();
        for (int i = 0; i < 5; i++) {
            Event connect = Event.newBuilder().setMonotonicNs(1_000_000_000L + i).setProcess(ProcessInfo.newBuilder()
                    .setPid(301)).setConnect(ConnectEvent.newBuilder().setFamily(AddressFamily.ADDRESS_FAMILY_INET)
                    .setAddress("127.66.0.9").setPort(443).setProtocol(AG_IPPROTO_TCP)).build();
            p.onRecord(buf, 0, records.write(connect, buf, 0));
        }
        assertThat(table.distinctDestinations(table.slot(301), 1_000_000_010L)).isEqualTo(1);
    }
}
