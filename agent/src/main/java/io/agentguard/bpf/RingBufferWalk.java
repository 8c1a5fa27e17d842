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
 * <p>Follows libbpf's ringbuf_process_ring (libbpf's ringbuf.c; the kernel's side is kernel/bpf/ringbuf.c): an acquire load of
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
 * <p>The length words are read without segment checks (a fifth of the time per record), so the walk
 * keeps its offset inside the data area itself, from what the kernel guarantees: producer_pos
 * at most one ring ahead of the published consumer_pos, every record ending at or before it.
 * If either fails it throws {@link RingCorruptedException} without moving, so a bad length can never
 * send a read outside the mapping, nor consumer_pos past producer_pos (which would stall the
 * producers). Handlers get the bounded segment.
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
    /** Reads at absolute addresses, bounded by nothing: for what the walk's own arithmetic keeps
     * inside the mapping. A constant, so its checks fold away. */
    private static final MemorySegment ADDRESS_SPACE = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    private final MemorySegment consumerPosition;
    private final MemorySegment producerPosition;
    private final MemorySegment data;
    private final long dataAddress;
    private final long sizeBytes;
    private long consumerPos;

    RingBufferWalk(MemorySegment consumerPosition, MemorySegment producerPosition, MemorySegment data, long dataSizeBytes) {
        if (Long.bitCount(dataSizeBytes) != 1 || dataSizeBytes < RECORD_HEADER_BYTES) {
            throw new IllegalArgumentException("ring buffer size " + dataSizeBytes + " is not a power of two");
        }
        if (!data.isNative()) {
            throw new IllegalArgumentException("ring buffer data area must be native memory (the kernel's mapping)");
        }
        if (data.byteSize() < 2 * dataSizeBytes) {
            throw new IllegalArgumentException("ring buffer data area of " + data.byteSize()
                    + " bytes: the kernel maps it twice, " + 2 * dataSizeBytes + " bytes expected");
        }
        this.consumerPosition = consumerPosition;
        this.producerPosition = producerPosition;
        this.data = data.asSlice(0, 2 * dataSizeBytes);
        this.dataAddress = data.address();
        this.sizeBytes = dataSizeBytes;
        this.consumerPos = (long) LONG.getAcquire(consumerPosition, 0L);
    }

    /**
     * Hands up to {@code maxRecords} committed records to the handler as (data area, offset of
     * the record's bytes, length), publishes the new consumer position, and returns the number
     * handed over. Stops early at the producer position or at a record still being written.
     * An exception from the handler propagates after the position, past the record it threw
     * on, is published. Positions that a sane kernel cannot produce throw
     * {@link RingCorruptedException}, the consumer position left before the offending record.
     */
    int poll(RingBufferReader.RecordHandler handler, int maxRecords) {
        final MemorySegment ring = data;
        final long ringAddress = dataAddress;
        final long start = consumerPos;
        long cons = start;
        long offset = start & (sizeBytes - 1);
        int handled = 0;
        try {
            long prod;
            // re-read producer_pos once caught up: more may have come meanwhile (libbpf does the same)
            while (handled < maxRecords && cons < (prod = (long) LONG.getAcquire(producerPosition, 0L))) {
                // Producers never get more than a ring ahead of the published consumer_pos, which stays
                // at start until the poll ends; so offset never passes 2 x size: no wrapping in the loop
                if (prod - start > sizeBytes) {
                    throw corruptPositions(start, prod);
                }
                do {
                    // offset < 2 x size: read through a constant unbounded segment, whose checks fold
                    // away (a bounded segment's bounds and liveness checks cost five loads and four
                    // branches per record)
                    int lengthWord = (int) INT.getAcquire(ADDRESS_SPACE, ringAddress + offset);
                    if (lengthWord < 0) {   // BUSY: reserved, not committed yet
                        return handled;
                    }
                    // The next record's address hangs on this arithmetic, so it is kept short: unsigned,
                    // DISCARD (bit 30) riding along and taken back on the discard path
                    long header = Integer.toUnsignedLong(lengthWord);
                    long recordBytes = (header + RECORD_HEADER_BYTES + 7) & ~7L;
                    boolean discarded = (header & DISCARD_BIT) != 0;
                    if (discarded) {
                        recordBytes -= DISCARD_BIT;
                    }
                    cons += recordBytes;
                    if (cons > prod) {   // reservations advance producer_pos by whole records
                        cons -= recordBytes;
                        throw corruptRecord(cons, lengthWord, prod);
                    }
                    long recordOffset = offset;
                    offset += recordBytes;
                    if (!discarded) {
                        handled++;
                        handler.onRecord(ring, recordOffset + RECORD_HEADER_BYTES, lengthWord);
                    }
                } while (cons < prod && handled < maxRecords);
            }
            return handled;
        } finally {
            if (cons != start) {
                LONG.setRelease(consumerPosition, 0L, cons);
                consumerPos = cons;
            }
        }
    }

    private static RingCorruptedException corruptPositions(long cons, long prod) {
        return new RingCorruptedException("ring buffer producer_pos " + prod + " is more than the ring ahead of consumer_pos "
                + cons + ": no kernel lets producers lap the consumer; not walking it");
    }

    private static RingCorruptedException corruptRecord(long cons, int lengthWord, long prod) {
        return new RingCorruptedException("ring buffer record at position " + cons + " has length word 0x"
                + Integer.toHexString(lengthWord) + ", running past producer_pos " + prod
                + ": the kernel never writes one; consumer_pos stays before it");
    }

    /**
     * Gives up what is pending: publishes consumer_pos = producer_pos, so the walk starts again
     * at the next record the kernel reserves. Returns the bytes skipped.
     */
    long skipPending() {
        long prod = (long) LONG.getAcquire(producerPosition, 0L);
        long skipped = prod - consumerPos;
        LONG.setRelease(consumerPosition, 0L, prod);
        consumerPos = prod;
        return skipped;
    }

    /** Bytes reserved by producers and not yet consumed (some may still be BUSY), from any thread. */
    long pendingBytes() {
        long cons = (long) LONG.getAcquire(consumerPosition, 0L);
        long prod = (long) LONG.getAcquire(producerPosition, 0L);
        return Math.max(0, prod - cons);
    }

    long dataSizeBytes() {
        return sizeBytes;
    }
}
