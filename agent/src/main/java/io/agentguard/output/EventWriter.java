package io.agentguard.output;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import io.agentguard.config.OutputFormat;
import io.agentguard.event.EventSink;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Violation;

import java.io.IOException;
import java.io.Writer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Writes events and violations as JSON lines (protobuf JSON mapping of Event and
 * Violation; a violation line has a "rule" key, an event line does not) or readable text, on its own thread
 * behind a bounded queue. When the queue is full the consumer thread waits: the
 * back-pressure reaches the kernel ring, whose losses are counted there, so nothing is
 * dropped silently between the ring and the output.
 * <p>
 * Written to the journal (stdout under systemd), each line starts with an sd-daemon priority
 * prefix ("&lt;2&gt;"): the violation's priority (EMERGENCY 0 .. DEBUG 7), events at info (6),
 * so that {@code journalctl -p crit} finds critical violations. Elsewhere lines are bare.
 */
public final class EventWriter implements EventSink, AutoCloseable {
    private static final Event POISON = Event.getDefaultInstance();

    private final BlockingQueue<Message> queue;
    private final Writer out;
    private final OutputFormat format;
    private final boolean journalPrefix;
    private final JsonFormat.Printer json = JsonFormat.printer().omittingInsignificantWhitespace();
    private final Thread thread;
    private volatile long written;
    private volatile IOException failure;

    public EventWriter(Writer out, OutputFormat format, int queueCapacity) {
        this(out, format, queueCapacity, false);
    }

    /** {@code journalPrefix}: out is the journal's stream ({@link JournalStream#isStdout()}). */
    public EventWriter(Writer out, OutputFormat format, int queueCapacity, boolean journalPrefix) {
        this.out = out;
        this.format = format;
        this.journalPrefix = journalPrefix;
        this.queue = new ArrayBlockingQueue<>(queueCapacity);
        this.thread = Thread.ofPlatform().name("agentguard-output").daemon(true).start(this::run);
    }

    @Override
    public void accept(Event event) {
        put(event);
    }

    public void acceptViolation(Violation violation) {
        put(violation);
    }

    private void put(Message m) {
        try {
            queue.put(m);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public long written() {
        return written;
    }

    public int queued() {
        return queue.size();
    }

    private void run() {
        List<Message> batch = new ArrayList<>(256);
        StringBuilder line = new StringBuilder(512);
        try {
            while (true) {
                Message first = queue.poll(200, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch, 255);
                for (Message e : batch) {
                    if (e == POISON) {
                        out.flush();
                        return;
                    }
                    line.setLength(0);
                    if (journalPrefix) {
                        line.append('<').append(syslogPriority(e)).append('>');
                    }
                    if (format == OutputFormat.JSON) {
                        json.appendTo(e, line);
                    } else {
                        if (e instanceof Violation v) {
                            TextFormatter.append(v, line);
                        } else {
                            TextFormatter.append((Event) e, line);
                        }
                    }
                    line.append('\n');
                    out.append(line);
                    written++;
                }
                batch.clear();
                if (queue.isEmpty()) {
                    out.flush();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException(e);
        } catch (IOException e) {
            failure = e;
            System.err.println("agentguard: cannot write events: " + e.getMessage());
        }
    }

    /** syslog level 0..7 of a line: the violation's priority (unspecified: notice), events info. */
    static int syslogPriority(Message m) {
        if (m instanceof Violation v) {
            int p = v.getPriorityValue();   // PRIORITY_EMERGENCY = 1 .. PRIORITY_DEBUG = 8
            return p >= 1 && p <= 8 ? p - 1 : 5;
        }
        return 6;
    }

    /** Writes everything queued, then stops. */
    @Override
    public void close() {
        if (failure == null && thread.isAlive()) {
            accept(POISON);
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            out.flush();
        } catch (IOException ignored) {
            // reported by the writer thread already
        }
    }
}
