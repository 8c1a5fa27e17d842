package io.agentguard.event;

import com.google.protobuf.Timestamp;
import io.agentguard.proto.v1.AddressFamily;
import io.agentguard.proto.v1.ConnectEvent;
import io.agentguard.proto.v1.ConnectOutcome;
import io.agentguard.proto.v1.DeviceRole;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ExecEvent;
import io.agentguard.proto.v1.ExitEvent;
import io.agentguard.proto.v1.ForkEvent;
import io.agentguard.proto.v1.GpuEvent;
import io.agentguard.proto.v1.GpuIoctl;
import io.agentguard.proto.v1.GpuOpen;
import io.agentguard.proto.v1.ProcessInfo;
import io.agentguard.proto.v1.SocketType;
import io.agentguard.proto.v1.Verdict;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.function.LongFunction;
import java.util.function.LongSupplier;

import static io.agentguard.event.RecordLayout.*;

/**
 * Turns ring records into {@link Event}s (protobuf) through the flyweights. Called on the
 * consumer thread for records already validated. TCP connects are held until their
 * handshake outcome (joined by socket cookie) or a timeout, so one connect event carries
 * its outcome.
 */
public final class EventDecoder {
    private static final int TCP_CLOSE = 7;

    private final ExecRecord exec = new ExecRecord();
    private final ForkRecord fork = new ForkRecord();
    private final ExitRecord exit = new ExitRecord();
    private final ConnectRecord connect = new ConnectRecord();
    private final ConnectResultRecord connectResult = new ConnectResultRecord();
    private final GpuOpenRecord gpuOpen = new GpuOpenRecord();
    private final GpuIoctlRecord gpuIoctl = new GpuIoctlRecord();
    private final TamperRecord tamper = new TamperRecord();

    private final EventSink sink;
    private final LongFunction<String> cgroupPaths;
    private final LongSupplier wallMinusMonotonicNs;
    private final ConnectOutcomes connectOutcomes;
    private long unmatchedResults;

    /**
     * @param cgroupPaths          cgroup id to path relative to the cgroup2 mount ("" if unknown)
     * @param wallMinusMonotonicNs CLOCK_REALTIME - CLOCK_MONOTONIC, for wall-clock times
     * @param connectOutcomeTimeoutMs how long a TCP connect waits for its handshake outcome
     */
    public EventDecoder(EventSink sink, LongFunction<String> cgroupPaths, LongSupplier wallMinusMonotonicNs,
                        long connectOutcomeTimeoutMs) {
        this.sink = sink;
        this.cgroupPaths = cgroupPaths;
        this.wallMinusMonotonicNs = wallMinusMonotonicNs;
        this.connectOutcomes = new ConnectOutcomes(connectOutcomeTimeoutMs * 1_000_000L, 65536);
    }

    /**
     * Decodes a validated record. With {@code emit} the event goes to the sink (a TCP
     * connect later, with its outcome). Returns the event as decoded now, for evidence;
     * null for a connect result, which only completes a held connect.
     *
     * @param exe     the process's executable, where known (else null)
     * @param cmdline the process's argv joined, where known (else null)
     */
    public Event decode(int type, MemorySegment data, long offset, boolean emit, String exe, String cmdline) {
        return switch (type) {
            case TYPE_EXEC -> send(onExec(exec.wrap(data, offset), exe, cmdline), emit);
            case TYPE_FORK -> send(onFork(fork.wrap(data, offset), exe, cmdline), emit);
            case TYPE_EXIT -> send(onExit(exit.wrap(data, offset), exe, cmdline), emit);
            case TYPE_CONNECT -> onConnect(connect.wrap(data, offset), emit, exe, cmdline);
            case TYPE_CONNECT_RESULT -> {
                onConnectResult(connectResult.wrap(data, offset));
                yield null;
            }
            case TYPE_GPU_OPEN -> send(onGpuOpen(gpuOpen.wrap(data, offset), exe, cmdline), emit);
            case TYPE_GPU_IOCTL -> send(onGpuIoctl(gpuIoctl.wrap(data, offset), exe, cmdline), emit);
            case TYPE_TAMPER -> send(onTamper(tamper.wrap(data, offset), exe, cmdline), emit);
            default -> throw new IllegalArgumentException("record type " + type);
        };
    }

    private Event send(Event e, boolean emit) {
        if (emit) {
            sink.accept(e);
        }
        return e;
    }

    public long unmatchedResults() {
        return unmatchedResults;
    }

    /** Emits TCP connects whose outcome did not come in time. nowNs: CLOCK_MONOTONIC. */
    public void expireConnects(long nowNs) {
        connectOutcomes.expire(nowNs, sink);
    }

    public void flush() {
        connectOutcomes.flush(sink);
    }

    private Event.Builder base(RecordFlyweight<?> r, String exe, String cmdline) {
        long monotonicNs = r.ktimeNs();
        long wallNs = monotonicNs + wallMinusMonotonicNs.getAsLong();
        ProcessInfo.Builder process = ProcessInfo.newBuilder()
                .setPid(r.pid()).setTid(r.tid()).setPpid(r.ppid()).setUid(r.uid()).setGid(r.gid())
                .setComm(r.comm()).setCgroupId(r.cgroupId());
        if (exe != null) {
            process.setExe(exe);
        }
        if (cmdline != null) {
            process.setCmdline(cmdline);
        }
        String path = cgroupPaths.apply(r.cgroupId());
        if (path != null) {
            process.setCgroupPath(path);
        }
        return Event.newBuilder()
                .setTime(Timestamp.newBuilder().setSeconds(Math.floorDiv(wallNs, 1_000_000_000L))
                        .setNanos((int) Math.floorMod(wallNs, 1_000_000_000L)))
                .setMonotonicNs(monotonicNs)
                .setCpu(r.cpu())
                .setProcess(process);
    }

    private Event onExec(ExecRecord r, String exe, String cmdline) {
        int flags = r.flags();
        return base(r, exe, cmdline).setExec(ExecEvent.newBuilder()
                .setFilename(r.filename())
                .addAllArgs(r.args())
                .setArgsTruncated((flags & EXEC_ARGS_TRUNCATED) != 0)
                .setFilenameTruncated((flags & EXEC_FILENAME_TRUNCATED) != 0)
                .setArgsUnreadable((flags & EXEC_ARGS_UNREADABLE) != 0)
                .setArgsTotalBytes((int) r.argsTotalLength())
                .setSuccess(!r.failed())
                .setVerdict(verdict(r.verdict()))
                .setErrorNumber(r.failed() ? r.error() : 0)
                .setErrorName(r.failed() ? io.agentguard.bpf.Errno.name(r.error()) : "")
                .setOldPid(r.oldPid() != r.pid() && !r.failed() ? r.oldPid() : 0)).build();
    }

    private Event onFork(ForkRecord r, String exe, String cmdline) {
        return base(r, exe, cmdline).setFork(ForkEvent.newBuilder().setChildPid(r.childPid())).build();
    }

    private Event onExit(ExitRecord r, String exe, String cmdline) {
        ExitEvent.Builder x = ExitEvent.newBuilder().setWaitStatus(r.waitStatus());
        if (r.signal() != 0) {
            x.setSignal(r.signal()).setSignalName(Signals.name(r.signal())).setCoreDumped(r.coreDumped());
        } else {
            x.setExitCode(r.exitCode());
        }
        if (r.startNs() > 0 && r.ktimeNs() >= r.startNs()) {
            x.setLifetimeNs(r.ktimeNs() - r.startNs());
        }
        return base(r, exe, cmdline).setExit(x).build();
    }

    private Event onConnect(ConnectRecord r, boolean emit, String exe, String cmdline) {
        ConnectEvent.Builder c = ConnectEvent.newBuilder()
                .setSocketCookie(r.sockCookie())
                .setSocketType(socketType(r.sockType()))
                .setProtocol(r.protocol())
                .setVerdict(verdict(r.verdict()));
        switch (r.family()) {
            case ConnectRecord.AF_INET -> c.setFamily(AddressFamily.ADDRESS_FAMILY_INET)
                    .setAddress(address(r.address())).setPort(r.port());
            case ConnectRecord.AF_INET6 -> c.setFamily(AddressFamily.ADDRESS_FAMILY_INET6)
                    .setAddress(address(r.address())).setPort(r.port());
            case ConnectRecord.AF_UNIX -> c.setFamily(AddressFamily.ADDRESS_FAMILY_UNIX)
                    .setUnixPath(unixPath(r.unixPath()));
            default -> c.setFamily(AddressFamily.ADDRESS_FAMILY_UNSPECIFIED);
        }
        c.setSendmsg((r.flags() & CONNECT_SENDMSG) != 0);
        if (r.verdict() == VERDICT_DENIED) {
            c.setOutcome(ConnectOutcome.CONNECT_OUTCOME_DENIED).setErrorNumber(1).setErrorName("EPERM");
        } else if (!r.resultFollows()) {
            c.setOutcome(ConnectOutcome.CONNECT_OUTCOME_NOT_OBSERVED);
        }
        Event.Builder event = base(r, exe, cmdline).setConnect(c);
        Event now = event.build();
        if (emit) {
            if (r.verdict() != VERDICT_DENIED && r.resultFollows()) {
                connectOutcomes.hold(r.sockCookie(), event, r.ktimeNs(), sink);
            } else {
                sink.accept(now);
            }
        }
        return now;
    }

    private void onConnectResult(ConnectResultRecord r) {
        // A blocking TCP connect reports twice (handshake, then the syscall): the second
        // finds nothing pending, which is expected; an unmatched handshake is not.
        boolean closed = !r.fromSyscall() && r.newState() == TCP_CLOSE;
        if (!connectOutcomes.complete(r.sockCookie(), r.error(), r.fromSyscall(), closed, r.ktimeNs(), sink)
                && !r.fromSyscall()) {
            unmatchedResults++;
        }
    }

    private Event onGpuOpen(GpuOpenRecord r, String exe, String cmdline) {
        int access = r.access();
        return base(r, exe, cmdline).setGpu(gpu(r.role(), r.index(), r.major(), r.minor())
                .setOpen(GpuOpen.newBuilder()
                        .setRead((access & GpuOpenRecord.ACCESS_READ) != 0)
                        .setWrite((access & GpuOpenRecord.ACCESS_WRITE) != 0)
                        .setMknod((access & GpuOpenRecord.ACCESS_MKNOD) != 0)
                        .setVerdict(verdict(r.verdict())))).build();
    }

    private Event onGpuIoctl(GpuIoctlRecord r, String exe, String cmdline) {
        return base(r, exe, cmdline).setGpu(gpu(r.role(), r.index(), r.major(), r.minor())
                .setIoctl(NvidiaIoctlDecoder.decode(r, GpuIoctl.newBuilder()))).build();
    }

    private static GpuEvent.Builder gpu(int role, int index, int major, int minor) {
        GpuEvent.Builder g = GpuEvent.newBuilder().setRole(deviceRole(role)).setMajor(major).setMinor(minor);
        if (role == ROLE_GPU) {
            g.setGpuIndex(index);
        }
        return g;
    }

    static DeviceRole deviceRole(int role) {
        return switch (role) {
            case ROLE_CONTROL -> DeviceRole.DEVICE_ROLE_CONTROL;
            case ROLE_GPU -> DeviceRole.DEVICE_ROLE_GPU;
            case ROLE_UVM -> DeviceRole.DEVICE_ROLE_UVM;
            case ROLE_MODESET -> DeviceRole.DEVICE_ROLE_MODESET;
            case ROLE_UVM_TOOLS -> DeviceRole.DEVICE_ROLE_UVM_TOOLS;
            case ROLE_CAPS -> DeviceRole.DEVICE_ROLE_CAPS;
            default -> DeviceRole.DEVICE_ROLE_UNSPECIFIED;
        };
    }

    private Event onTamper(TamperRecord r, String exe, String cmdline) {
        return base(r, exe, cmdline).setTamper(io.agentguard.proto.v1.TamperEvent.newBuilder()
                .setKind(r.kind() == TAMPER_PTRACE_KIND ? io.agentguard.proto.v1.TamperKind.TAMPER_KIND_PTRACE
                        : io.agentguard.proto.v1.TamperKind.TAMPER_KIND_SIGNAL)
                .setTargetPid(r.targetPid())
                .setSignal(r.signal())
                .setSignalName(r.signal() > 0 ? Signals.name(r.signal()) : "")
                .setVerdict(verdict(r.verdict()))).build();
    }

    static Verdict verdict(int verdict) {
        return switch (verdict) {
            case VERDICT_ALLOWED -> Verdict.VERDICT_ALLOWED;
            case VERDICT_DENIED -> Verdict.VERDICT_DENIED;
            case VERDICT_WOULD_BLOCK -> Verdict.VERDICT_WOULD_BLOCK;
            default -> Verdict.VERDICT_UNSPECIFIED;
        };
    }

    private static SocketType socketType(int type) {
        return switch (type & 0xf) {   // SOCK_NONBLOCK/CLOEXEC live in higher bits
            case 1 -> SocketType.SOCKET_TYPE_STREAM;
            case 2 -> SocketType.SOCKET_TYPE_DGRAM;
            case 3 -> SocketType.SOCKET_TYPE_RAW;
            case 5 -> SocketType.SOCKET_TYPE_SEQPACKET;
            default -> SocketType.SOCKET_TYPE_OTHER;
        };
    }

    private static String address(byte[] raw) {
        return AddressText.format(raw);
    }

    /** Abstract names (leading NUL) are shown with a leading '@', as ss(8) does. */
    private static String unixPath(byte[] raw) {
        if (raw.length == 0) {
            return "";
        }
        if (raw[0] == 0) {
            int end = raw.length;
            return "@" + new String(raw, 1, end - 1, StandardCharsets.UTF_8);
        }
        int end = 0;
        while (end < raw.length && raw[end] != 0) {
            end++;
        }
        return new String(raw, 0, end, StandardCharsets.UTF_8);
    }
}
