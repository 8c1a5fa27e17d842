package io.agentguard.event;

import io.agentguard.abi.KernelAbi.Exit;
import io.agentguard.proto.v1.Event;

import static io.agentguard.abi.KernelAbi.AG_REC_EXIT;

/** Flyweight over struct ag_exit (the last thread of a process); exit_code is a wait status. */
public final class ExitRecord extends RecordFlyweight<ExitRecord> {
    public int waitStatus() { return i32(Exit.EXIT_CODE); }
    /** The process's start, CLOCK_MONOTONIC. */
    public long startNs() { return i64(Exit.START_NS); }
    public int signal() { return waitStatus() & 0x7f; }
    public boolean coreDumped() { return (waitStatus() & 0x80) != 0; }
    public int exitCode() { return (waitStatus() >> 8) & 0xff; }

    public int write(Event e) {
        writeHeader(e, AG_REC_EXIT, Exit.SIZEOF);
        putI32(Exit.EXIT_CODE, e.getExit().getWaitStatus());
        putI64(Exit.START_NS, e.getMonotonicNs() - e.getExit().getLifetimeNs());
        return (int) Exit.SIZEOF;
    }
}
