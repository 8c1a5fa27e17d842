package io.agentguard.bench;

import io.agentguard.bpf.BpfLink;
import io.agentguard.bpf.BpfObject;
import io.agentguard.bpf.KernelCounters;
import io.agentguard.bpf.RingBufferReader;
import io.agentguard.abi.KernelAbi;
import io.agentguard.abi.KernelAbi.Maps;
import io.agentguard.scope.AgentCgroups;
import io.agentguard.scope.Cgroup2Mount;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The Java side of the ring throughput benchmark (scripts/bench-ring.sh): the agent's
 * {@link RingBufferReader} against the same BPF object (agentguard-bench.bpf.o), options and
 * generator as the reference C consumer native/ring_reader.c, whose comment describes the
 * modes. The stream loop is the agent's (daemon.ConsumerLoop) without parking: poll up to a batch,
 * wait when the ring ran dry — the wakeup delay under the batched policy, until woken under
 * the kernel's. --reader-cpu pins the reading thread only (the JIT and GC threads float).
 */
public final class RingReaderBenchmark {
    private static final int BATCH_RECORDS = 4096;      // as ConsumerLoop
    private static final int KERNEL_WAIT_MS = 100;       // as ConsumerLoop.WAIT_MS

    /** Reads each record's type: both readers touch every record. */
    static final class Tally implements RingBufferReader.RecordHandler {
        long records;
        long checksum;

        @Override
        public void onRecord(MemorySegment data, long offset, int length) {
            records++;
            checksum += data.get(ValueLayout.JAVA_SHORT, offset + KernelAbi.Header.TYPE);
        }
    }

    public static void main(String[] args) throws Throwable {
        Map<String, String> o = options(args);
        String mode = o.getOrDefault("mode", "drain");
        String wakeup = o.getOrDefault("wakeup", "batched");
        int delayMs = Integer.parseInt(o.getOrDefault("delay-ms", "2"));
        int ringBytes = Integer.parseInt(o.getOrDefault("ring-bytes", Integer.toString(8 << 20)));
        long seconds = Long.parseLong(o.getOrDefault("seconds", "5"));
        long rounds = Long.parseLong(o.getOrDefault("rounds", "200"));
        boolean drain = mode.equals("drain");
        boolean batched = wakeup.equals("batched");
        if (!o.containsKey("object") || !o.containsKey("cgroup") || !o.containsKey("generator")
                || (!drain && !mode.equals("stream")) || (!batched && !wakeup.equals("kernel"))
                || rounds < 5 || seconds < 1) {
            System.err.println("usage: RingReaderBenchmark --object OBJ --cgroup DIR --generator SYSCALL_BENCH"
                    + " [--mode drain|stream] [--wakeup kernel|batched] [--delay-ms N] [--ring-bytes N]"
                    + " [--burst N] [--seconds N >= 1] [--rounds N >= 5] [--generator-cpu N] [--reader-cpu N]"
                    + " [--warmup-seconds N] [--record ioctl|header]");
            System.exit(2);
        }
        String record = o.getOrDefault("record", "ioctl");
        if (!record.equals("ioctl") && !record.equals("header")) {
            System.err.println("--record: ioctl or header");
            System.exit(2);
        }
        long recordSize = record.equals("header") ? KernelAbi.Header.SIZEOF : KernelAbi.GpuIoctl.SIZEOF;
        long recordBytes = (recordSize + 8 + 7) & ~7L;
        long ringBurst = ringBytes / recordBytes * 9 / 10;   // fits without loss
        long burst = Long.parseLong(o.getOrDefault("burst", "0"));
        if (burst <= 0) {
            burst = drain ? ringBurst : 64;
        }
        if (drain && burst > ringBurst) {
            System.err.println("a drain burst must fit the ring: at most " + ringBurst + " records");
            System.exit(2);
        }
        long warmupSeconds = Long.parseLong(o.getOrDefault("warmup-seconds", "2"));
        Generator generator = new Generator(o.get("generator"), o.get("generator-cpu"), Path.of(o.get("cgroup")), record);
        if (o.containsKey("reader-cpu")) {
            pinCurrentThread(Integer.parseInt(o.get("reader-cpu")));
        }
        Path cgroup = generator.cgroup();

        try (BpfObject object = BpfObject.open(Files.readAllBytes(Path.of(o.get("object"))));
             Arena arena = Arena.ofConfined()) {
            for (String name : object.programNames()) {
                object.program(name).autoload(name.equals("ag_bench_emit"));
            }
            object.map(Maps.RING).maxEntries(ringBytes);
            object.load();
            MemorySegment key = arena.allocate(8, 8);
            MemorySegment value = arena.allocate(KernelAbi.Config.SIZEOF, 8);
            Path mount = Cgroup2Mount.find();
            AgentCgroups scope = AgentCgroups.resolve(mount, List.of(mount.relativize(cgroup).toString()), false);
            key.set(ValueLayout.JAVA_LONG, 0, scope.roots().getFirst().id());
            value.set(ValueLayout.JAVA_INT, 0, 1);
            object.map(Maps.SCOPE_ROOTS).update(key, value.asSlice(0, 4));
            value.fill((byte) 0);
            value.set(ValueLayout.JAVA_LONG, KernelAbi.Config.SCOPE_LEVELS, scope.levelMask());
            value.set(ValueLayout.JAVA_INT, KernelAbi.Config.RINGBUF_WAKEUP, batched ? KernelAbi.AG_WAKEUP_BATCHED : KernelAbi.AG_WAKEUP_KERNEL);
            key.set(ValueLayout.JAVA_INT, 0, 0);
            object.map(Maps.CONFIG).update(key.asSlice(0, 4), value);
            BpfLink link = object.program("ag_bench_emit").attach();

            Tally tally = new Tally();
            long[] elapsedAndMeasured = new long[2];
            long elapsedNs;
            long measured;
            long readerCpuNs = 0;
            long emittedBefore = 0;
            long lostBefore = 0;
            long recordsBefore = 0;
            try (RingBufferReader reader = new RingBufferReader(object.map(Maps.RING));
                 KernelCounters counters = new KernelCounters(object.map(Maps.COUNTERS))) {
                if (drain) {
                    drainRounds(reader, tally, generator, burst, rounds / 5, rounds, elapsedAndMeasured);
                    elapsedNs = elapsedAndMeasured[0];
                    measured = elapsedAndMeasured[1];
                } else {
                    // the same loop first, uncounted: compiled before it is measured
                    stream(reader, tally, generator, burst, warmupSeconds, batched, delayMs);
                    emittedBefore = counters.sum(KernelAbi.AG_CNT_EMITTED);
                    lostBefore = counters.sum(KernelAbi.AG_CNT_LOST);
                    recordsBefore = tally.records;
                    long[] elapsedAndCpu = stream(reader, tally, generator, burst, seconds, batched, delayMs);
                    elapsedNs = elapsedAndCpu[0];
                    readerCpuNs = elapsedAndCpu[1];
                    measured = tally.records - recordsBefore;
                }
                long emitted = counters.sum(KernelAbi.AG_CNT_EMITTED) - emittedBefore;
                long lost = counters.sum(KernelAbi.AG_CNT_LOST) - lostBefore;
                long delivered = tally.records - recordsBefore;
                double secondsMeasured = elapsedNs / 1e9;
                System.out.printf("reader=java mode=%s wakeup=%s record=%s burst=%d offered=%d delivered=%d lost=%d seconds=%.6f"
                                + " delivered_per_s=%.0f reader_cpu_ns_per_record=%.1f checksum_ok=%d%n",
                        mode, wakeup, record, burst, emitted + lost, delivered, lost, secondsMeasured,
                        secondsMeasured > 0 ? measured / secondsMeasured : 0.0,
                        drain || delivered == 0 ? 0.0 : (double) readerCpuNs / delivered,
                        tally.checksum == tally.records * KernelAbi.AG_REC_GPU_IOCTL ? 1 : 0);
                link.close();
                if (emitted != delivered) {
                    System.exit(3);
                }
            }
        }
    }

    /** Rounds of: the generator writes burst records and exits, the reader drains them; rounds
     * from firstTimed on are timed into elapsedAndMeasured (ns, records). */
    private static void drainRounds(RingBufferReader reader, Tally tally, Generator generator, long burst,
                                    long firstTimed, long rounds, long[] elapsedAndMeasured)
            throws IOException, InterruptedException {
        for (long r = 0; r < rounds; r++) {
            finish(generator.start(burst, 0));
            long before = tally.records;
            long start = System.nanoTime();
            while (tally.records - before < burst) {
                reader.poll(tally, BATCH_RECORDS);
            }
            if (r >= firstTimed) {
                elapsedAndMeasured[0] += System.nanoTime() - start;
                elapsedAndMeasured[1] += tally.records - before;
            }
        }
    }

    /** The agent's loop without parking, while the generator runs; returns {elapsed ns as the
     * generator measured it, reader thread CPU ns}. */
    private static long[] stream(RingBufferReader reader, Tally tally, Generator generatorSpec, long burst, long seconds,
                                 boolean batched, int delayMs)
            throws IOException, InterruptedException {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        Process generator = generatorSpec.start(burst, seconds);
        long cpuStart = threads.getCurrentThreadCpuTime();
        while (generator.isAlive()) {
            if (reader.poll(tally, BATCH_RECORDS) < BATCH_RECORDS) {
                reader.await(batched ? delayMs : KERNEL_WAIT_MS);
            }
        }
        while (reader.poll(tally, BATCH_RECORDS) > 0) {
            // what was committed before the generator exited
        }
        long cpuNs = threads.getCurrentThreadCpuTime() - cpuStart;
        String[] report = finish(generator).trim().split(" ");
        return new long[] {Long.parseLong(report[3]), cpuNs};
    }

    /** sched_setaffinity(0, ...) pins the calling thread only: the JVM's other threads float. */
    private static void pinCurrentThread(int cpu) throws Throwable {
        Linker linker = Linker.nativeLinker();
        MethodHandle setAffinity = linker.downcallHandle(linker.defaultLookup().find("sched_setaffinity").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mask = arena.allocate(128, 8);
            mask.set(ValueLayout.JAVA_LONG, (cpu / 64) * 8L, 1L << (cpu % 64));
            if ((int) setAffinity.invokeExact(0, mask.byteSize(), mask) != 0) {
                throw new IllegalStateException("sched_setaffinity(CPU " + cpu + ") failed");
            }
        }
    }

    /** syscall_bench burst, moved into the benchmark cgroup by its shell before exec. */
    record Generator(String path, String cpu, Path cgroup, String record) {
        Process start(long burst, long seconds) throws IOException {
            return new ProcessBuilder("sh", "-c", "echo 0 > \"$0/cgroup.procs\" && exec \"$@\"", cgroup.toString(),
                    path, "burst", Long.toString(burst), Long.toString(seconds), cpu == null ? "-1" : cpu, record)
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        }
    }

    private static String finish(Process generator) throws IOException, InterruptedException {
        String out = new String(generator.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
        if (generator.waitFor() != 0) {
            throw new IllegalStateException("the generator failed (exit " + generator.exitValue() + ")");
        }
        return out;
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> o = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --option VALUE, got " + args[i]);
            }
            o.put(args[i].substring(2), args[i + 1]);
        }
        return o;
    }
}
