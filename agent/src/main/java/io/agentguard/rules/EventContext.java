package io.agentguard.rules;

import io.agentguard.event.NvidiaIoctlDecoder;
import io.agentguard.event.RecordFlyweight;
import io.agentguard.event.Records;
import io.agentguard.process.ProcessTable;
import io.agentguard.proto.v1.ClassKind;

import java.util.Locale;
import java.util.function.LongFunction;

import static io.agentguard.abi.KernelAbi.*;

/**
 * The event being classified, as the fields of docs/RULES.md: the record (through the
 * consumer's {@link Records}, already wrapped) plus what the process table knows. Reused
 * for every event by the consumer thread; reads allocate nothing, except values computed
 * lazily and only when a rule asks (the Unix path, an unnamed ioctl's name).
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

    private final ProcessTable processes;
    private final LongFunction<String> cgroupPaths;
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
        this.processes = processes;
        this.cgroupPaths = cgroupPaths;
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

    private int role() {
        return type == AG_REC_GPU_OPEN ? records.gpuOpen.role() : records.gpuIoctl.role();
    }

    private String unixPath() {
        if (unixPath == null) {
            unixPath = records.connect.unixPathText();
        }
        return unixPath;
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
