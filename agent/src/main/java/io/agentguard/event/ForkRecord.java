package io.agentguard.event;

import static io.agentguard.event.RecordLayout.FORK_CHILD_PID;

/** Flyweight over struct ag_fork: the header describes the parent. */
public final class ForkRecord extends RecordFlyweight<ForkRecord> {
    public int childPid() { return i32(FORK_CHILD_PID); }
}
