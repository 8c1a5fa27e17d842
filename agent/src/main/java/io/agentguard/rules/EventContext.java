package io.agentguard.rules;

import io.agentguard.event.ConnectRecord;
import io.agentguard.event.ExecRecord;
import io.agentguard.event.ExitRecord;
import io.agentguard.event.GpuIoctlRecord;
import io.agentguard.event.GpuOpenRecord;
import io.agentguard.event.NvidiaIoctlDecoder;
import io.agentguard.event.RecordFlyweight;
import io.agentguard.process.ProcessTable;
import io.agentguard.proto.v1.ClassKind;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

import static io.agentguard.event.RecordLayout.*;

/**
 * The event being classified, as the fields of docs/RULES.md: the record (through
 * flyweights) plus what the process table knows. Reused for every event by the consumer
 * thread; reads allocate nothing, except values computed lazily and only when a rule asks
 * (the Unix path, an unnamed ioctl's name).
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
    final ExecRecord exec = new ExecRecord();
    final ExitRecord exit = new ExitRecord();
    final ConnectRecord connect = new ConnectRecord();
    final GpuOpenRecord gpuOpen = new GpuOpenRecord();
    final GpuIoctlRecord gpuIoctl = new GpuIoctlRecord();

    private int type;
    private RecordFlyweight<?> record;
    private int slot;
    private long nowNs;
    private int procDistinctDests;
    private int cgroupDistinctDests;
    // connect
    private long ipHi;
    private long ipLo;
    private String unixPath;
    // gpu ioctl
    private int gpuClass;
    private int gpuClassKind;
    private long gpuAllocBytes;
    private int gpuControl;
    private String gpuOpName;
    // ancestors, computed on first use for this event
    private final int[] ancestorSlots = new int[ProcessTable.MAX_ANCESTORS];
    private int ancestorCount = -1;

    public EventContext(ProcessTable processes) {
        this.processes = processes;
    }

    /**
     * Points the context at a record. {@code processSlot} is the acting process's slot in
     * the table (already updated for exec), or -1.
     */
    public void set(int recordType, MemorySegment buffer, long offset, int processSlot, long recordNowNs,
                    int processDests, int cgroupDests) {
        type = recordType;
        slot = processSlot;
        nowNs = recordNowNs;
        procDistinctDests = processDests;
        cgroupDistinctDests = cgroupDests;
        ancestorCount = -1;
        unixPath = null;
        gpuOpName = null;
        switch (recordType) {
            case TYPE_EXEC -> record = exec.wrap(buffer, offset);
            case TYPE_EXIT -> record = exit.wrap(buffer, offset);
            case TYPE_CONNECT -> {
                record = connect.wrap(buffer, offset);
                decodeAddress();
            }
            case TYPE_GPU_OPEN -> record = gpuOpen.wrap(buffer, offset);
            case TYPE_GPU_IOCTL -> {
                record = gpuIoctl.wrap(buffer, offset);
                decodeIoctl();
            }
            default -> record = exec.wrap(buffer, offset);   // fork: header fields only
        }
    }

    private void decodeAddress() {
        int family = connect.family();
        if (family == ConnectRecord.AF_INET) {
            ipHi = 0;
            ipLo = 0x0000_ffff_0000_0000L | Integer.toUnsignedLong(Integer.reverseBytes(readInt(ADDR_AT)));
        } else if (family == ConnectRecord.AF_INET6) {
            ipHi = Long.reverseBytes(readLong(ADDR_AT));
            ipLo = Long.reverseBytes(readLong(ADDR_AT + 8));
        }
    }

    private static final long ADDR_AT = CONNECT_ADDR;

    private int readInt(long field) {
        return connect.rawInt(field);
    }

    private long readLong(long field) {
        return connect.rawLong(field);
    }

    private void decodeIoctl() {
        gpuClass = -1;
        gpuClassKind = 0;
        gpuAllocBytes = -1;
        gpuControl = -1;
        int role = gpuIoctl.role();
        int effective = (gpuIoctl.flags() & IOCTL_XFER_UNWRAPPED) != 0 ? gpuIoctl.innerCmd() : gpuIoctl.cmd();
        if (role == ROLE_UVM || role == ROLE_UVM_TOOLS || ((effective >>> 8) & 0xff) != 0x46) {
            return;
        }
        switch (effective & 0xff) {
            case 0x2b -> {
                long hClass = gpuIoctl.argU32(12);
                if (hClass >= 0) {
                    gpuClass = (int) hClass;
                    ClassKind kind = NvidiaIoctlDecoder.classKind(gpuClass);
                    gpuClassKind = kind.getNumber();
                    if (kind == ClassKind.CLASS_KIND_MEMORY && (gpuIoctl.flags() & IOCTL_PARAMS_READ) != 0) {
                        gpuAllocBytes = gpuIoctl.aux1();
                    }
                }
            }
            case 0x2a -> gpuControl = (int) gpuIoctl.argU32(8);
            case 0x4a -> {
                if (gpuIoctl.argU32(8) == 2) {
                    gpuAllocBytes = gpuIoctl.argU64(88);
                }
            }
            default -> {
            }
        }
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
            case CONN_ADDR, CONN_PORT -> connect.family() != ConnectRecord.AF_UNIX;
            case CONN_UNIX_PATH -> connect.family() == ConnectRecord.AF_UNIX;
            case GPU_INDEX -> role() == ROLE_GPU;
            case GPU_CLASS, GPU_CLASS_KIND, GPU_COMPUTE -> gpuClass >= 0;
            case GPU_ALLOC_BYTES -> gpuAllocBytes >= 0;
            case GPU_CONTROL -> gpuControl >= 0;
            default -> true;
        };
    }

    public String string(Field f) {
        return switch (f) {
            case EVT_TYPE -> Field.EVENT_TYPE_NAMES[type];
            case PROC_NAME -> slot >= 0 && processes.name(slot) != null ? processes.name(slot) : record.commString();
            case PROC_COMM -> slot >= 0 && processes.comm(slot) != null ? processes.comm(slot) : record.commString();
            case PROC_EXE -> processes.exe(slot);
            case PROC_ARGS -> processes.args(slot);
            case PROC_CMDLINE -> processes.cmdline(slot);
            case PROC_PNAME -> processes.name(parentSlot());
            case PROC_PEXE -> processes.exe(parentSlot());
            case PROC_PCMDLINE -> processes.cmdline(parentSlot());
            case PROC_CGROUP -> cgroupPath();
            case CONN_FAMILY -> switch (connect.family()) {
                case ConnectRecord.AF_INET -> "inet";
                case ConnectRecord.AF_INET6 -> "inet6";
                default -> "unix";
            };
            case CONN_PROTO -> switch (connect.protocol()) {
                case 6 -> "tcp";
                case 17 -> "udp";
                default -> "other";
            };
            case CONN_UNIX_PATH -> unixPath();
            case GPU_DEVICE -> role() < DEVICE_NAMES.length ? DEVICE_NAMES[role()] : "";
            case GPU_OP -> gpuOp();
            case GPU_CLASS_KIND -> CLASS_KIND_NAMES[gpuClassKind];
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
            case PROC_DISTINCT_DESTS -> type == TYPE_CONNECT ? procDistinctDests : processes.distinctDestinations(slot, nowNs);
            case CGROUP_GPU_MEM_BYTES -> processes.cgroupGpuMemBytes(record.cgroupId());
            case CGROUP_DISTINCT_DESTS -> type == TYPE_CONNECT ? cgroupDistinctDests
                    : processes.cgroupDistinctDestinations(record.cgroupId(), nowNs);
            case EXIT_CODE -> exit.signal() == 0 ? exit.exitCode() : 0;
            case EXIT_SIGNAL -> exit.signal();
            case CONN_PORT -> connect.port();
            case GPU_INDEX -> type == TYPE_GPU_OPEN ? gpuOpen.index() : gpuIoctl.index();
            case GPU_CLASS -> gpuClass;
            case GPU_ALLOC_BYTES -> gpuAllocBytes;
            case GPU_CONTROL -> Integer.toUnsignedLong(gpuControl);
            default -> throw new IllegalArgumentException(f + " is not an int field");
        };
    }

    public boolean bool(Field f) {
        return switch (f) {
            case PROC_GPU_COMPUTE -> processes.gpuCompute(slot);
            case CGROUP_GPU_COMPUTE -> processes.cgroupGpuCompute(record.cgroupId());
            case EXEC_FAILED -> exec.failed();
            case GPU_COMPUTE -> gpuClassKind == ClassKind.CLASS_KIND_COMPUTE_VALUE;
            default -> throw new IllegalArgumentException(f + " is not a bool field");
        };
    }

    /** conn.addr as 128 bits; IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d). */
    public long ipHigh() {
        return ipHi;
    }

    public long ipLow() {
        return ipLo;
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

    public int processSlot() {
        return slot;
    }

    public ProcessTable processes() {
        return processes;
    }

    public RecordFlyweight<?> record() {
        return record;
    }

    private int parentSlot() {
        return ancestorCount() > 0 ? ancestorSlots[0] : -1;
    }

    private int role() {
        return type == TYPE_GPU_OPEN ? gpuOpen.role() : gpuIoctl.role();
    }

    private String gpuOp() {
        if (type == TYPE_GPU_OPEN) {
            return "open";
        }
        if (gpuOpName == null) {
            int cmd = (gpuIoctl.flags() & IOCTL_XFER_UNWRAPPED) != 0 ? gpuIoctl.innerCmd() : gpuIoctl.cmd();
            gpuOpName = NvidiaIoctlDecoder.name(gpuIoctl.role(), cmd);
        }
        return gpuOpName;
    }

    private String unixPath() {
        if (unixPath == null) {
            byte[] raw = connect.unixPath();
            int end = 0;
            if (raw.length > 0 && raw[0] == 0) {
                unixPath = "@" + new String(raw, 1, raw.length - 1, StandardCharsets.UTF_8);
            } else {
                while (end < raw.length && raw[end] != 0) {
                    end++;
                }
                unixPath = new String(raw, 0, end, StandardCharsets.UTF_8);
            }
        }
        return unixPath;
    }

    private String cgroupPathCache;
    private long cgroupPathId = -1;
    private java.util.function.LongFunction<String> cgroupPaths = id -> "";

    public void cgroupPaths(java.util.function.LongFunction<String> paths) {
        this.cgroupPaths = paths;
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
