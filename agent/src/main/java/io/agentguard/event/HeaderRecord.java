package io.agentguard.event;

/** Flyweight over the ag_header of any record. */
public final class HeaderRecord extends RecordFlyweight<HeaderRecord> {
}
