package io.agentguard.event;

import static io.agentguard.event.RecordLayout.*;

/** Flyweight over struct ag_connect_result: a TCP handshake outcome, joined by cookie. */
public final class ConnectResultRecord extends RecordFlyweight<ConnectResultRecord> {
    public long sockCookie() { return i64(CONNECT_RESULT_SOCK_COOKIE); }
    public int error() { return i32(CONNECT_RESULT_ERROR); }
    public int oldState() { return u16(CONNECT_RESULT_OLD_STATE); }
    public int newState() { return u16(CONNECT_RESULT_NEW_STATE); }
    /** connect()'s return value (sys_exit_connect) rather than a TCP state change. */
    public boolean fromSyscall() { return oldState() == 0 && newState() == 0; }
}
