package io.agentguard.event;

import static io.agentguard.event.RecordLayout.*;

/** Flyweight over struct ag_tamper: the header describes the sender. */
public final class TamperRecord extends RecordFlyweight<TamperRecord> {
    public int targetPid() { return i32(TAMPER_TARGET_PID); }
    public int signal() { return i32(TAMPER_SIGNAL); }
    public int kind() { return u16(TAMPER_KIND); }
    public int verdict() { return u16(TAMPER_VERDICT); }
}
