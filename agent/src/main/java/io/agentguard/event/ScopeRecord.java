package io.agentguard.event;

import io.agentguard.abi.KernelAbi.Scope;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ScopeEvent;
import io.agentguard.proto.v1.ScopeExit;

import static io.agentguard.abi.KernelAbi.*;

/** Flyweight over struct ag_scope: a watched task left the agent cgroups; the header describes the mover. */
public final class ScopeRecord extends RecordFlyweight<ScopeRecord> {
    public long originCgroupId() { return i64(Scope.ORIGIN_CGROUP_ID); }
    public long destCgroupId() { return i64(Scope.DEST_CGROUP_ID); }
    public int taskPid() { return i32(Scope.TASK_PID); }
    public int taskTid() { return i32(Scope.TASK_TID); }
    /** enum ag_scope_how */
    public int how() { return u16(Scope.HOW); }
    public int verdict() { return u16(Scope.VERDICT); }
    /** AG_SCOPE_* */
    public int flags() { return i32(Scope.FLAGS); }
    public boolean moverWatched() { return (flags() & AG_SCOPE_MOVER_WATCHED) != 0; }
    /** The kernel could not signal the task (kernels before 6.13): the agent must kill it. */
    public boolean killByAgent() { return (flags() & AG_SCOPE_KILL_BY_AGENT) != 0; }

    public int write(Event e) {
        ScopeEvent s = e.getScope();
        writeHeader(e, AG_REC_SCOPE, Scope.SIZEOF);
        putI64(Scope.ORIGIN_CGROUP_ID, s.getOriginCgroupId());
        putI64(Scope.DEST_CGROUP_ID, s.getDestCgroupId());
        putI32(Scope.TASK_PID, s.getTaskPid());
        putI32(Scope.TASK_TID, s.getTaskTid());
        putU16(Scope.HOW, s.getHow() == ScopeExit.SCOPE_EXIT_CLONE_INTO_CGROUP ? AG_SCOPE_CLONE_INTO_CGROUP
                : AG_SCOPE_CGROUP_WRITE);
        putU16(Scope.VERDICT, Verdicts.toKernel(s.getVerdict()));
        putI32(Scope.FLAGS, (s.getMoverWatched() ? AG_SCOPE_MOVER_WATCHED : 0)
                | (s.getKilledByAgent() ? AG_SCOPE_KILL_BY_AGENT : 0));
        return (int) Scope.SIZEOF;
    }
}
