package io.agentguard.event;

import io.agentguard.proto.v1.Event;

/** Where decoded events go. Called on the consumer thread only. */
@FunctionalInterface
public interface EventSink {
    void accept(Event event);
}
