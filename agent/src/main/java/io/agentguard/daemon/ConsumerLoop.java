package io.agentguard.daemon;

import io.agentguard.bpf.BpfMap;
import io.agentguard.bpf.Libc;
import io.agentguard.bpf.RingBufferReader;
import io.agentguard.bpf.RingCorruptedException;
import io.agentguard.log.Log;
import io.agentguard.pipeline.ConsumerPipeline;
import io.agentguard.pipeline.LossMonitor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * The consumer thread ({@code agentguard-ring}): reads the ring into the pipeline in bounded
 * batches and decides when to wait. With batched wakeups it polls every wakeupDelayMs while
 * records come; after {@link #PARK_AFTER_IDLE_MS} without any it parks (ag_reader = 1: the
 * kernel wakes it for the next record) and waits long, so that an idle agent does not spin
 * on its timer. A record the pipeline fails on is skipped, counted and logged: one hostile
 * or malformed record never ends the thread. A ring whose positions no kernel writes is given
 * up to its producer position (logged as an error, counted as failed): the next record is read.
 */
final class ConsumerLoop {
    static final int BATCH_RECORDS = 4096;
    /** Kernel wakeups: the timeout only paces connect expiry. */
    private static final int WAIT_MS = 100;
    private static final int PARK_AFTER_IDLE_MS = 50;
    /** Parked, the reader relies on the kernel's wakeup; the timeout only paces connect expiry. */
    private static final int PARKED_WAIT_MS = 500;

    private final RingBufferReader reader;
    private final ConsumerPipeline pipeline;
    private final BpfMap readerMap;   // ag_reader; null with kernel wakeups
    private final LossMonitor losses;   // null: not watched (tests)
    private final int wakeupDelayMs;
    private final Log log;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final Thread thread;
    private volatile boolean running = true;
    private volatile long failedRecords;
    private volatile long corruptions;
    private volatile Throwable failure;
    /** CLOCK_MONOTONIC of the last loop turn (the systemd watchdog's proof of progress). */
    private volatile long heartbeatNs = System.nanoTime();

    /** @param readerMap ag_reader, for batched wakeups (wakeupDelayMs > 0); else null */
    ConsumerLoop(RingBufferReader reader, ConsumerPipeline pipeline, BpfMap readerMap, int wakeupDelayMs,
                 LossMonitor losses, Log log) {
        this.reader = reader;
        this.pipeline = pipeline;
        this.losses = losses;
        this.readerMap = wakeupDelayMs > 0 ? readerMap : null;
        this.wakeupDelayMs = wakeupDelayMs;
        this.log = log;
        this.thread = Thread.ofPlatform().name("agentguard-ring").unstarted(this::run);
    }

    void start() {
        thread.start();
    }

    /** When the loop last turned (System.nanoTime scale); stale once the thread has ended. */
    long heartbeatNs() {
        return thread.isAlive() && failure == null ? heartbeatNs : Long.MIN_VALUE / 2;
    }

    private void run() {
        MemorySegment ts = Arena.ofAuto().allocate(16, 8);
        try (Arena parkArena = Arena.ofConfined()) {
            MemorySegment parkKey = parkArena.allocate(4, 4);
            MemorySegment parkValue = parkArena.allocate(4, 4);
            int idlePollsBeforePark = readerMap == null ? 0 : Math.max(1, PARK_AFTER_IDLE_MS / wakeupDelayMs);
            int idlePolls = 0;
            while (running) {
                int n = poll();
                long nowNs = Libc.clockGettimeNs(Libc.CLOCK_MONOTONIC, ts);
                heartbeatNs = nowNs;   // one volatile store per batch, not per record
                watchLosses(nowNs);   // also in a flood, which is when records are dropped
                if (n < BATCH_RECORDS) {
                    expireConnects(nowNs);
                    pipeline.publishCounters();
                    if (n > 0) {
                        idlePolls = 0;
                    } else if (readerMap == null) {
                        reader.await(WAIT_MS);
                    } else if (++idlePolls < idlePollsBeforePark) {
                        reader.await(wakeupDelayMs);
                    } else {
                        parkValue.set(JAVA_INT, 0, 1);
                        readerMap.update(parkKey, parkValue);
                        // a record submitted before the flag was visible carried no wakeup: look again
                        if (poll() == 0) {
                            reader.await(PARKED_WAIT_MS);
                        }
                        parkValue.set(JAVA_INT, 0, 0);
                        readerMap.update(parkKey, parkValue);
                        idlePolls = 0;
                    }
                } else {
                    pipeline.publishCounters();
                }
            }
            while (poll() > 0) {
                // drain what the kernel committed before the hooks were detached
            }
            expireConnects(Long.MAX_VALUE);   // what is still held, as IN_PROGRESS
            pipeline.publishCounters();
        } catch (Throwable t) {
            failure = t;
            log.error("consumer thread failed: " + t);
        } finally {
            stopped.countDown();
        }
    }

    /**
     * One batch. The reader has already moved past a record the pipeline threw on (and
     * published that): it is lost to this agent, not re-read; it counts as one record done.
     */
    private int poll() {
        try {
            return reader.poll(pipeline, BATCH_RECORDS);
        } catch (RingCorruptedException e) {
            // not one bad record: every poll would stop at the same place, so start over
            long skipped = reader.skipPending();
            corruptions++;
            log.error(e.getMessage() + "; gave up the " + skipped + " bytes pending and read on from the next record"
                    + " (a kernel bug, or someone with BPF rights writing the ring)");
            return 1;
        } catch (RuntimeException | StackOverflowError e) {
            failed(e);
            return 1;
        }
    }

    private void watchLosses(long nowNs) {
        if (losses == null) {
            return;
        }
        try {
            losses.poll(nowNs, pipeline);
        } catch (RuntimeException e) {
            failed(e);
        }
    }

    /** Held TCP connects whose outcome is overdue go out; one the sink fails on is lost, counted. */
    private void expireConnects(long nowNs) {
        try {
            pipeline.expireConnects(nowNs);
        } catch (RuntimeException | StackOverflowError e) {
            failed(e);
        }
    }

    private void failed(Throwable e) {
        failedRecords++;   // single writer: this thread
        // where, not the message: the same fault on a flood of records is one line per 10 s (Log)
        StackTraceElement[] at = e.getStackTrace();
        log.warn("a ring record failed in the pipeline and was skipped: " + e.getClass().getName()
                + (at.length > 0 ? " at " + at[0] : "") + " (status and metrics count them)");
    }

    /** Stops consuming after draining what is committed; waits up to timeoutMs for that. */
    void stop(long timeoutMs) {
        running = false;
        try {
            if (!stopped.await(timeoutMs, TimeUnit.MILLISECONDS)) {
                log.warn("consumer thread did not stop within " + timeoutMs + " ms");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Whether the thread still runs (may read the ring). */
    boolean alive() {
        if (stopped.getCount() == 0) {
            try {
                thread.join(1000);   // it has left its loop: let it end
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return thread.isAlive();
    }

    void awaitTermination() throws InterruptedException {
        stopped.await();
    }

    /** Records the pipeline failed on, skipped; and each time the ring was found corrupt, one. */
    long failedRecords() {
        return failedRecords + corruptions;
    }

    /** What ended the thread, or null. */
    Throwable failure() {
        return failure;
    }

    /** Whether the reader is parked (ag_reader = 1: the next record wakes it); for tests. */
    boolean parked() {
        if (readerMap == null) {
            return false;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment key = a.allocate(4, 4);
            MemorySegment value = a.allocate(4, 4);
            return readerMap.lookup(key, value) && value.get(JAVA_INT, 0) == 1;
        }
    }
}
