package io.agentguard.bpf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * Reads a BPF ring buffer map in place: maps the consumer page read-write, the producer page
 * and the twice-mapped data area read-only, walks them with a {@link RingBufferWalk} (records
 * handed to a {@link RecordHandler} as (segment, offset, length) without copying or
 * allocating), and waits on the map fd with epoll. Single consumer: only the owning thread
 * calls {@link #poll} and {@link #await}.
 */
public final class RingBufferReader implements AutoCloseable {
    /** Receives one committed record; must not keep the segment beyond the call. */
    @FunctionalInterface
    public interface RecordHandler {
        void onRecord(MemorySegment data, long offset, int length);
    }

    private final MemorySegment consumer;   // consumer_pos at 0, RW
    private final MemorySegment producer;   // producer_pos at 0, then the data area twice, RO
    private final RingBufferWalk walk;
    private final int epollFd;
    private final MemorySegment epollEvents;
    private final Arena arena = Arena.ofShared();
    private boolean closed;

    public RingBufferReader(BpfMap ring) {
        int mapFd = ring.fd();
        long pageSize = Libc.pageSize();
        long dataSize = Integer.toUnsignedLong(ring.maxEntries());
        if (Long.bitCount(dataSize) != 1 || dataSize % pageSize != 0) {
            throw new IllegalArgumentException("ring buffer size " + dataSize + " is not a power of two multiple of the page size");
        }
        MemorySegment cons = Libc.mmap(pageSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, mapFd, 0);
        if (cons.address() == Libc.MAP_FAILED) {
            throw new BpfException("mmap(ring consumer page)", Libc.errno(), ring.name(), List.of());
        }
        long producerLength = pageSize + 2 * dataSize;
        MemorySegment prod = Libc.mmap(producerLength, Libc.PROT_READ, Libc.MAP_SHARED, mapFd, pageSize);
        if (prod.address() == Libc.MAP_FAILED) {
            int errno = Libc.errno();
            Libc.munmap(cons, pageSize);
            throw new BpfException("mmap(ring producer pages)", errno, ring.name(), List.of());
        }
        this.consumer = cons.reinterpret(pageSize);
        this.producer = prod.reinterpret(producerLength);
        this.walk = new RingBufferWalk(consumer, producer, producer.asSlice(pageSize, 2 * dataSize), dataSize);
        this.epollFd = Libc.epollCreate1(Libc.EPOLL_CLOEXEC);
        if (epollFd < 0) {
            int errno = Libc.errno();
            unmap();
            throw new BpfException("epoll_create1", errno, null, List.of());
        }
        this.epollEvents = arena.allocate(Libc.EPOLL_EVENT_SIZE * 4, 8);
        MemorySegment event = arena.allocate(Libc.EPOLL_EVENT_SIZE, 8);
        event.set(ValueLayout.JAVA_INT_UNALIGNED, 0, Libc.EPOLLIN);   // level-triggered, never EPOLLET
        event.set(ValueLayout.JAVA_LONG_UNALIGNED, 4, 0L);
        if (Libc.epollCtl(epollFd, Libc.EPOLL_CTL_ADD, mapFd, event) < 0) {
            int errno = Libc.errno();
            close();
            throw new BpfException("epoll_ctl(ADD ring fd)", errno, ring.name(), List.of());
        }
    }

    /**
     * Hands up to {@code maxRecords} committed records to the handler and publishes the new
     * consumer position; returns the number handed over. Never spins on a record still being
     * written. If the handler throws, the record it threw on stays consumed and the exception
     * propagates. Positions no kernel writes (a record running past producer_pos, producers a
     * ring ahead) throw IllegalStateException without moving: see {@link RingBufferWalk}.
     */
    public int poll(RecordHandler handler, int maxRecords) {
        return walk.poll(handler, maxRecords);
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
            throw new BpfException("epoll_wait(ring)", errno, null, List.of());
        }
        return n > 0;
    }

    /**
     * After a {@link RingCorruptedException}: gives up what is pending and starts again at the
     * next record the kernel writes. Consumer thread only; returns the bytes given up.
     */
    public long skipPending() {
        return walk.skipPending();
    }

    /** Bytes reserved by producers and not yet consumed: the consumer's lag. Any thread. */
    public long pendingBytes() {
        return walk.pendingBytes();
    }

    public long dataSize() {
        return walk.dataSizeBytes();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        Libc.close(epollFd);
        unmap();
    }

    private void unmap() {
        Libc.munmap(producer, producer.byteSize());
        Libc.munmap(consumer, consumer.byteSize());
        arena.close();
    }
}
