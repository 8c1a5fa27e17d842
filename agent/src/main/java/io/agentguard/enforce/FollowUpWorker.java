package io.agentguard.enforce;

import io.agentguard.log.Log;
import io.agentguard.proto.v1.Event;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * The queue and thread behind an exec follow-up ({@link io.agentguard.pipeline.ConsumerPipeline.ExecFollowUp}):
 * the consumer thread {@link #offer}s an exec and never blocks; when the bounded queue is
 * full the exec is dropped and counted ({@link #dropped}). One named daemon thread takes the
 * execs in order and hands each to the work; a RuntimeException from the work is logged as
 * "WHAT of pid N failed: ..." and the thread goes on with the next.
 *
 * <p>Start it last in the owner's constructor: the thread starts here, and sees the owner's
 * fields as they were set before.
 */
final class FollowUpWorker implements AutoCloseable {
    private final BlockingQueue<Event> queue;
    private final Consumer<Event> work;
    private final String what;
    private final Log log;
    private final Thread thread;
    private final AtomicLong dropped = new AtomicLong();

    FollowUpWorker(String threadName, int capacity, String what, Log log, Consumer<Event> work) {
        this.queue = new ArrayBlockingQueue<>(capacity);
        this.work = work;
        this.what = what;
        this.log = log;
        this.thread = new Thread(this::run, threadName);
        thread.setDaemon(true);
        thread.start();
    }

    /** Queues an exec without blocking; when the queue is full the exec is dropped and counted. */
    void offer(Event exec) {
        if (!queue.offer(exec)) {
            dropped.incrementAndGet();
        }
    }

    long dropped() {
        return dropped.get();
    }

    /** Interrupts the thread and waits up to 5 s for it; execs still queued are not judged. */
    @Override
    public void close() {
        thread.interrupt();
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void run() {
        while (!Thread.currentThread().isInterrupted()) {
            Event e;
            try {
                e = queue.poll(1, TimeUnit.SECONDS);
            } catch (InterruptedException ex) {
                return;
            }
            if (e == null) {
                continue;
            }
            try {
                work.accept(e);
            } catch (RuntimeException ex) {
                log.warn(what + " of pid " + e.getProcess().getPid() + " failed: " + ex);
            }
        }
    }
}
