package io.agentguard.bench;

import io.agentguard.event.Records;
import io.agentguard.pipeline.ConsumerPipeline;
import io.agentguard.process.ProcessTable;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ExecEvent;
import io.agentguard.proto.v1.ProcessInfo;
import io.agentguard.rules.Classifier;
import io.agentguard.rules.RuleLoader;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The worst case of one event for the default pack: execs whose argv fills the largest exec
 * record (exec.max_args_bytes ceiling, 8 KiB) with text built to reach as many of the pack's
 * regexes as it can (`mkfifo /dev/tcp/ ` then a repeated shape), through the same pipeline
 * as {@link ClassifierBenchmark} (process table update included, as for every exec). Run
 * beside {@code ClassifierBenchmark -p rules=default}: same units, events per second on one
 * core. No event here runs out of the default budget (a test checks the pack's worst case).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
public class ClassifierWorstCaseBenchmark {
    static final int RECORDS = 16;
    static final int ARGS_BYTES = 8192;

    /** The repeated text: pipes (named-pipe rule), /dev/tcp (reverse-shell rules), ssh-style options, plain letters. */
    @Param({"|", "/dev/tcp/", " -o ", "a"})
    public String shape;

    private ConsumerPipeline pipeline;
    private MemorySegment records;
    private long stride;
    private final int[] lengths = new int[RECORDS];
    private Classifier classifier;
    private long violations;

    @Setup(Level.Trial)
    public void setUp() {
        classifier = new Classifier(RuleLoader.load(true, List.of()));
        ProcessTable table = new ProcessTable(4096, 10_000_000_000L);
        pipeline = new ConsumerPipeline.Builder(classifier, table).cgroupPaths(id -> "agents/job")
                .policies(io.agentguard.enforce.PolicySnapshot.forTests(io.agentguard.config.AgentConfigLoader.embeddedDefault()))
                .violations(v -> violations++).build();
        Records writer = new Records();
        stride = (Records.maxRecordBytes() + 7) & ~7L;
        records = Arena.ofAuto().allocate(RECORDS * stride, 8);
        String text = ("mkfifo /dev/tcp/ " + shape.repeat(ARGS_BYTES)).substring(0, ARGS_BYTES - "/bin/sh".length() - 5);
        for (int i = 0; i < RECORDS; i++) {
            Event e = Event.newBuilder().setMonotonicNs(1_000_000_000L + i * 1000L)
                    .setProcess(ProcessInfo.newBuilder().setPid(100 + i % 8).setTid(100 + i % 8).setPpid(1).setUid(1000)
                            .setComm("sh").setCgroupId(7))
                    .setExec(ExecEvent.newBuilder().setFilename("/bin/sh").addArgs("/bin/sh").addArgs("-c").addArgs(text)
                            .setSuccess(true))
                    .build();
            lengths[i] = writer.write(e, records, i * stride);
        }
    }

    @Benchmark
    @OperationsPerInvocation(RECORDS)
    public long classifyHostileExec() {
        for (int i = 0; i < RECORDS; i++) {
            pipeline.onRecord(records, i * stride, lengths[i]);
        }
        return violations;
    }

    @TearDown(Level.Trial)
    public void check() {
        if (classifier.overBudgetEvents() != 0) {
            throw new IllegalStateException(classifier.overBudgetEvents() + " events over the default budget");
        }
    }
}
