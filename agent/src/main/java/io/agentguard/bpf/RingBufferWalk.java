package io.agentguard.bpf;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * The consumer side of a BPF ring buffer over three segments: consumer_pos (u64 at 0, ours to
 * write), producer_pos (u64 at 0, the kernel's) and the data area, 2 × size bytes because the
 * kernel maps it twice back to back so that no record wraps. {@link RingBufferReader} gives it
 * the mmapped pages; tests give it plain memory.
 *
 * <p>Follows libbpf's ringbuf_process_ring (shared/reference/kernel.md): an acquire load of
 * producer_pos, then of each record's length word, because producers advance producer_pos at
 * reserve time and commit later by exchanging the length word: only a length without BUSY says
 * the record's bytes are written. A BUSY record ends the poll (no spinning: the caller waits
 * and polls again); DISCARD records are stepped over, neither handed over nor counted.
 *
 * <p>consumer_pos is published with one release store per poll (libbpf stores it after every
 * record), in a {@code finally}: always before the caller can wait, since the kernel wakes a
 * waiter only once the consumer has caught up. If the handler throws, the record it threw on
 * counts as consumed (the position moves past a record before the handler sees it), the
 * position is published and the exception propagates: a poison record is delivered once,
 * never again, and the next poll starts at the record after it. The caller decides what a
 * failed record costs (the daemon's consumer loop logs and counts it and goes on).
 *
 * <p>Single consumer: only the owning thread calls {@link #poll}.
 */
final class RingBufferWalk {
    /** Record header bits (kernel BPF_RINGBUF_BUSY_BIT, BPF_RINGBUF_DISCARD_BIT). */
    static final int BUSY_BIT = 1 << 31;
    static final int DISCARD_BIT = 1 << 30;
    /** u32 length with the bits above, u32 page offset; records are 8-byte aligned. */
    static final int RECORD_HEADER_BYTES = 8;

    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

    private final MemorySegment consumerPosition;
    private final MemorySegment producerPosition;
    private final MemorySegment data;
    private final long mask;
    private long consumerPos;

    RingBufferWalk(MemorySegment consumerPosition, MemorySegment producerPosition, MemorySegment data, long dataSizeBytes) {
        if (Long.bitCount(dataSizeBytes) != 1 || dataSizeBytes < RECORD_HEADER_BYTES) {
            throw new IllegalArgumentException("ring buffer size " + dataSizeBytes + " is not a power of two");
        }
        if (data.byteSize() < 2 * dataSizeBytes) {
            throw new IllegalArgumentException("ring buffer data area of " + data.byteSize()
                    + " bytes: the kernel maps it twice, " + 2 * dataSizeBytes + " bytes expected");
        }
        this.consumerPosition = consumerPosition;
        this.producerPosition = producerPosition;
        this.data = data.asSlice(0, 2 * dataSizeBytes);
        this.mask = dataSizeBytes - 1;
        this.consumerPos = (long) LONG.getAcquire(consumerPosition, 0L);
    }

    /**
     * Hands up to {@code maxRecords} committed records to the handler as (data area, offset of
     * the record's bytes, length), publishes the new consumer position, and returns the number
     * handed over. Stops early at the producer position or at a record still being written.
     * An exception from the handler propagates after the position, past the record it threw
     * on, is published.
     */
    int poll(RingBufferReader.RecordHandler handler, int maxRecords) {
        final MemorySegment ring = data;
        final long mask = this.mask;
        final long start = consumerPos;
        long cons = start;
        int handled = 0;
        try {
            long prod = (long) LONG.getAcquire(producerPosition, 0L);
            while (handled < maxRecords) {
                if (cons >= prod) {
                    prod = (long) LONG.getAcquire(producerPosition, 0L);   // more may have come meanwhile
                    if (cons >= prod) {
                        break;
                    }
                }
                long offset = cons & mask;
                int header = (int) INT.getAcquire(ring, offset);
                if ((header & BUSY_BIT) != 0) {
                    break;
                }
                int length = header & ~DISCARD_BIT;
                cons += (length + RECORD_HEADER_BYTES + 7) & ~7L;
                if ((header & DISCARD_BIT) == 0) {
                    handled++;
                    handler.onRecord(ring, offset + RECORD_HEADER_BYTES, length);
                }
            }
        } finally {
            if (cons != start) {
                LONG.setRelease(consumerPosition, 0L, cons);
                consumerPos = cons;
            }
        }
        return handled;
    }

    /** Bytes reserved by producers and not yet consumed (some may still be BUSY), from any thread. */
    long pendingBytes() {
        long cons = (long) LONG.getAcquire(consumerPosition, 0L);
        long prod = (long) LONG.getAcquire(producerPosition, 0L);
        return Math.max(0, prod - cons);
    }

    long dataSizeBytes() {
        return mask + 1;
    }
}
