package io.agentguard.event;

import io.agentguard.abi.KernelAbi.StdioSocket;
import io.agentguard.net.IpAddresses;
import io.agentguard.proto.v1.AddressFamily;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.StdioHow;
import io.agentguard.proto.v1.StdioSocketEvent;

import static io.agentguard.abi.KernelAbi.*;

/**
 * Flyweight over struct ag_stdio_socket: a remote inet socket put on an agent task's stdio
 * (dup2/dup3 onto 0-2, or a fork with one on stdin/stdout): a shell served over the network.
 */
public final class StdioSocketRecord extends RecordFlyweight<StdioSocketRecord> {
    /** enum ag_stdio_how */
    public int how() { return u16(StdioSocket.HOW); }
    public int fd() { return u16(StdioSocket.FD); }
    public int verdict() { return u16(StdioSocket.VERDICT); }
    /** AG_STDIO_* */
    public int flags() { return u16(StdioSocket.FLAGS); }
    public boolean loopback() { return (flags() & AG_STDIO_LOOPBACK) != 0; }
    public boolean childKilled() { return (flags() & AG_STDIO_CHILD_KILLED) != 0; }
    public int family() { return u16(StdioSocket.FAMILY); }
    public int protocol() { return u16(StdioSocket.PROTOCOL); }
    public int port() { return u16(StdioSocket.PORT); }
    public int state() { return u16(StdioSocket.STATE); }
    public int sourceFd() { return i32(StdioSocket.SOURCE_FD); }
    /** The peer address: 4 bytes (IPv4) or 16 (allocates: output only). */
    public byte[] address() { return bytes(StdioSocket.ADDR, family() == AG_AF_INET ? 4 : 16); }

    StdioSocketEvent.Builder toProto() {
        return StdioSocketEvent.newBuilder()
                .setHow(switch (how()) {
                    case AG_STDIO_DUP2 -> StdioHow.STDIO_HOW_DUP2;
                    case AG_STDIO_DUP3 -> StdioHow.STDIO_HOW_DUP3;
                    case AG_STDIO_FORK -> StdioHow.STDIO_HOW_FORK;
                    default -> StdioHow.STDIO_HOW_UNSPECIFIED;
                })
                .setFd(fd())
                .setSourceFd(sourceFd())
                .setFamily(SocketRecord.familyToProto(family()))
                .setProtocol(protocol())
                .setPeerAddr(IpAddresses.format(address()))
                .setPeerPort(port())
                .setState(state())
                .setLoopback(loopback())
                .setVerdict(Verdicts.toProto(verdict()))
                .setChildKilled(childKilled());
    }

    public int write(Event e) {
        StdioSocketEvent s = e.getStdioSocket();
        writeHeader(e, AG_REC_STDIO_SOCKET, StdioSocket.SIZEOF);
        putU16(StdioSocket.HOW, switch (s.getHow()) {
            case STDIO_HOW_DUP2 -> AG_STDIO_DUP2;
            case STDIO_HOW_DUP3 -> AG_STDIO_DUP3;
            case STDIO_HOW_FORK -> AG_STDIO_FORK;
            default -> 0;
        });
        putU16(StdioSocket.FD, s.getFd());
        putU16(StdioSocket.VERDICT, Verdicts.toKernel(s.getVerdict()));
        putU16(StdioSocket.FLAGS, (s.getLoopback() ? AG_STDIO_LOOPBACK : 0) | (s.getChildKilled() ? AG_STDIO_CHILD_KILLED : 0));
        putU16(StdioSocket.FAMILY, s.getFamily() == AddressFamily.ADDRESS_FAMILY_INET6 ? AG_AF_INET6 : AG_AF_INET);
        putU16(StdioSocket.PROTOCOL, s.getProtocol());
        putU16(StdioSocket.PORT, s.getPeerPort());
        putU16(StdioSocket.STATE, s.getState());
        putI32(StdioSocket.SOURCE_FD, s.getSourceFd());
        if (!s.getPeerAddr().isEmpty()) {
            putBytes(StdioSocket.ADDR, IpAddresses.parse(s.getPeerAddr()), 16);
        }
        return (int) StdioSocket.SIZEOF;
    }
}
