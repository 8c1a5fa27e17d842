package io.agentguard.event;

import io.agentguard.abi.KernelAbi.Fork;
import io.agentguard.proto.v1.Event;

import static io.agentguard.abi.KernelAbi.AG_REC_FORK;

/** Flyweight over struct ag_fork: the header describes the parent. */
public final class ForkRecord extends RecordFlyweight<ForkRecord> {
    public int childPid() { return i32(Fork.CHILD_PID); }

    public int write(Event e) {
        writeHeader(e, AG_REC_FORK, Fork.SIZEOF);
        putI32(Fork.CHILD_PID, e.getFork().getChildPid());
        return (int) Fork.SIZEOF;
    }
}
