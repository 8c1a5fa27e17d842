package io.agentguard.event;

import io.agentguard.proto.v1.Event;

/** Where decoded events go: from the consumer thread, and action events from the enforcer's. Thread-safe. */
@FunctionalInterface
public interface EventSink {
    void accept(Event event);
}
