package io.agentguard.rules;

import io.agentguard.event.NvidiaIoctlDecoder;
import io.agentguard.event.RecordFlyweight;
import io.agentguard.event.Records;
import io.agentguard.process.LongIndex;
import io.agentguard.process.ProcessTable;
import io.agentguard.proto.v1.ClassKind;
import io.agentguard.proto.v1.WorkloadKind;
import io.agentguard.workload.RuntimeNames;
import io.agentguard.workload.WorkloadCache;
import io.agentguard.workload.WorkloadIdentity;

import java.util.Locale;
import java.util.function.LongFunction;
import java.util.function.Supplier;

import static io.agentguard.abi.KernelAbi.*;

/**
 * The event being classified, as the fields of docs/RULES.md: the record (through the
 * consumer's {@link Records}, already wrapped) plus what the process table knows. Reused
 * for every event by the consumer thread; reads allocate nothing, except values computed
 * lazily and only when a rule asks (the Unix path, an unnamed ioctl's name).
 *
 * <p>The policy fields read the {@link PolicyView} in force (taken once per event, when a
 * rule first asks); which policy a cgroup has is looked up once per cgroup and view, then
 * kept in a primitive map (no allocation, no boxing per event).
 */
public final class EventContext {
    private static final String[] DEVICE_NAMES = {"", "control", "gpu", "uvm", "modeset", "uvm_tools", "caps"};
    private static final String[] CLASS_KIND_NAMES;

    static {
        ClassKind[] kinds = ClassKind.values();
        CLASS_KIND_NAMES = new String[kinds.length];
        for (ClassKind k : kinds) {
            if (k != ClassKind.UNRECOGNIZED) {
                CLASS_KIND_NAMES[k.getNumber()] = k.name().substring("CLASS_KIND_".length()).toLowerCase(Locale.ROOT);
            }
        }
    }

    private static final int POLICY_CACHE_CGROUPS = 4096;

    private final ProcessTable processes;
    private final LongFunction<String> cgroupPaths;
    private final Supplier<PolicyView> policySource;
    private final WorkloadCache workloads;
    private WorkloadIdentity workload;   // of this event, read when a field first needs it
    private RuntimeNames runtimeNames;
    private PolicyView view;                 // of this event, read when a field first needs it
    private PolicyView cachedView;           // what policyByCgroup was filled from
    private final LongIndex policyByCgroup = new LongIndex(POLICY_CACHE_CGROUPS);
    private int policy = -1;                 // of this event, -1: not looked up yet
    private Records records;
    private RecordFlyweight<?> record;
    private NvidiaIoctlDecoder nvidia;
    private int type;
    private int slot;
    private long nowNs;
    private int procDistinctDests;
    private int cgroupDistinctDests;
    private String unixPath;
    private long ipHigh;   // conn.addr, read once per connect record: CIDR terms ask for it repeatedly
    private long ipLow;
    // ancestors, computed on first use for this event
    private final int[] ancestorSlots = new int[ProcessTable.MAX_ANCESTORS];
    private int ancestorCount = -1;
    private String cgroupPathCache;
    private long cgroupPathId = -1;
    // what is left of the event's classification budget (Classifier); charged before each scan
    private long budgetLeft = Long.MAX_VALUE;
    private boolean overBudget;

    /** @param cgroupPaths cgroup id to path relative to the cgroup2 mount ("" if unknown) */
    public EventContext(ProcessTable processes, LongFunction<String> cgroupPaths) {
        this(processes, cgroupPaths, () -> PolicyView.NONE);
    }

    /** @param policies the policies in force, read at most once per event (a volatile read) */
    public EventContext(ProcessTable processes, LongFunction<String> cgroupPaths, Supplier<PolicyView> policies) {
        this(processes, cgroupPaths, policies, new WorkloadCache());
    }

    /** @param workloads workload identity per cgroup (the container.*, k8s.*, slurm.*, systemd.unit fields) */
    public EventContext(ProcessTable processes, LongFunction<String> cgroupPaths, Supplier<PolicyView> policies,
                        WorkloadCache workloads) {
        this.workloads = workloads;
        this.processes = processes;
        this.cgroupPaths = cgroupPaths;
        this.policySource = policies;
    }

    /**
     * Points the context at the record {@code r} is wrapped at. {@code processSlot} is the
     * acting process's slot in the table (already updated for exec), or -1.
     */
    public void set(Records r, int processSlot, long recordNowNs, int processDests, int cgroupDests) {
        records = r;
        record = r.header;
        type = r.type();
        slot = processSlot;
        nowNs = recordNowNs;
        procDistinctDests = processDests;
        cgroupDistinctDests = cgroupDests;
        ancestorCount = -1;
        unixPath = null;
        view = null;
        policy = -1;
        workload = null;
        nvidia = type == AG_REC_GPU_IOCTL ? r.nvidia() : null;
        if (type == AG_REC_CONNECT) {
            ipHigh = r.connect.addressHigh();
            ipLow = r.connect.addressLow();
        }
    }

    /** Starts the event's classification budget (Classifier, before the first rule). */
    void startBudget(long units) {
        budgetLeft = units;
        overBudget = false;
    }

    /**
     * Takes units of the budget before a matcher scans a value; false (and nothing taken)
     * when they are not left: the scan is not made and the event is over budget.
     */
    boolean charge(long units) {
        if (units > budgetLeft) {
            overBudget = true;
            return false;
        }
        budgetLeft -= units;
        return true;
    }

    /** Units left of the event's budget (tests: what the default pack needs). */
    long budgetLeft() {
        return budgetLeft;
    }

    /** Some scan of this event was refused for want of budget. */
    boolean overBudget() {
        return overBudget;
    }

    // ---- what the predicates read ---------------------------------------------------

    public int type() {
        return type;
    }

    /** Whether the field has a value for this event. */
    public boolean has(Field f) {
        if ((f.eventTypes() & (1 << type)) == 0) {
            return false;
        }
        return switch (f) {
            case PROC_NAME, PROC_EXE, PROC_ARGS, PROC_CMDLINE -> slot >= 0 && processes.exe(slot) != null
                    || f == Field.PROC_NAME;
            case PROC_PNAME, PROC_PEXE, PROC_PCMDLINE -> parentSlot() >= 0 && processes.exe(parentSlot()) != null
                    || f == Field.PROC_PNAME && parentSlot() >= 0;
            case PROC_GPU_COMPUTE, PROC_GPU_MEM_BYTES, PROC_CGROUP -> slot >= 0 || f == Field.PROC_CGROUP;
            case PROC_DISTINCT_DESTS -> slot >= 0;
            case CONN_ADDR, CONN_PORT -> records.connect.family() != AG_AF_UNIX;
            case CONN_UNIX_PATH, CONN_UNIX_OUTSIDE -> records.connect.family() == AG_AF_UNIX;
            case CONN_PEER_PID, CONN_PEER_UID, CONN_PEER_COMM -> records.connect.unixOutside();
            case GPU_COMPUTE_NEW -> nvidia.hasClass();
            case GPU_INDEX -> role() == AG_DEV_GPU;
            case GPU_CLASS, GPU_CLASS_KIND, GPU_COMPUTE -> nvidia.hasClass();
            case GPU_ALLOC_BYTES -> nvidia.hasAllocBytes() && nvidia.allocBytes() >= 0;
            case GPU_CONTROL -> nvidia.controlId() >= 0;
            default -> true;
        };
    }

    public String string(Field f) {
        return switch (f) {
            case EVT_TYPE -> Field.EVENT_TYPE_NAMES[type];
            case EVT_VERDICT -> verdictName();
            case POLICY_MODE -> view().enforcing(policy()) ? "enforce" : "monitor";
            case PROC_EXE_PROGRAM -> slot >= 0 ? view().program(processes.exeDev(slot), processes.exeIno(slot)) : "";
            case PROC_NAME -> slot >= 0 && processes.name(slot) != null ? processes.name(slot) : record.comm();
            case PROC_COMM -> slot >= 0 && processes.comm(slot) != null ? processes.comm(slot) : record.comm();
            case PROC_EXE -> processes.exe(slot);
            case PROC_ARGS -> processes.args(slot);
            case PROC_CMDLINE -> processes.cmdline(slot);
            case PROC_PNAME -> processes.name(parentSlot());
            case PROC_PEXE -> processes.exe(parentSlot());
            case PROC_PCMDLINE -> processes.cmdline(parentSlot());
            case PROC_CGROUP -> cgroupPath();
            case CONN_FAMILY -> switch (records.connect.family()) {
                case AG_AF_INET -> "inet";
                case AG_AF_INET6 -> "inet6";
                default -> "unix";
            };
            case CONN_PROTO -> switch (records.connect.protocol()) {
                case AG_IPPROTO_TCP -> "tcp";
                case AG_IPPROTO_UDP -> "udp";
                default -> "other";
            };
            case CONN_UNIX_PATH -> unixPath();
            case EXEC_DEV -> (records.exec.dev() >>> 20) + ":" + (records.exec.dev() & 0xfffff);
            case CONN_PEER_COMM -> records.connect.peerComm();
            case SOCKET_FAMILY -> switch (records.socket.family()) {
                case AG_AF_INET -> "inet";
                case AG_AF_INET6 -> "inet6";
                case AG_AF_PACKET -> "packet";
                default -> "other";
            };
            case SOCKET_TYPE -> switch (records.socket.sockType()) {
                case AG_SOCK_RAW -> "raw";
                case AG_SOCK_DGRAM -> "dgram";
                case AG_SOCK_PACKET -> "packet";
                default -> "other";
            };
            case GPU_DEVICE -> role() < DEVICE_NAMES.length ? DEVICE_NAMES[role()] : "";
            case GPU_OP -> type == AG_REC_GPU_OPEN ? "open" : nvidia.name();
            case GPU_CLASS_KIND -> CLASS_KIND_NAMES[nvidia.classKind().getNumber()];
            case CONTAINER_ID -> workload().shortId();
            case CONTAINER_FULL_ID -> workload().containerId();
            case CONTAINER_RUNTIME -> workload().containerId().isEmpty() ? "" : workload().runtime();
            case CONTAINER_NAME -> runtimeNames() == null ? "" : runtimeNames().containerName();
            case K8S_POD_UID -> workload().kind() == WorkloadKind.WORKLOAD_KIND_KUBERNETES ? workload().podUid() : "";
            case K8S_POD_NAME -> runtimeNames() == null ? "" : runtimeNames().podName();
            case K8S_NS_NAME -> runtimeNames() == null ? "" : runtimeNames().podNamespace();
            case SLURM_JOB_ID -> workload().jobId();
            case SLURM_STEP_ID -> workload().stepId();
            case SYSTEMD_UNIT -> workload().unit();
            case WORKLOAD_KIND -> workload().kindName();
            default -> throw new IllegalArgumentException(f + " is not a string field");
        };
    }

    public long number(Field f) {
        return switch (f) {
            case PROC_PID -> record.pid();
            case PROC_PPID -> record.ppid();
            case PROC_UID -> record.uid();
            case PROC_GID -> record.gid();
            case PROC_GPU_MEM_BYTES -> processes.gpuMemBytes(slot);
            case PROC_DISTINCT_DESTS -> type == AG_REC_CONNECT ? procDistinctDests : processes.distinctDestinations(slot, nowNs);
            case CGROUP_GPU_MEM_BYTES -> processes.cgroupGpuMemBytes(record.cgroupId());
            case CGROUP_DISTINCT_DESTS -> type == AG_REC_CONNECT ? cgroupDistinctDests
                    : processes.cgroupDistinctDestinations(record.cgroupId(), nowNs);
            case EXEC_INODE -> records.exec.ino();
            case EXIT_CODE -> records.exit.signal() == 0 ? records.exit.exitCode() : 0;
            case EXIT_SIGNAL -> records.exit.signal();
            case CONN_PORT -> records.connect.port();
            case CONN_PEER_PID -> records.connect.peerPid();
            case CONN_PEER_UID -> records.connect.peerUid();
            case SOCKET_PROTOCOL -> records.socket.protocol();
            case GPU_INDEX -> type == AG_REC_GPU_OPEN ? records.gpuOpen.index() : records.gpuIoctl.index();
            case GPU_CLASS -> nvidia.allocClass();
            case GPU_ALLOC_BYTES -> nvidia.allocBytes();
            case GPU_CONTROL -> nvidia.controlId();
            default -> throw new IllegalArgumentException(f + " is not an int field");
        };
    }

    public boolean bool(Field f) {
        return switch (f) {
            case PROC_GPU_COMPUTE -> processes.gpuCompute(slot);
            case CGROUP_GPU_COMPUTE -> processes.cgroupGpuCompute(record.cgroupId());
            case EXEC_FAILED -> records.exec.failed();
            case EXEC_FILELESS -> records.exec.fileless() && !records.exec.failed();
            case EXEC_LOADER -> records.exec.loader();
            case CONN_UNIX_OUTSIDE -> records.connect.unixOutside();
            case GPU_COMPUTE -> nvidia.computeContext();
            case GPU_COMPUTE_NEW -> nvidia.computeContext() && slot >= 0 && processes.computeNew(slot);
            case EXEC_HELD -> records.exec.held();
            case EXEC_STDIO_SOCKET -> records.exec.stdioSocket();
            case CONN_TUNNEL -> records.connect.tunnel();
            case CONN_SHELL -> records.connect.shell();
            case POLICY_EGRESS_ALLOWED_EXPLICITLY -> records.connect.family() != AG_AF_UNIX
                    && records.connect.explicitAllow();
            case POLICY_GPU_GRANTED -> view().gpuGranted(policy(), gpuNodeIndex());
            case POLICY_COMPUTE_GRANTED -> view().computeGranted(policy(), slot >= 0 ? processes.exeDev(slot) : 0,
                    slot >= 0 ? processes.exeIno(slot) : 0);
            case PROC_EXE_CREATED_IN_CGROUP -> exeCreatedInCgroup();
            default -> throw new IllegalArgumentException(f + " is not a bool field");
        };
    }

    /** conn.addr as 128 bits; IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d). */
    public long ipHigh() {
        return ipHigh;
    }

    public long ipLow() {
        return ipLow;
    }

    /** Number of known ancestors (parent first), up to ProcessTable.MAX_ANCESTORS. */
    public int ancestorCount() {
        if (ancestorCount < 0) {
            ancestorCount = 0;
            int s = slot >= 0 ? processes.parentSlot(slot) : processes.slot(record.ppid());
            while (s >= 0 && ancestorCount < ancestorSlots.length) {
                ancestorSlots[ancestorCount++] = s;
                int next = processes.parentSlot(s);
                if (next == s) {
                    break;
                }
                s = next;
            }
        }
        return ancestorCount;
    }

    /** Name of the i-th ancestor (0 = parent). */
    public String ancestorName(int i) {
        String n = processes.name(ancestorSlots[i]);
        return n != null ? n : "";
    }

    private int parentSlot() {
        return ancestorCount() > 0 ? ancestorSlots[0] : -1;
    }

    /** The kernel's verdict of the record; records the kernel does not judge are allowed. */
    private String verdictName() {
        int v = switch (type) {
            case AG_REC_EXEC -> records.exec.verdict();
            case AG_REC_CONNECT -> records.connect.verdict();
            case AG_REC_GPU_OPEN -> records.gpuOpen.verdict();
            case AG_REC_GPU_IOCTL -> records.gpuIoctl.verdict();
            case AG_REC_SOCKET -> records.socket.verdict();
            default -> AG_VERDICT_ALLOWED;
        };
        return v == AG_VERDICT_DENIED ? "denied" : v == AG_VERDICT_WOULD_BLOCK ? "would_block" : "allowed";
    }

    private PolicyView view() {
        if (view == null) {
            view = policySource.get();
        }
        return view;
    }

    /** The policy of the event's cgroup: per event, then per cgroup and view, then asked of the view. */
    private int policy() {
        if (policy >= 0) {
            return policy;
        }
        PolicyView v = view();
        if (v != cachedView) {
            policyByCgroup.clear();   // a new view (start, reload): policies may have moved
            cachedView = v;
        }
        long id = record.cgroupId();
        int p = policyByCgroup.get(id);
        if (p < 0) {
            String path = cgroupPath();
            p = v.policyOf(path);
            if (!path.isEmpty()) {   // "": not known yet (a cgroup just made); ask again next time
                if (policyByCgroup.size() >= POLICY_CACHE_CGROUPS) {
                    policyByCgroup.clear();
                }
                policyByCgroup.put(id, p);
            }
        }
        return policy = p;
    }

    /** The GPU a GPU event names (a gpu node), else -1: any GPU. */
    private int gpuNodeIndex() {
        if ((type == AG_REC_GPU_OPEN || type == AG_REC_GPU_IOCTL) && role() == AG_DEV_GPU) {
            return type == AG_REC_GPU_OPEN ? records.gpuOpen.index() : records.gpuIoctl.index();
        }
        return -1;
    }

    /**
     * The executable's ctime is after the birth of the cgroup the process runs in (looked up
     * once per cgroup, kept in the process table). Unknown either side: false.
     */
    private boolean exeCreatedInCgroup() {
        if (slot < 0) {
            return false;
        }
        long ctime = processes.exeCtimeNs(slot);
        if (ctime <= 0) {
            return false;
        }
        long cgroup = record.cgroupId();
        long birth = processes.cgroupBirthNs(cgroup);
        if (birth == 0) {
            String path = cgroupPath();
            if (path.isEmpty()) {
                return false;   // not known yet: ask again at the next event
            }
            birth = view().cgroupBirthNs(path);
            processes.cgroupBirthNs(cgroup, birth == 0 ? -1 : birth);
        }
        return birth > 0 && ctime > birth;
    }

    private int role() {
        return type == AG_REC_GPU_OPEN ? records.gpuOpen.role() : records.gpuIoctl.role();
    }

    private String unixPath() {
        if (unixPath == null) {
            unixPath = records.connect.unixPathText();
        }
        return unixPath;
    }

    /** The event's workload (and the runtime's names for it), looked up once per event that asks. */
    private WorkloadIdentity workload() {
        if (workload == null) {
            String path = cgroupPath();
            workload = workloads.identity(record.cgroupId(), path);
            runtimeNames = workloads.names(record.cgroupId(), path);
        }
        return workload;
    }

    private RuntimeNames runtimeNames() {
        workload();
        return runtimeNames;
    }

    private String cgroupPath() {
        long id = record.cgroupId();
        if (id != cgroupPathId) {
            cgroupPathCache = cgroupPaths.apply(id);
            cgroupPathId = id;
        }
        return cgroupPathCache;
    }
}
