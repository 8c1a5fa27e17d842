package io.agentguard.event;

import com.google.protobuf.ByteString;
import io.agentguard.abi.KernelAbi.AppProto;
import io.agentguard.net.IpAddresses;
import io.agentguard.proto.v1.AddressFamily;
import io.agentguard.proto.v1.AppProtoEvent;
import io.agentguard.proto.v1.Event;

import static io.agentguard.abi.KernelAbi.*;

/**
 * Flyweight over struct ag_app_proto: the first payload of an agent task's TCP connection spoke
 * SSH or stratum to a destination no allow entry named (payload.bpf.c). The header is the
 * connecting task's, taken at connect: the packet itself may leave in softirq context.
 */
public final class AppProtoRecord extends RecordFlyweight<AppProtoRecord> {
    public long sockCookie() { return i64(AppProto.SOCK_COOKIE); }
    public int family() { return u16(AppProto.FAMILY); }
    public int protocol() { return u16(AppProto.PROTOCOL); }
    public int port() { return u16(AppProto.PORT); }
    /** enum ag_app_proto_kind */
    public int proto() { return u16(AppProto.PROTO); }
    public boolean ssh() { return proto() == AG_APP_PROTO_SSH; }
    public boolean stratum() { return proto() == AG_APP_PROTO_STRATUM; }
    public int verdict() { return i32(AppProto.VERDICT); }
    public int firstLength() { return Math.min(i32(AppProto.FIRST_LEN), AG_APP_PROTO_BYTES); }
    /** The destination: 4 bytes (IPv4) or 16 (allocates: output only). */
    public byte[] address() { return bytes(AppProto.ADDR, family() == AG_AF_INET ? 4 : 16); }
    /** The first payload bytes (allocates: output only). */
    public byte[] firstBytes() { return bytes(AppProto.FIRST, firstLength()); }

    /** "ssh", "stratum" or "" (the rule field conn.app_proto's values). */
    public String protoName() {
        return switch (proto()) {
            case AG_APP_PROTO_SSH -> "ssh";
            case AG_APP_PROTO_STRATUM -> "stratum";
            default -> "";
        };
    }

    AppProtoEvent.Builder toProto() {
        return AppProtoEvent.newBuilder()
                .setFamily(SocketRecord.familyToProto(family()))
                .setAddress(IpAddresses.format(address()))
                .setPort(port())
                .setProto(switch (proto()) {
                    case AG_APP_PROTO_SSH -> io.agentguard.proto.v1.AppProto.APP_PROTO_SSH;
                    case AG_APP_PROTO_STRATUM -> io.agentguard.proto.v1.AppProto.APP_PROTO_STRATUM;
                    default -> io.agentguard.proto.v1.AppProto.APP_PROTO_UNSPECIFIED;
                })
                .setVerdict(Verdicts.toProto(verdict()))
                .setFirstBytes(ByteString.copyFrom(firstBytes()))
                .setSockCookie(sockCookie());
    }

    public int write(Event e) {
        AppProtoEvent a = e.getAppProto();
        writeHeader(e, AG_REC_APP_PROTO, AppProto.SIZEOF);
        putI64(AppProto.SOCK_COOKIE, a.getSockCookie());
        putU16(AppProto.FAMILY, a.getFamily() == AddressFamily.ADDRESS_FAMILY_INET6 ? AG_AF_INET6 : AG_AF_INET);
        putU16(AppProto.PROTOCOL, AG_IPPROTO_TCP);
        putU16(AppProto.PORT, a.getPort());
        putU16(AppProto.PROTO, switch (a.getProto()) {
            case APP_PROTO_SSH -> AG_APP_PROTO_SSH;
            case APP_PROTO_STRATUM -> AG_APP_PROTO_STRATUM;
            default -> 0;
        });
        putI32(AppProto.VERDICT, Verdicts.toKernel(a.getVerdict()));
        if (!a.getAddress().isEmpty()) {
            putBytes(AppProto.ADDR, IpAddresses.parse(a.getAddress()), 16);
        }
        byte[] first = a.getFirstBytes().toByteArray();
        putI32(AppProto.FIRST_LEN, Math.min(first.length, AG_APP_PROTO_BYTES));
        putBytes(AppProto.FIRST, first, AG_APP_PROTO_BYTES);
        return (int) AppProto.SIZEOF;
    }
}
