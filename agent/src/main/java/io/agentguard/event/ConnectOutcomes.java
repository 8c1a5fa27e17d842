package io.agentguard.event;

import io.agentguard.proto.v1.ConnectOutcome;
import io.agentguard.proto.v1.Event;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Joins TCP connect records with their handshake outcome (matched by socket cookie) so
 * that one connect event carries its outcome. A connect whose outcome has not arrived
 * within the timeout is emitted as IN_PROGRESS. Consumer thread only.
 */
final class ConnectOutcomes {
    private static final int ECONNREFUSED = 111;
    private static final int EINPROGRESS = 115;

    private record Pending(Event.Builder event, long deadlineNs) {
    }

    private final Map<Long, Pending> pending = new HashMap<>();
    private final ArrayDeque<Long> order = new ArrayDeque<>();
    private final long timeoutNs;
    private final int maxPending;

    ConnectOutcomes(long timeoutNs, int maxPending) {
        this.timeoutNs = timeoutNs;
        this.maxPending = maxPending;
    }

    void hold(long cookie, Event.Builder event, long nowNs, EventSink sink) {
        if (pending.size() >= maxPending) {
            expireOldest(sink);
        }
        Pending previous = pending.put(cookie, new Pending(event, nowNs + timeoutNs));
        if (previous != null) {
            emit(previous.event, ConnectOutcome.CONNECT_OUTCOME_IN_PROGRESS, 0, 0, sink);
        } else {
            order.addLast(cookie);
        }
    }

    /**
     * Completes a pending connect. A non-blocking connect() returns EINPROGRESS: the
     * handshake outcome is still to come, so it stays pending. Returns false when no
     * connect with this cookie is pending.
     */
    boolean complete(long cookie, int error, boolean fromSyscall, boolean closed, long outcomeNs, EventSink sink) {
        if (fromSyscall && error == EINPROGRESS) {
            return pending.containsKey(cookie);
        }
        Pending p = pending.remove(cookie);
        if (p == null) {
            return false;
        }
        // SYN_SENT -> CLOSE without a socket error: closed before the handshake ended.
        ConnectOutcome outcome = closed && error == 0 ? ConnectOutcome.CONNECT_OUTCOME_ERROR
                : error == 0 ? ConnectOutcome.CONNECT_OUTCOME_CONNECTED
                : error == ECONNREFUSED ? ConnectOutcome.CONNECT_OUTCOME_REFUSED
                : ConnectOutcome.CONNECT_OUTCOME_ERROR;
        emit(p.event, outcome, error, outcomeNs, sink);
        return true;
    }

    /** Emits connects whose outcome is overdue; nowNs is CLOCK_MONOTONIC. */
    void expire(long nowNs, EventSink sink) {
        while (!order.isEmpty()) {
            Long cookie = order.peekFirst();
            Pending p = pending.get(cookie);
            if (p == null) {
                order.pollFirst();
                continue;
            }
            if (p.deadlineNs > nowNs) {
                return;
            }
            order.pollFirst();
            pending.remove(cookie);
            emit(p.event, ConnectOutcome.CONNECT_OUTCOME_IN_PROGRESS, 0, 0, sink);
        }
    }

    /** On shutdown: nothing held back is lost. */
    void flush(EventSink sink) {
        expire(Long.MAX_VALUE, sink);
    }

    int size() {
        return pending.size();
    }

    private void expireOldest(EventSink sink) {
        while (!order.isEmpty()) {
            Pending p = pending.remove(order.pollFirst());
            if (p != null) {
                emit(p.event, ConnectOutcome.CONNECT_OUTCOME_IN_PROGRESS, 0, 0, sink);
                return;
            }
        }
    }

    private static void emit(Event.Builder event, ConnectOutcome outcome, int error, long outcomeNs, EventSink sink) {
        var connect = event.getConnectBuilder().setOutcome(outcome);
        if (error != 0) {
            connect.setErrorNumber(error).setErrorName(io.agentguard.bpf.Errno.name(error));
        }
        if (outcomeNs != 0) {
            connect.setOutcomeMonotonicNs(outcomeNs);
        }
        sink.accept(event.build());
    }
}
