package io.agentguard.event;

import io.agentguard.abi.KernelAbi;
import io.agentguard.proto.v1.Event;

import java.lang.foreign.MemorySegment;

import static io.agentguard.abi.KernelAbi.*;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * One flyweight per record type over the record being processed. The consumer thread wraps
 * each ring record once ({@link #wrap}, which also validates its header) and every stage,
 * the process table, the rule fields and the event decoder, reads it through the same
 * instance: {@link #header} always, and the flyweight of the record's type.
 */
public final class Records {
    /** Smallest and largest valid size of each record type; index = type. */
    private static final long[] MIN_SIZE = new long[AG_REC_TYPE_MAX + 1];
    private static final long[] MAX_SIZE = new long[AG_REC_TYPE_MAX + 1];

    static {
        sizes(AG_REC_EXEC, KernelAbi.Exec.ARGS, KernelAbi.Exec.SIZEOF);   // argv is sent as long as it is
        sizes(AG_REC_FORK, KernelAbi.Fork.SIZEOF, KernelAbi.Fork.SIZEOF);
        sizes(AG_REC_EXIT, KernelAbi.Exit.SIZEOF, KernelAbi.Exit.SIZEOF);
        sizes(AG_REC_CONNECT, KernelAbi.Connect.SIZEOF, KernelAbi.Connect.SIZEOF);
        sizes(AG_REC_CONNECT_RESULT, KernelAbi.ConnectResult.SIZEOF, KernelAbi.ConnectResult.SIZEOF);
        sizes(AG_REC_GPU_OPEN, KernelAbi.GpuOpen.SIZEOF, KernelAbi.GpuOpen.SIZEOF);
        sizes(AG_REC_GPU_IOCTL, KernelAbi.GpuIoctl.SIZEOF, KernelAbi.GpuIoctl.SIZEOF);
        sizes(AG_REC_TAMPER, KernelAbi.Tamper.SIZEOF, KernelAbi.Tamper.SIZEOF);
        sizes(AG_REC_SCOPE, KernelAbi.Scope.SIZEOF, KernelAbi.Scope.SIZEOF);
        sizes(AG_REC_SOCKET, KernelAbi.Socket.SIZEOF, KernelAbi.Socket.SIZEOF);
        sizes(AG_REC_STDIO_SOCKET, KernelAbi.StdioSocket.SIZEOF, KernelAbi.StdioSocket.SIZEOF);
        sizes(AG_REC_APP_PROTO, KernelAbi.AppProto.SIZEOF, KernelAbi.AppProto.SIZEOF);
    }

    private static void sizes(int type, long min, long max) {
        MIN_SIZE[type] = min;
        MAX_SIZE[type] = max;
    }

    public final HeaderRecord header = new HeaderRecord();
    public final ExecRecord exec = new ExecRecord();
    public final ForkRecord fork = new ForkRecord();
    public final ExitRecord exit = new ExitRecord();
    public final ConnectRecord connect = new ConnectRecord();
    public final ConnectResultRecord connectResult = new ConnectResultRecord();
    public final GpuOpenRecord gpuOpen = new GpuOpenRecord();
    public final GpuIoctlRecord gpuIoctl = new GpuIoctlRecord();
    public final TamperRecord tamper = new TamperRecord();
    public final ScopeRecord scope = new ScopeRecord();
    public final SocketRecord socket = new SocketRecord();
    public final StdioSocketRecord stdioSocket = new StdioSocketRecord();
    public final AppProtoRecord appProto = new AppProtoRecord();
    private final NvidiaIoctlDecoder nvidia = new NvidiaIoctlDecoder();
    private boolean nvidiaDecoded;
    private int type;

    /**
     * Points the header and the flyweight of the record's type at a record of length bytes.
     * Returns its type, or 0 when the header cannot be one of ours (a type we do not know, a
     * size outside the type's bounds or beyond length): the caller skips and counts it.
     */
    public int wrap(MemorySegment data, long offset, int length) {
        type = 0;
        nvidiaDecoded = false;
        if (length < KernelAbi.Header.SIZEOF) {
            return 0;
        }
        int t = Short.toUnsignedInt(data.get(JAVA_SHORT_UNALIGNED, offset + KernelAbi.Header.TYPE));
        int size = Short.toUnsignedInt(data.get(JAVA_SHORT_UNALIGNED, offset + KernelAbi.Header.SIZE));
        if (t < 1 || t > AG_REC_TYPE_MAX || size > length || size < MIN_SIZE[t] || size > MAX_SIZE[t]) {
            return 0;
        }
        header.wrap(data, offset);
        switch (t) {
            case AG_REC_EXEC -> exec.wrap(data, offset);
            case AG_REC_FORK -> fork.wrap(data, offset);
            case AG_REC_EXIT -> exit.wrap(data, offset);
            case AG_REC_CONNECT -> connect.wrap(data, offset);
            case AG_REC_CONNECT_RESULT -> connectResult.wrap(data, offset);
            case AG_REC_GPU_OPEN -> gpuOpen.wrap(data, offset);
            case AG_REC_GPU_IOCTL -> gpuIoctl.wrap(data, offset);
            case AG_REC_TAMPER -> tamper.wrap(data, offset);
            case AG_REC_SOCKET -> socket.wrap(data, offset);
            case AG_REC_STDIO_SOCKET -> stdioSocket.wrap(data, offset);
            case AG_REC_APP_PROTO -> appProto.wrap(data, offset);
            default -> scope.wrap(data, offset);
        }
        type = t;
        return t;
    }

    /** The decoded GPU ioctl record last wrapped: decoded once, on first use. */
    public NvidiaIoctlDecoder nvidia() {
        if (!nvidiaDecoded) {
            nvidia.decode(gpuIoctl);
            nvidiaDecoded = true;
        }
        return nvidia;
    }

    /** Type of the record last wrapped (0: none, or it was invalid). */
    public int type() {
        return type;
    }

    /**
     * Writes the ring record the kernel would have produced for a recorded event and wraps
     * it; returns its length. Action events are the agent's own and have no record:
     * IllegalArgumentException, as for an event with no kind.
     */
    public int write(Event e, MemorySegment data, long offset) {
        int length = switch (e.getKindCase()) {
            case EXEC -> exec.wrap(data, offset).write(e);
            case FORK -> fork.wrap(data, offset).write(e);
            case EXIT -> exit.wrap(data, offset).write(e);
            case CONNECT -> connect.wrap(data, offset).write(e);
            case GPU -> e.getGpu().hasOpen() ? gpuOpen.wrap(data, offset).write(e) : gpuIoctl.wrap(data, offset).write(e);
            case TAMPER -> tamper.wrap(data, offset).write(e);
            case SCOPE -> scope.wrap(data, offset).write(e);
            case SOCKET -> socket.wrap(data, offset).write(e);
            case STDIO_SOCKET -> stdioSocket.wrap(data, offset).write(e);
            case APP_PROTO -> appProto.wrap(data, offset).write(e);
            default -> throw new IllegalArgumentException("no kernel record for an event of kind " + e.getKindCase());
        };
        wrap(data, offset, length);
        return length;
    }

    /** Largest record in bytes: a buffer for {@link #write} needs this much. */
    public static long maxRecordBytes() {
        return KernelAbi.Exec.SIZEOF;
    }
}
