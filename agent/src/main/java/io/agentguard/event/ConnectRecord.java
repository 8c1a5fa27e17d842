package io.agentguard.event;

import io.agentguard.abi.KernelAbi.Connect;
import io.agentguard.net.IpAddresses;
import io.agentguard.proto.v1.ConnectEvent;
import io.agentguard.proto.v1.Event;

import java.nio.charset.StandardCharsets;

import static io.agentguard.abi.KernelAbi.*;

/** Flyweight over struct ag_connect: a connect() or a denied/would-block sendmsg(). */
public final class ConnectRecord extends RecordFlyweight<ConnectRecord> {
    public long sockCookie() { return i64(Connect.SOCK_COOKIE); }
    /** AG_AF_* */
    public int family() { return u16(Connect.FAMILY); }
    public int sockType() { return u16(Connect.SOCK_TYPE); }
    public int protocol() { return u16(Connect.PROTOCOL); }
    public int port() { return u16(Connect.PORT); }
    public int verdict() { return i32(Connect.VERDICT); }
    /** AG_CONNECT_* */
    public int flags() { return i32(Connect.FLAGS); }
    public boolean resultFollows() { return (flags() & AG_CONNECT_RESULT_FOLLOWS) != 0; }
    public boolean sendmsg() { return (flags() & AG_CONNECT_SENDMSG) != 0; }
    public boolean tunnel() { return (flags() & AG_CONNECT_TUNNEL) != 0; }
    public boolean shell() { return (flags() & AG_CONNECT_SHELL) != 0; }
    /** An egress allow entry decided, not the policy's default. */
    public boolean explicitAllow() { return (flags() & AG_CONNECT_EXPLICIT_ALLOW) != 0; }
    public byte[] address() { return bytes(Connect.ADDR, family() == AG_AF_INET ? 4 : 16); }

    /** The destination as 128 bits (network order, IPv4 as ::ffff:a.b.c.d): high half. */
    public long addressHigh() {
        return family() == AG_AF_INET ? 0 : Long.reverseBytes(i64(Connect.ADDR));
    }

    /** Low half of {@link #addressHigh()}. */
    public long addressLow() {
        return family() == AG_AF_INET ? 0x0000_ffff_0000_0000L | Integer.toUnsignedLong(Integer.reverseBytes(i32(Connect.ADDR)))
                : Long.reverseBytes(i64(Connect.ADDR + 8));
    }

    /** Unix: the listener's owner is outside the agent cgroups (the peer fields are set). */
    public boolean unixOutside() { return (flags() & AG_CONNECT_UNIX_OUTSIDE) != 0; }
    public int peerPid() { return i32(Connect.PEER_PID); }
    public int peerUid() { return i32(Connect.PEER_UID); }
    public long peerCgroupId() { return i64(Connect.PEER_CGROUP_ID); }
    public String peerComm() { return cString(Connect.PEER_COMM, AG_COMM_LEN); }

    public int unixPathLength() { return Math.min(i32(Connect.UNIX_PATH_LEN), AG_UNIX_PATH_MAX); }
    public byte[] unixPath() { return bytes(Connect.UNIX_PATH, Math.max(0, unixPathLength())); }

    /** The Unix socket path; abstract names (leading NUL) with a leading '@', as ss(8) shows them. */
    public String unixPathText() {
        byte[] raw = unixPath();
        if (raw.length > 0 && raw[0] == 0) {
            return "@" + new String(raw, 1, raw.length - 1, StandardCharsets.UTF_8);
        }
        int end = 0;
        while (end < raw.length && raw[end] != 0) {
            end++;
        }
        return new String(raw, 0, end, StandardCharsets.UTF_8);
    }

    public int write(Event e) {
        ConnectEvent c = e.getConnect();
        writeHeader(e, AG_REC_CONNECT, Connect.SIZEOF);
        putI64(Connect.SOCK_COOKIE, c.getSocketCookie());
        int family = switch (c.getFamily()) {
            case ADDRESS_FAMILY_INET -> AG_AF_INET;
            case ADDRESS_FAMILY_INET6 -> AG_AF_INET6;
            case ADDRESS_FAMILY_UNIX -> AG_AF_UNIX;
            default -> 0;
        };
        putU16(Connect.FAMILY, family);
        putU16(Connect.SOCK_TYPE, switch (c.getSocketType()) {
            case SOCKET_TYPE_STREAM -> AG_SOCK_STREAM;
            case SOCKET_TYPE_DGRAM -> AG_SOCK_DGRAM;
            case SOCKET_TYPE_RAW -> AG_SOCK_RAW;
            case SOCKET_TYPE_SEQPACKET -> AG_SOCK_SEQPACKET;
            default -> 0;
        });
        putU16(Connect.PROTOCOL, c.getProtocol());
        putU16(Connect.PORT, c.getPort());
        putI32(Connect.VERDICT, Verdicts.toKernel(c.getVerdict()));
        // an owner found after the connect was not in the kernel's map: no flag in the record
        boolean outside = c.hasUnixOutsideOwner() && !c.getUnixOutsideOwner().getFoundAfter();
        putI32(Connect.FLAGS, (c.getSendmsg() ? AG_CONNECT_SENDMSG : 0) | (outside ? AG_CONNECT_UNIX_OUTSIDE : 0)
                | (c.getTunnel() ? AG_CONNECT_TUNNEL : 0) | (c.getShell() ? AG_CONNECT_SHELL : 0)
                | (c.getExplicitAllow() ? AG_CONNECT_EXPLICIT_ALLOW : 0));
        putI32(Connect.PEER_PID, outside ? c.getUnixOutsideOwner().getPid() : 0);
        putI32(Connect.PEER_UID, outside ? c.getUnixOutsideOwner().getUid() : 0);
        putI64(Connect.PEER_CGROUP_ID, outside ? c.getUnixOutsideOwner().getCgroupId() : 0);
        putString(Connect.PEER_COMM, outside ? c.getUnixOutsideOwner().getComm() : "", AG_COMM_LEN);
        if (family == AG_AF_UNIX) {
            String path = c.getUnixPath();
            byte[] raw = (path.startsWith("@") ? "\0" + path.substring(1) : path).getBytes(StandardCharsets.UTF_8);
            putI32(Connect.UNIX_PATH_LEN, putBytes(Connect.UNIX_PATH, raw, AG_UNIX_PATH_MAX));
        } else if (family != 0) {
            byte[] raw = IpAddresses.parse(c.getAddress());
            if (family == AG_AF_INET6 && raw.length == 4) {
                raw = IpAddresses.mapped(raw);
            }
            putBytes(Connect.ADDR, raw, 16);
        }
        return (int) Connect.SIZEOF;
    }
}
