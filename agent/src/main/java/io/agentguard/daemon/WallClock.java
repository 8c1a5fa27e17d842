package io.agentguard.daemon;

import io.agentguard.bpf.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * CLOCK_REALTIME - CLOCK_MONOTONIC: records carry bpf_ktime_get_ns() (monotonic), events a
 * wall-clock time. Refreshed by housekeeping, so that event times follow clock adjustments.
 */
final class WallClock {
    private final MemorySegment timespec = Arena.ofAuto().allocate(16, 8);
    private volatile long wallMinusMonotonicNs;

    WallClock() {
        refresh();
    }

    synchronized void refresh() {
        long real = Libc.clockGettimeNs(Libc.CLOCK_REALTIME, timespec);
        long mono = Libc.clockGettimeNs(Libc.CLOCK_MONOTONIC, timespec);
        wallMinusMonotonicNs = real - mono;
    }

    long wallMinusMonotonicNs() {
        return wallMinusMonotonicNs;
    }
}
