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

    public int write(Event e) {
        TamperEvent t = e.getTamper();
        writeHeader(e, AG_REC_TAMPER, Tamper.SIZEOF);
        putI32(Tamper.TARGET_PID, t.getTargetPid());
        putI32(Tamper.SIGNAL, t.getSignal());
        putU16(Tamper.KIND, t.getKind() == TamperKind.TAMPER_KIND_PTRACE ? AG_TAMPER_PTRACE : AG_TAMPER_SIGNAL);
        putU16(Tamper.VERDICT, Verdicts.toKernel(t.getVerdict()));
        return (int) Tamper.SIZEOF;
    }
}
