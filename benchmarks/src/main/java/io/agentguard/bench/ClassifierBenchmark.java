package io.agentguard.bench;

import io.agentguard.event.Records;
import io.agentguard.pipeline.ConsumerPipeline;
import io.agentguard.process.ProcessTable;
import io.agentguard.proto.v1.AddressFamily;
import io.agentguard.proto.v1.ConnectEvent;
import io.agentguard.proto.v1.DeviceRole;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.GpuEvent;
import io.agentguard.proto.v1.GpuIoctl;
import io.agentguard.proto.v1.ProcessInfo;
import io.agentguard.proto.v1.SocketType;
import io.agentguard.rules.Classifier;
import io.agentguard.rules.RuleCompiler;
import io.agentguard.rules.RuleLoader;
import io.agentguard.rules.RuleSet;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The consumer pipeline per ring record (header check, process table, classification)
 * on events that match no rule and are not printed: the daemon's steady state on a GPU
 * node. Records are pre-encoded exactly as the kernel writes them. Throughput is events
 * per second on one core; run with -prof gc for bytes allocated per event.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
public class ClassifierBenchmark {
    static final int RECORDS = 256;
    static final int RECORD_STRIDE = 512;

    /** "default" = the embedded default pack; a number = that many synthetic rules with 1000-entry lists. */
    @Param({"default", "10", "100", "1000"})
    public String rules;

    private ConsumerPipeline pipeline;
    private MemorySegment records;
    private final int[] lengths = new int[RECORDS];
    private long violations;

    @Setup(Level.Trial)
    public void setUp() {
        RuleSet set = rules.equals("default") ? RuleLoader.load(true, List.of())
                : RuleCompiler.compile(List.of(new RuleCompiler.Source("synthetic", synthetic(Integer.parseInt(rules)))));
        ProcessTable table = new ProcessTable(4096, 10_000_000_000L);
        for (int pid = 100; pid < 108; pid++) {
            table.put(pid, 1, 7, 1000, "python3", "/usr/bin/python3", List.of("python3", "serve.py", "--port", "8000"), 1);
        }
        pipeline = new ConsumerPipeline.Builder(new Classifier(set), table).cgroupPaths(id -> "agents/job")
                .policies(io.agentguard.enforce.PolicySnapshot.forTests(io.agentguard.config.AgentConfigLoader.embeddedDefault()))
                .violations(v -> violations++).build();
        Records writer = new Records();
        records = Arena.ofAuto().allocate((long) RECORDS * RECORD_STRIDE, 8);
        for (int i = 0; i < RECORDS; i++) {
            lengths[i] = writer.write(event(i), records, (long) i * RECORD_STRIDE);
        }
        // a pass to check the mix really matches nothing
        for (int i = 0; i < RECORDS; i++) {
            pipeline.onRecord(records, (long) i * RECORD_STRIDE, lengths[i]);
        }
        if (violations != 0) {
            throw new IllegalStateException(violations + " violations: the benchmark events must match no rule");
        }
    }

    /** Half NVML-style RM_CONTROL polling, half connects of an inference server to a peer on 443. */
    static Event event(int i) {
        ProcessInfo p = ProcessInfo.newBuilder().setPid(100 + i % 8).setTid(100 + i % 8).setPpid(1).setUid(1000)
                .setComm("python3").setCgroupId(7).build();
        Event.Builder e = Event.newBuilder().setMonotonicNs(1_000_000_000L + i * 1000L).setProcess(p);
        if (i % 2 == 0) {
            e.setGpu(GpuEvent.newBuilder().setRole(DeviceRole.DEVICE_ROLE_CONTROL).setMajor(195).setMinor(255)
                    .setIoctl(GpuIoctl.newBuilder().setCmd(0xc020462a).setControlId(0x20800102).setHClient(1).setHObject(2)));
        } else {
            e.setConnect(ConnectEvent.newBuilder().setFamily(AddressFamily.ADDRESS_FAMILY_INET).setAddress("127.66.1." + (i % 4))
                    .setPort(443).setProtocol(6).setSocketType(SocketType.SOCKET_TYPE_STREAM).setSocketCookie(i));
        }
        return e.build();
    }

    static String synthetic(int count) {
        StringBuilder y = new StringBuilder();
        for (int l = 0; l < 4; l++) {
            List<String> items = new ArrayList<>();
            for (int k = 0; k < 1000; k++) {
                items.add("tool" + l + "x" + k);
            }
            y.append("- list: names_").append(l).append("\n  items: [").append(String.join(", ", items)).append("]\n");
        }
        for (int r = 0; r < count; r++) {
            String condition = switch (r % 4) {
                case 0 -> "evt.type = connect and conn.port = " + (20000 + r) + " and proc.name in (names_0)";
                case 1 -> "evt.type = gpu_ioctl and gpu.control = " + (0x1000 + r) + " and proc.name in (names_1)";
                case 2 -> "evt.type = connect and proc.cmdline contains (names_2) and conn.addr cidr (10." + (r % 250) + ".0.0/16)";
                default -> "evt.type in (gpu_ioctl, connect) and proc.name in (names_3) and proc.uid = " + r;
            };
            y.append("- rule: synthetic ").append(r).append("\n  desc: d\n  condition: ").append(condition)
                    .append("\n  output: o\n  priority: NOTICE\n");
        }
        return y.toString();
    }

    @Benchmark
    @OperationsPerInvocation(RECORDS)
    public long classify() {
        for (int i = 0; i < RECORDS; i++) {
            pipeline.onRecord(records, (long) i * RECORD_STRIDE, lengths[i]);
        }
        return violations;
    }
}
