package io.agentguard.bpf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * A BPF ring buffer on ordinary memory with a producer that writes the way the kernel's
 * bpf_ringbuf_reserve/submit/discard do (kernel/bpf/ringbuf.c): reserve writes the 8-byte
 * header with BUSY and advances producer_pos (release), commit writes the bytes and then
 * the final length (release), discard sets DISCARD instead. The data area is 2 × size with
 * every byte written to both halves, as the kernel's double mapping shows it.
 */
final class PlainMemoryRing {
    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

    final long sizeBytes;
    final MemorySegment consumerPosition;
    final MemorySegment producerPosition;
    final MemorySegment data;

    PlainMemoryRing(Arena arena, long sizeBytes) {
        this.sizeBytes = sizeBytes;
        this.consumerPosition = arena.allocate(8, 8);
        this.producerPosition = arena.allocate(8, 8);
        this.data = arena.allocate(2 * sizeBytes, 8);
    }

    RingBufferWalk walk() {
        return new RingBufferWalk(consumerPosition, producerPosition, data, sizeBytes);
    }

    long producerPos() {
        return (long) LONG.getAcquire(producerPosition, 0L);
    }

    long consumerPos() {
        return (long) LONG.getAcquire(consumerPosition, 0L);
    }

    /** Rounded record size, header included, as the kernel advances producer_pos. */
    static long recordBytes(int length) {
        return (length + RingBufferWalk.RECORD_HEADER_BYTES + 7) & ~7L;
    }

    /** Reserves a record of length bytes (BUSY); returns its position. Refuses, as the
     * kernel does, a record that would overwrite what the consumer has not read. */
    long reserve(int length) {
        long pos = producerPos();
        long next = pos + recordBytes(length);
        if (next - consumerPos() > sizeBytes) {
            throw new IllegalStateException("ring full: the kernel would fail the reservation");
        }
        writeInt(pos, length | RingBufferWalk.BUSY_BIT);
        writeInt(pos + 4, (int) ((pos & (sizeBytes - 1)) >> 12));   // page offset: not the consumer's business
        LONG.setRelease(producerPosition, 0L, next);
        return pos;
    }

    void commit(long pos, byte[] bytes) {
        for (int i = 0; i < bytes.length; i++) {
            writeByte(pos + RingBufferWalk.RECORD_HEADER_BYTES + i, bytes[i]);
        }
        publishLength(pos, bytes.length);
    }

    void discard(long pos) {
        int length = (int) INT.getAcquire(data, pos & (sizeBytes - 1)) & ~RingBufferWalk.BUSY_BIT;
        publishLength(pos, length | RingBufferWalk.DISCARD_BIT);
    }

    long submit(byte[] bytes) {
        long pos = reserve(bytes.length);
        commit(pos, bytes);
        return pos;
    }

    /** What no kernel writes: a committed length word of the caller's choosing. */
    void corruptLengthWord(long pos, int word) {
        publishLength(pos, word);
    }

    /** What no kernel does: producer_pos set at will. */
    void corruptProducerPos(long pos) {
        LONG.setRelease(producerPosition, 0L, pos);
    }

    /** The kernel's xchg of the length word, seen through both halves. */
    private void publishLength(long pos, int header) {
        long index = pos & (sizeBytes - 1);
        INT.setRelease(data, index + sizeBytes, header);
        INT.setRelease(data, index, header);
    }

    private void writeInt(long pos, int value) {
        long index = pos & (sizeBytes - 1);
        data.set(ValueLayout.JAVA_INT, index, value);
        data.set(ValueLayout.JAVA_INT, index + sizeBytes, value);
    }

    private void writeByte(long pos, byte value) {
        long index = pos & (sizeBytes - 1);
        data.set(ValueLayout.JAVA_BYTE, index, value);
        data.set(ValueLayout.JAVA_BYTE, index + sizeBytes, value);
    }
}
