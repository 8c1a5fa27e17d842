package io.agentguard.bpf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * Reads a BPF ring buffer map in place: the consumer page is mapped read-write, the
 * producer page and the twice-mapped data area read-only, and records are handed to a
 * {@link RecordHandler} as (segment, offset, length) without copying or allocating.
 *
 * <p>Follows libbpf's ringbuf_process_ring (shared/reference/kernel.md): acquire loads of
 * producer_pos and of each record's length word, a release store of consumer_pos once per
 * poll (so always before waiting, because the kernel wakes a waiter only when the consumer
 * has caught up) where libbpf stores it after every record. Single consumer: only the owning thread calls {@link #poll}.
 */
public final class RingBufferReader implements AutoCloseable {
    /** Record header bits (kernel BPF_RINGBUF_BUSY_BIT, BPF_RINGBUF_DISCARD_BIT). */
    static final int BUSY_BIT = 1 << 31;
    static final int DISCARD_BIT = 1 << 30;
    static final int RECORD_HEADER_BYTES = 8;

    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

    /** Receives one committed record; must not keep the segment beyond the call. */
    @FunctionalInterface
    public interface RecordHandler {
        void onRecord(MemorySegment data, long offset, int length);
    }

    private final int mapFd;
    private final long pageSize;
    private final long dataSize;
    private final long mask;
    private final MemorySegment consumer;   // consumer_pos at 0, RW
    private final MemorySegment producer;   // producer_pos at 0, RO
    private final MemorySegment data;       // 2 * dataSize, RO
    private final int epollFd;
    private final MemorySegment epollEvents;
    private final Arena arena = Arena.ofShared();
    private long consumerPos;
    private long recordsRead;
    private long bytesRead;
    private boolean closed;

    public RingBufferReader(BpfMap ring) {
        this.mapFd = ring.fd();
        this.pageSize = Libc.pageSize();
        this.dataSize = Integer.toUnsignedLong(ring.maxEntries());
        if (Long.bitCount(dataSize) != 1 || dataSize % pageSize != 0) {
            throw new IllegalArgumentException("ring buffer size " + dataSize + " is not a power of two multiple of the page size");
        }
        this.mask = dataSize - 1;
        MemorySegment cons = Libc.mmap(pageSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, mapFd, 0);
        if (cons.address() == Libc.MAP_FAILED) {
            throw new BpfException("mmap(ring consumer page)", Libc.errno(), ring.name(), java.util.List.of());
        }
        long producerLength = pageSize + 2 * dataSize;
        MemorySegment prod = Libc.mmap(producerLength, Libc.PROT_READ, Libc.MAP_SHARED, mapFd, pageSize);
        if (prod.address() == Libc.MAP_FAILED) {
            int errno = Libc.errno();
            Libc.munmap(cons, pageSize);
            throw new BpfException("mmap(ring producer pages)", errno, ring.name(), java.util.List.of());
        }
        this.consumer = cons.reinterpret(pageSize);
        this.producer = prod.reinterpret(producerLength);
        this.data = producer.asSlice(pageSize, 2 * dataSize);

        this.epollFd = Libc.epollCreate1(Libc.EPOLL_CLOEXEC);
        if (epollFd < 0) {
            throw new BpfException("epoll_create1", Libc.errno(), null, java.util.List.of());
        }
        this.epollEvents = arena.allocate(Libc.EPOLL_EVENT_SIZE * 4, 8);
        MemorySegment event = arena.allocate(Libc.EPOLL_EVENT_SIZE, 8);
        event.set(ValueLayout.JAVA_INT_UNALIGNED, 0, Libc.EPOLLIN);   // level-triggered, never EPOLLET
        event.set(ValueLayout.JAVA_LONG_UNALIGNED, 4, 0L);
        if (Libc.epollCtl(epollFd, Libc.EPOLL_CTL_ADD, mapFd, event) < 0) {
            throw new BpfException("epoll_ctl(ADD ring fd)", Libc.errno(), null, java.util.List.of());
        }
        this.consumerPos = (long) LONG.getAcquire(consumer, 0L);
    }

    /**
     * Hands up to {@code maxRecords} committed records to the handler and publishes the
     * new consumer position. Returns the number handed over (discarded ones not counted).
     * Stops early at a record still being written (BUSY): it never spins.
     */
    public int poll(RecordHandler handler, int maxRecords) {
        final MemorySegment ring = data;
        final long start = consumerPos;
        long cons = start;
        long prod = (long) LONG.getAcquire(producer, 0L);
        int handled = 0;
        long bytes = 0;
        for (int visited = 0; visited < maxRecords; visited++) {
            if (cons >= prod) {
                prod = (long) LONG.getAcquire(producer, 0L);   // more may have come meanwhile
                if (cons >= prod) {
                    break;
                }
            }
            long offset = cons & mask;
            int header = (int) INT.getAcquire(ring, offset);
            if ((header & BUSY_BIT) != 0) {
                break;
            }
            int length = header & ~(BUSY_BIT | DISCARD_BIT);
            cons += (length + RECORD_HEADER_BYTES + 7) & ~7L;
            if ((header & DISCARD_BIT) == 0) {
                handler.onRecord(ring, offset + RECORD_HEADER_BYTES, length);
                handled++;
                bytes += length;
            }
        }
        if (cons != start) {
            LONG.setRelease(consumer, 0L, cons);
            consumerPos = cons;
            recordsRead += handled;
            bytesRead += bytes;
        }
        return handled;
    }

    /**
     * Waits until the kernel signals data or timeoutMs passes. The consumer position is
     * already published by {@link #poll}. Returns false on timeout or interruption.
     */
    public boolean await(int timeoutMs) {
        int n = Libc.epollWait(epollFd, epollEvents, 4, timeoutMs);
        if (n < 0) {
            int errno = Libc.errno();
            if (errno == Libc.EINTR) {
                return false;
            }
            throw new BpfException("epoll_wait(ring)", errno, null, java.util.List.of());
        }
        return n > 0;
    }

    /** Bytes committed by producers and not yet consumed: the consumer's lag. */
    public long pendingBytes() {
        long prod = (long) LONG.getAcquire(producer, 0L);
        return Math.max(0, prod - consumerPos);
    }

    public long recordsRead() {
        return recordsRead;
    }

    public long bytesRead() {
        return bytesRead;
    }

    public long dataSize() {
        return dataSize;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        Libc.close(epollFd);
        Libc.munmap(producer, producer.byteSize());
        Libc.munmap(consumer, consumer.byteSize());
        arena.close();
    }
}
