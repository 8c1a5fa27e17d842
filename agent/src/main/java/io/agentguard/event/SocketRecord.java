package io.agentguard.event;

import io.agentguard.abi.KernelAbi.Socket;
import io.agentguard.proto.v1.AddressFamily;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.SocketEvent;
import io.agentguard.proto.v1.SocketHook;
import io.agentguard.proto.v1.SocketType;

import static io.agentguard.abi.KernelAbi.*;

/** Flyweight over struct ag_socket: creation of a raw, ping or packet socket by an agent task. */
public final class SocketRecord extends RecordFlyweight<SocketRecord> {
    /** AG_AF_INET, AG_AF_INET6, AG_AF_PACKET */
    public int family() { return u16(Socket.FAMILY); }
    /** AG_SOCK_*, flags masked off */
    public int sockType() { return u16(Socket.TYPE); }
    public int protocol() { return u16(Socket.PROTOCOL); }
    public int verdict() { return u16(Socket.VERDICT); }
    /** enum ag_socket_hook */
    public int hook() { return u16(Socket.HOOK); }

    static AddressFamily familyToProto(int family) {
        return switch (family) {
            case AG_AF_INET -> AddressFamily.ADDRESS_FAMILY_INET;
            case AG_AF_INET6 -> AddressFamily.ADDRESS_FAMILY_INET6;
            case AG_AF_PACKET -> AddressFamily.ADDRESS_FAMILY_PACKET;
            case AG_AF_UNIX -> AddressFamily.ADDRESS_FAMILY_UNIX;
            default -> AddressFamily.ADDRESS_FAMILY_UNSPECIFIED;
        };
    }

    static SocketHook hookToProto(int hook) {
        return switch (hook) {
            case AG_SOCKET_HOOK_SOCK_CREATE -> SocketHook.SOCKET_HOOK_SOCK_CREATE;
            case AG_SOCKET_HOOK_LSM -> SocketHook.SOCKET_HOOK_LSM;
            case AG_SOCKET_HOOK_SYSCALL -> SocketHook.SOCKET_HOOK_SYSCALL;
            default -> SocketHook.SOCKET_HOOK_UNSPECIFIED;
        };
    }

    public int write(Event e) {
        SocketEvent s = e.getSocket();
        writeHeader(e, AG_REC_SOCKET, Socket.SIZEOF);
        putU16(Socket.FAMILY, switch (s.getFamily()) {
            case ADDRESS_FAMILY_INET -> AG_AF_INET;
            case ADDRESS_FAMILY_INET6 -> AG_AF_INET6;
            case ADDRESS_FAMILY_PACKET -> AG_AF_PACKET;
            case ADDRESS_FAMILY_UNIX -> AG_AF_UNIX;
            default -> 0;
        });
        putU16(Socket.TYPE, switch (s.getSocketType()) {
            case SOCKET_TYPE_STREAM -> AG_SOCK_STREAM;
            case SOCKET_TYPE_DGRAM -> AG_SOCK_DGRAM;
            case SOCKET_TYPE_RAW -> AG_SOCK_RAW;
            case SOCKET_TYPE_SEQPACKET -> AG_SOCK_SEQPACKET;
            case SOCKET_TYPE_OTHER -> AG_SOCK_PACKET;
            default -> 0;
        });
        putU16(Socket.PROTOCOL, s.getProtocol());
        putU16(Socket.VERDICT, Verdicts.toKernel(s.getVerdict()));
        putU16(Socket.HOOK, switch (s.getHook()) {
            case SOCKET_HOOK_SOCK_CREATE -> AG_SOCKET_HOOK_SOCK_CREATE;
            case SOCKET_HOOK_LSM -> AG_SOCKET_HOOK_LSM;
            case SOCKET_HOOK_SYSCALL -> AG_SOCKET_HOOK_SYSCALL;
            default -> 0;
        });
        putU16(Socket.RESERVED, 0);
        putI32(Socket.RESERVED2, 0);
        return (int) Socket.SIZEOF;
    }

    static SocketType typeToProto(int type) {
        return switch (type) {
            case AG_SOCK_STREAM -> SocketType.SOCKET_TYPE_STREAM;
            case AG_SOCK_DGRAM -> SocketType.SOCKET_TYPE_DGRAM;
            case AG_SOCK_RAW -> SocketType.SOCKET_TYPE_RAW;
            case AG_SOCK_SEQPACKET -> SocketType.SOCKET_TYPE_SEQPACKET;
            default -> SocketType.SOCKET_TYPE_OTHER;
        };
    }
}
