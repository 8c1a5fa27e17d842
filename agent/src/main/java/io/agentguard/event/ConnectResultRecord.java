package io.agentguard.event;

import io.agentguard.abi.KernelAbi.ConnectResult;

/**
 * Flyweight over struct ag_connect_result: a TCP handshake outcome, joined by socket cookie,
 * or connect()'s return value. Produced in softirq context: only time and cpu in the header.
 */
public final class ConnectResultRecord extends RecordFlyweight<ConnectResultRecord> {
    public long sockCookie() { return i64(ConnectResult.SOCK_COOKIE); }
    public int error() { return i32(ConnectResult.ERROR); }
    public int oldState() { return u16(ConnectResult.OLD_STATE); }
    public int newState() { return u16(ConnectResult.NEW_STATE); }
    /** connect()'s return value (sys_exit_connect) rather than a TCP state change. */
    public boolean fromSyscall() { return oldState() == 0 && newState() == 0; }
}
