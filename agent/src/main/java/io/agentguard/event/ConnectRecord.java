package io.agentguard.event;

import static io.agentguard.event.RecordLayout.*;

/** Flyweight over struct ag_connect. */
public final class ConnectRecord extends RecordFlyweight<ConnectRecord> {
    public static final int AF_UNIX = 1;
    public static final int AF_INET = 2;
    public static final int AF_INET6 = 10;

    public long sockCookie() { return i64(CONNECT_SOCK_COOKIE); }
    public int family() { return u16(CONNECT_FAMILY); }
    public int sockType() { return u16(CONNECT_SOCK_TYPE); }
    public int protocol() { return u16(CONNECT_PROTOCOL); }
    public int port() { return u16(CONNECT_PORT); }
    public int verdict() { return i32(CONNECT_VERDICT); }
    public int flags() { return i32(CONNECT_FLAGS); }
    public boolean resultFollows() { return (flags() & CONNECT_RESULT_FOLLOWS) != 0; }
    public byte[] address() { return bytes(CONNECT_ADDR, family() == AF_INET ? 4 : 16); }
    public int unixPathLength() { return Math.min(i32(CONNECT_UNIX_PATH_LEN), UNIX_PATH_MAX); }
    public byte[] unixPath() { return bytes(CONNECT_UNIX_PATH, Math.max(0, unixPathLength())); }
}
