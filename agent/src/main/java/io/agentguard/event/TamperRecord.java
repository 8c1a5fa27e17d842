package io.agentguard.event;

import io.agentguard.abi.KernelAbi.Tamper;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.TamperEvent;
import io.agentguard.proto.v1.TamperKind;

import static io.agentguard.abi.KernelAbi.*;

/** Flyweight over struct ag_tamper: the header describes the sender. */
public final class TamperRecord extends RecordFlyweight<TamperRecord> {
    public int targetPid() { return i32(Tamper.TARGET_PID); }
    public int signal() { return i32(Tamper.SIGNAL); }
    /** enum ag_tamper_kind */
    public int kind() { return u16(Tamper.KIND); }
    public int verdict() { return u16(Tamper.VERDICT); }
    /** AG_TAMPER_* flags */
    public int flags() { return i32(Tamper.FLAGS); }
    public boolean killByAgent() { return (flags() & AG_TAMPER_KILL_BY_AGENT) != 0; }
    /** Sent through file-async I/O: the sender (who set F_SETOWN) is unknown; the header is the I/O's context. */
    public boolean fasync() { return (flags() & AG_TAMPER_FASYNC) != 0; }
    public int targetTid() { return i32(Tamper.TARGET_TID); }
    public long targetCgroupId() { return i64(Tamper.TARGET_CGROUP_ID); }
    public int value() { return i32(Tamper.VALUE); }

    /** enum ag_tamper_kind to the proto kind (the numbers agree). */
    public static TamperKind kindToProto(int kind) {
        TamperKind k = TamperKind.forNumber(kind);
        return k == null || kind == AG_TAMPER_STATE_DRIFT ? TamperKind.TAMPER_KIND_UNSPECIFIED : k;
    }

    public int write(Event e) {
        TamperEvent t = e.getTamper();
        writeHeader(e, AG_REC_TAMPER, Tamper.SIZEOF);
        putI32(Tamper.TARGET_PID, t.getTargetPid());
        putI32(Tamper.SIGNAL, t.getSignal());
        putU16(Tamper.KIND, t.getKind() == TamperKind.TAMPER_KIND_UNSPECIFIED
                || t.getKind() == TamperKind.TAMPER_KIND_STATE_DRIFT ? AG_TAMPER_SIGNAL : t.getKindValue());
        putU16(Tamper.VERDICT, Verdicts.toKernel(t.getVerdict()));
        putI32(Tamper.FLAGS, (t.getKilledByAgent() ? AG_TAMPER_KILL_BY_AGENT : 0) | (t.getContinued() ? AG_TAMPER_CONTINUED : 0)
                | (t.getFasync() ? AG_TAMPER_FASYNC : 0));
        putI32(Tamper.TARGET_TID, t.getTargetTid());
        putI64(Tamper.TARGET_CGROUP_ID, t.getTargetCgroupId());
        putI32(Tamper.VALUE, t.getValue());
        return (int) Tamper.SIZEOF;
    }
}
