package io.agentguard.bpf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Reads the per-CPU counters the BPF programs keep (enum ag_counter): records emitted
 * and records lost because the ring was full. libbpf has no lost count for ring
 * buffers, so the kernel side counts reserve failures itself.
 */
public final class KernelCounters implements AutoCloseable {
    private final BpfMap map;
    private final int cpus;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment key;
    private final MemorySegment values;

    public KernelCounters(BpfMap map) {
        this.map = map;
        this.cpus = Libbpf.numPossibleCpus();
        this.key = arena.allocate(4, 4);
        this.values = arena.allocate(8L * cpus, 8);
    }

    /** Sum over CPUs of one counter. */
    public synchronized long sum(int counter) {
        return perCpu(counter, null);
    }

    /** Fills perCpu (if not null, length >= cpus) and returns the sum. */
    public synchronized long perCpu(int counter, long[] perCpu) {
        key.set(ValueLayout.JAVA_INT, 0, counter);
        if (!map.lookup(key, values)) {
            return 0;
        }
        long sum = 0;
        for (int cpu = 0; cpu < cpus; cpu++) {
            long v = values.get(ValueLayout.JAVA_LONG, 8L * cpu);
            if (perCpu != null) {
                perCpu[cpu] = v;
            }
            sum += v;
        }
        return sum;
    }

    public int cpus() {
        return cpus;
    }

    @Override
    public void close() {
        arena.close();
    }
}
