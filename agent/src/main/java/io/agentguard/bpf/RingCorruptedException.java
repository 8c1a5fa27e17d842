package io.agentguard.bpf;

/**
 * The ring's positions or a record's length word are what no kernel writes (producers a ring
 * ahead, a record past producer_pos): the walk stops before the record and does not move. Not a
 * fault of one record, so skipping it would not help; {@link RingBufferReader#skipPending()}
 * starts over at what the kernel writes next.
 */
public final class RingCorruptedException extends IllegalStateException {
    RingCorruptedException(String message) {
        super(message);
    }
}
