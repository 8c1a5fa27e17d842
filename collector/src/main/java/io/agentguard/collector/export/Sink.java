package io.agentguard.collector.export;

/**
 * Where an export delivers. send returns only once the receiver has confirmed the violation
 * (HTTP 2xx, an OTLP response without rejections, a syslog frame written to a live TCP
 * connection, a UDP datagram sent); it reports a failure as {@link Transient} (tried again,
 * forever, with backoff) or {@link Rejected} (the receiver or the formatting refuses this
 * violation: tried a few times, then dead-lettered). Called from one thread per export.
 */
public interface Sink extends AutoCloseable {
    void send(ExportStore.Row row) throws Transient, Rejected;

    @Override
    default void close() {
    }

    /** The receiver could not take it now (down, 5xx, 429, timeout): try again later. */
    final class Transient extends Exception {
        public Transient(String message, Throwable cause) {
            super(message, cause);
        }

        public Transient(String message) {
            super(message);
        }
    }

    /** This violation is refused (4xx but 429, a rejected log record, a formatting failure). */
    final class Rejected extends Exception {
        public Rejected(String message) {
            super(message);
        }
    }
}
