package io.agentguard.event;

import com.google.protobuf.Timestamp;
import io.agentguard.bpf.Errno;
import io.agentguard.net.IpAddresses;
import io.agentguard.proto.v1.AddressFamily;
import io.agentguard.proto.v1.ConnectEvent;
import io.agentguard.proto.v1.ConnectOutcome;
import io.agentguard.proto.v1.SocketEvent;
import io.agentguard.proto.v1.UnixOwner;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ExecEvent;
import io.agentguard.proto.v1.ExitEvent;
import io.agentguard.proto.v1.ForkEvent;
import io.agentguard.proto.v1.GpuEvent;
import io.agentguard.proto.v1.GpuIoctl;
import io.agentguard.proto.v1.GpuOpen;
import io.agentguard.proto.v1.LossEvent;
import io.agentguard.proto.v1.ProcessInfo;
import io.agentguard.proto.v1.ScopeEvent;
import io.agentguard.proto.v1.ScopeExit;
import io.agentguard.proto.v1.SocketType;
import io.agentguard.proto.v1.TamperEvent;
import io.agentguard.proto.v1.TamperKind;
import io.agentguard.proto.v1.Workload;
import io.agentguard.workload.WorkloadCache;

import java.util.function.LongFunction;
import java.util.function.LongSupplier;

import static io.agentguard.abi.KernelAbi.*;

/**
 * Turns ring records into {@link Event}s (protobuf), reading them through the wrapped
 * {@link Records}. Called on the consumer thread for records already validated. TCP
 * connects are held until their handshake outcome (joined by socket cookie) or a timeout,
 * so one connect event carries its outcome.
 */
public final class EventDecoder {
    private final EventSink sink;
    private final LongFunction<String> cgroupPaths;
    private final LongSupplier wallMinusMonotonicNs;
    private final ConnectOutcomes connectOutcomes;
    private final WorkloadCache workloads;

    /**
     * @param cgroupPaths          cgroup id to path relative to the cgroup2 mount ("" if unknown)
     * @param wallMinusMonotonicNs CLOCK_REALTIME - CLOCK_MONOTONIC, for wall-clock times
     * @param connectOutcomeTimeoutMs how long a TCP connect waits for its handshake outcome
     */
    public EventDecoder(EventSink sink, LongFunction<String> cgroupPaths, LongSupplier wallMinusMonotonicNs,
                        long connectOutcomeTimeoutMs) {
        this(sink, cgroupPaths, wallMinusMonotonicNs, connectOutcomeTimeoutMs, new WorkloadCache());
    }

    /** @param workloads workload identity per cgroup (ProcessInfo.workload), shared with the rules' context */
    public EventDecoder(EventSink sink, LongFunction<String> cgroupPaths, LongSupplier wallMinusMonotonicNs,
                        long connectOutcomeTimeoutMs, WorkloadCache workloads) {
        this.sink = sink;
        this.workloads = workloads;
        this.cgroupPaths = cgroupPaths;
        this.wallMinusMonotonicNs = wallMinusMonotonicNs;
        this.connectOutcomes = new ConnectOutcomes(connectOutcomeTimeoutMs * 1_000_000L, 65536);
    }

    /**
     * Decodes the record {@code r} is wrapped at. With {@code emit} the event goes to the sink
     * (a TCP connect later, with its outcome). Returns the event as decoded now, for evidence;
     * null for a connect result, which only completes a held connect.
     *
     * @param exe     the process's executable, where known (else null)
     * @param cmdline the process's argv joined, where known (else null)
     */
    public Event decode(Records r, boolean emit, String exe, String cmdline) {
        return switch (r.type()) {
            case AG_REC_EXEC -> send(onExec(r.exec, exe, cmdline), emit);
            case AG_REC_FORK -> send(base(r.fork, exe, cmdline).setFork(ForkEvent.newBuilder()
                    .setChildPid(r.fork.childPid())).build(), emit);
            case AG_REC_EXIT -> send(onExit(r.exit, exe, cmdline), emit);
            case AG_REC_CONNECT -> onConnect(r.connect, emit, exe, cmdline);
            case AG_REC_CONNECT_RESULT -> {
                onConnectResult(r.connectResult);
                yield null;
            }
            case AG_REC_GPU_OPEN -> send(onGpuOpen(r.gpuOpen, exe, cmdline), emit);
            case AG_REC_GPU_IOCTL -> send(base(r.gpuIoctl, exe, cmdline).setGpu(gpu(r.gpuIoctl.role(), r.gpuIoctl.index(),
                    r.gpuIoctl.major(), r.gpuIoctl.minor()).setIoctl(r.nvidia().toProto(GpuIoctl.newBuilder()))).build(), emit);
            case AG_REC_TAMPER -> send(onTamper(r.tamper, exe, cmdline), emit);
            case AG_REC_SCOPE -> send(onScope(r.scope, exe, cmdline), emit);
            case AG_REC_SOCKET -> send(base(r.socket, exe, cmdline).setSocket(SocketEvent.newBuilder()
                    .setFamily(SocketRecord.familyToProto(r.socket.family()))
                    .setSocketType(SocketRecord.typeToProto(r.socket.sockType()))
                    .setProtocol(r.socket.protocol())
                    .setVerdict(Verdicts.toProto(r.socket.verdict()))
                    .setHook(SocketRecord.hookToProto(r.socket.hook()))).build(), emit);
            case AG_REC_STDIO_SOCKET -> send(base(r.stdioSocket, exe, cmdline).setStdioSocket(r.stdioSocket.toProto()).build(),
                    emit);
            case AG_REC_APP_PROTO -> send(base(r.appProto, exe, cmdline).setAppProto(r.appProto.toProto()).build(), emit);
            default -> throw new IllegalArgumentException("record type " + r.type());
        };
    }

    private Event send(Event e, boolean emit) {
        if (emit) {
            sink.accept(e);
        }
        return e;
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
            Workload workload = workloads.proto(r.cgroupId(), path);   // built once per cgroup
            if (workload != null) {
                process.setWorkload(workload);
            }
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
        long dev = r.dev();
        return base(r, exe, cmdline).setExec(ExecEvent.newBuilder()
                .setDevMajor((int) (dev >>> 20)).setDevMinor((int) (dev & 0xfffff)).setInode(r.ino()).setNlink(r.nlink())
                .setFileless(r.fileless()).setMemfd((flags & AG_EXEC_MEMFD) != 0)
                .setUnlinked((flags & AG_EXEC_UNLINKED) != 0).setByFd((flags & AG_EXEC_BY_FD) != 0)
                .setLoader(r.loader()).setDenyMatchValue(r.match())
                .setHeld(r.held()).setStdioSocket(r.stdioSocket())
                .setExeCtimeNs(r.exeCtimeNs()).setExeUid(r.exeUid())
                .setFilename(r.filename())
                .addAllArgs(r.args())
                .setArgsTruncated((flags & AG_EXEC_ARGS_TRUNCATED) != 0)
                .setFilenameTruncated((flags & AG_EXEC_FILENAME_TRUNCATED) != 0)
                .setArgsUnreadable((flags & AG_EXEC_ARGS_UNREADABLE) != 0)
                .setArgsTotalBytes((int) r.argsTotalLength())
                .setSuccess(!r.failed())
                .setVerdict(Verdicts.toProto(r.verdict()))
                .setErrorNumber(r.failed() ? r.error() : 0)
                .setErrorName(r.failed() ? Errno.name(r.error()) : "")
                .setOldPid(r.oldPid() != r.pid() && !r.failed() ? r.oldPid() : 0)).build();
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
                .setVerdict(Verdicts.toProto(r.verdict()));
        switch (r.family()) {
            case AG_AF_INET -> c.setFamily(AddressFamily.ADDRESS_FAMILY_INET)
                    .setAddress(IpAddresses.format(r.address())).setPort(r.port());
            case AG_AF_INET6 -> c.setFamily(AddressFamily.ADDRESS_FAMILY_INET6)
                    .setAddress(IpAddresses.format(r.address())).setPort(r.port());
            case AG_AF_UNIX -> {
                c.setFamily(AddressFamily.ADDRESS_FAMILY_UNIX).setUnixPath(r.unixPathText());
                if (r.unixOutside()) {
                    UnixOwner.Builder owner = UnixOwner.newBuilder().setPid(r.peerPid()).setUid(r.peerUid())
                            .setComm(r.peerComm()).setCgroupId(r.peerCgroupId());
                    String path = cgroupPaths.apply(r.peerCgroupId());
                    if (path != null) {
                        owner.setCgroupPath(path);
                    }
                    c.setUnixOutsideOwner(owner);
                }
            }
            default -> c.setFamily(AddressFamily.ADDRESS_FAMILY_UNSPECIFIED);
        }
        c.setSendmsg(r.sendmsg()).setTunnel(r.tunnel()).setShell(r.shell()).setExplicitAllow(r.explicitAllow());
        if (r.verdict() == AG_VERDICT_DENIED) {
            c.setOutcome(ConnectOutcome.CONNECT_OUTCOME_DENIED).setErrorNumber(Errno.EPERM).setErrorName("EPERM");
        } else if (!r.resultFollows()) {
            c.setOutcome(ConnectOutcome.CONNECT_OUTCOME_NOT_OBSERVED);
        }
        Event.Builder event = base(r, exe, cmdline).setConnect(c);
        Event now = event.build();
        if (emit) {
            if (r.verdict() != AG_VERDICT_DENIED && r.resultFollows()) {
                connectOutcomes.hold(r.sockCookie(), event, r.ktimeNs(), sink);
            } else {
                sink.accept(now);
            }
        }
        return now;
    }

    private void onConnectResult(ConnectResultRecord r) {
        // A blocking TCP connect reports twice (handshake, then the syscall): the second finds
        // nothing pending, which is expected.
        boolean closed = !r.fromSyscall() && r.newState() == AG_TCP_CLOSE;
        connectOutcomes.complete(r.sockCookie(), r.error(), r.fromSyscall(), closed, r.ktimeNs(), sink);
    }

    private Event onGpuOpen(GpuOpenRecord r, String exe, String cmdline) {
        int access = r.access();
        return base(r, exe, cmdline).setGpu(gpu(r.role(), r.index(), r.major(), r.minor())
                .setOpen(GpuOpen.newBuilder()
                        .setRead((access & AG_DEV_ACC_READ) != 0)
                        .setWrite((access & AG_DEV_ACC_WRITE) != 0)
                        .setMknod((access & AG_DEV_ACC_MKNOD) != 0)
                        .setVerdict(Verdicts.toProto(r.verdict())))).build();
    }

    private static GpuEvent.Builder gpu(int role, int index, int major, int minor) {
        GpuEvent.Builder g = GpuEvent.newBuilder().setRole(DeviceRoles.toProto(role)).setMajor(major).setMinor(minor);
        if (role == AG_DEV_GPU) {
            g.setGpuIndex(index);
        }
        return g;
    }

    private Event onTamper(TamperRecord r, String exe, String cmdline) {
        return base(r, exe, cmdline).setTamper(TamperEvent.newBuilder()
                .setKind(TamperRecord.kindToProto(r.kind()))
                .setTargetPid(r.targetPid())
                .setSignal(r.signal())
                .setSignalName(r.signal() > 0 ? Signals.name(r.signal()) : "")
                .setVerdict(Verdicts.toProto(r.verdict()))
                .setTargetTid(r.targetTid())
                .setTargetCgroupId(r.targetCgroupId())
                .setValue(r.value())
                .setContinued((r.flags() & AG_TAMPER_CONTINUED) != 0)
                .setFasync(r.fasync())
                .setKilledByAgent(r.killByAgent())).build();
    }

    /** An "events lost" report (no record: read from the kernel's counters); nowNs: CLOCK_MONOTONIC. */
    public Event loss(long cgroupId, String cgroupPath, long rateLimited, long ringFull, long rateLimitedTotal,
                      long ringFullTotal, long nowNs, boolean emit) {
        long wallNs = nowNs + wallMinusMonotonicNs.getAsLong();
        return send(Event.newBuilder()
                .setTime(Timestamp.newBuilder().setSeconds(Math.floorDiv(wallNs, 1_000_000_000L))
                        .setNanos((int) Math.floorMod(wallNs, 1_000_000_000L)))
                .setMonotonicNs(nowNs)
                .setProcess(ProcessInfo.newBuilder().setCgroupId(cgroupId).setCgroupPath(cgroupPath))
                .setLoss(LossEvent.newBuilder().setCgroupId(cgroupId).setCgroupPath(cgroupPath)
                        .setRateLimited(rateLimited).setRingFull(ringFull)
                        .setRateLimitedTotal(rateLimitedTotal).setRingFullTotal(ringFullTotal)).build(), emit);
    }

    private Event onScope(ScopeRecord r, String exe, String cmdline) {
        return base(r, exe, cmdline).setScope(ScopeEvent.newBuilder()
                .setHow(r.how() == AG_SCOPE_CLONE_INTO_CGROUP ? ScopeExit.SCOPE_EXIT_CLONE_INTO_CGROUP
                        : ScopeExit.SCOPE_EXIT_CGROUP_WRITE)
                .setTaskPid(r.taskPid())
                .setTaskTid(r.taskTid())
                .setOriginCgroupId(r.originCgroupId())
                .setOriginCgroupPath(pathOrEmpty(r.originCgroupId()))
                .setDestCgroupId(r.destCgroupId())
                .setDestCgroupPath(pathOrEmpty(r.destCgroupId()))
                .setMoverWatched(r.moverWatched())
                .setVerdict(Verdicts.toProto(r.verdict()))
                .setKilledByAgent(r.killByAgent())).build();
    }

    private String pathOrEmpty(long cgroupId) {
        String path = cgroupPaths.apply(cgroupId);
        return path == null ? "" : path;
    }

    private static SocketType socketType(int type) {
        return switch (type & AG_SOCK_TYPE_MASK) {
            case AG_SOCK_STREAM -> SocketType.SOCKET_TYPE_STREAM;
            case AG_SOCK_DGRAM -> SocketType.SOCKET_TYPE_DGRAM;
            case AG_SOCK_RAW -> SocketType.SOCKET_TYPE_RAW;
            case AG_SOCK_SEQPACKET -> SocketType.SOCKET_TYPE_SEQPACKET;
            default -> SocketType.SOCKET_TYPE_OTHER;
        };
    }
}
