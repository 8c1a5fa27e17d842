package io.agentguard.event;

import static io.agentguard.event.RecordLayout.EXIT_EXIT_CODE;
import static io.agentguard.event.RecordLayout.EXIT_START_NS;

/** Flyweight over struct ag_exit; exit_code is a wait status. */
public final class ExitRecord extends RecordFlyweight<ExitRecord> {
    public int waitStatus() { return i32(EXIT_EXIT_CODE); }
    public long startNs() { return i64(EXIT_START_NS); }
    public int signal() { return waitStatus() & 0x7f; }
    public boolean coreDumped() { return (waitStatus() & 0x80) != 0; }
    public int exitCode() { return (waitStatus() >> 8) & 0xff; }
}
