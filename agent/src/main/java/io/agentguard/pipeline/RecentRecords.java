package io.agentguard.pipeline;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The last records seen, copied raw into a fixed arena (no allocation per record), so a
 * violation can carry the same process's preceding events as evidence: they are decoded
 * only then. Consumer thread only. Older records are overwritten as the arena wraps.
 */
final class RecentRecords {
    private static final int ENTRIES = 16384;

    private final MemorySegment arena;
    private final long[] offset = new long[ENTRIES];
    private final int[] length = new int[ENTRIES];
    private final int[] pid = new int[ENTRIES];
    private final long[] generation = new long[ENTRIES];   // arena lap when written, to detect overwrite
    private long count;
    private long writeAt;
    private long lap;

    RecentRecords(long arenaBytes) {
        this.arena = Arena.ofAuto().allocate(arenaBytes, 8);
    }

    void add(MemorySegment data, long at, int bytes, int processId) {
        if (bytes > arena.byteSize() / 4) {
            return;
        }
        if (writeAt + bytes > arena.byteSize()) {
            writeAt = 0;
            lap++;
        }
        MemorySegment.copy(data, at, arena, writeAt, bytes);
        int i = (int) (count % ENTRIES);
        offset[i] = writeAt;
        length[i] = bytes;
        pid[i] = processId;
        generation[i] = lap;
        writeAt += (bytes + 7) & ~7;
        count++;
    }

    /** Visits up to max earlier records of the process, newest first, skipping the newest entry (the current one). */
    void forEachBefore(int processId, int max, Visitor visitor) {
        int found = 0;
        for (long k = count - 2; k >= 0 && k >= count - ENTRIES && found < max; k--) {
            int i = (int) (k % ENTRIES);
            if (pid[i] != processId) {
                continue;
            }
            // overwritten when the arena has wrapped past it
            boolean intact = generation[i] == lap || generation[i] == lap - 1 && offset[i] >= writeAt;
            if (!intact) {
                return;
            }
            visitor.visit(arena, offset[i], length[i]);
            found++;
        }
    }

    @FunctionalInterface
    interface Visitor {
        void visit(MemorySegment data, long offset, int length);
    }
}
