package io.agentguard.rules;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

import static io.agentguard.abi.KernelAbi.*;

/** Every field a condition or output template can name (docs/RULES.md). */
public enum Field {
    EVT_TYPE("evt.type", Type.STRING, Mask.ALL),
    PROC_PID("proc.pid", Type.INT, Mask.ALL),
    PROC_PPID("proc.ppid", Type.INT, Mask.ALL),
    PROC_UID("proc.uid", Type.INT, Mask.ALL),
    PROC_GID("proc.gid", Type.INT, Mask.ALL),
    PROC_NAME("proc.name", Type.STRING, Mask.ALL),
    PROC_COMM("proc.comm", Type.STRING, Mask.ALL),
    PROC_EXE("proc.exe", Type.STRING, Mask.ALL),
    PROC_ARGS("proc.args", Type.STRING, Mask.ALL),
    PROC_CMDLINE("proc.cmdline", Type.STRING, Mask.ALL),
    PROC_PNAME("proc.pname", Type.STRING, Mask.ALL),
    PROC_PEXE("proc.pexe", Type.STRING, Mask.ALL),
    PROC_PCMDLINE("proc.pcmdline", Type.STRING, Mask.ALL),
    /** Any ancestor (multi-valued), or the N-th with an index. */
    PROC_ANAME("proc.aname", Type.STRING, Mask.ALL),
    PROC_CGROUP("proc.cgroup", Type.STRING, Mask.ALL),
    PROC_GPU_COMPUTE("proc.gpu_compute", Type.BOOL, Mask.ALL),
    PROC_GPU_MEM_BYTES("proc.gpu_mem_bytes", Type.INT, Mask.ALL),
    PROC_DISTINCT_DESTS("proc.distinct_dests", Type.INT, Mask.ALL),
    CGROUP_GPU_COMPUTE("cgroup.gpu_compute", Type.BOOL, Mask.ALL),
    CGROUP_GPU_MEM_BYTES("cgroup.gpu_mem_bytes", Type.INT, Mask.ALL),
    CGROUP_DISTINCT_DESTS("cgroup.distinct_dests", Type.INT, Mask.ALL),
    EXEC_FAILED("exec.failed", Type.BOOL, Mask.bit(AG_REC_EXEC)),
    /** memfd, deleted file, or run through a descriptor (AT_EMPTY_PATH). */
    EXEC_FILELESS("exec.fileless", Type.BOOL, Mask.bit(AG_REC_EXEC)),
    /** The dynamic loader run as the program (ld.so PROGRAM). */
    EXEC_LOADER("exec.loader", Type.BOOL, Mask.bit(AG_REC_EXEC)),
    /** Inode of the executed file (with exec.dev: what ran, whatever its name). */
    EXEC_INODE("exec.inode", Type.INT, Mask.bit(AG_REC_EXEC)),
    /** Its file system as "major:minor". */
    EXEC_DEV("exec.dev", Type.STRING, Mask.bit(AG_REC_EXEC)),
    EXIT_CODE("exit.code", Type.INT, Mask.bit(AG_REC_EXIT)),
    EXIT_SIGNAL("exit.signal", Type.INT, Mask.bit(AG_REC_EXIT)),
    CONN_FAMILY("conn.family", Type.STRING, Mask.bit(AG_REC_CONNECT)),
    CONN_ADDR("conn.addr", Type.IP, Mask.bit(AG_REC_CONNECT)),
    CONN_PORT("conn.port", Type.INT, Mask.bit(AG_REC_CONNECT)),
    CONN_PROTO("conn.proto", Type.STRING, Mask.bit(AG_REC_CONNECT)),
    CONN_UNIX_PATH("conn.unix_path", Type.STRING, Mask.bit(AG_REC_CONNECT)),
    GPU_DEVICE("gpu.device", Type.STRING, Mask.bit(AG_REC_GPU_OPEN) | Mask.bit(AG_REC_GPU_IOCTL)),
    GPU_INDEX("gpu.index", Type.INT, Mask.bit(AG_REC_GPU_OPEN) | Mask.bit(AG_REC_GPU_IOCTL)),
    GPU_OP("gpu.op", Type.STRING, Mask.bit(AG_REC_GPU_OPEN) | Mask.bit(AG_REC_GPU_IOCTL)),
    GPU_CLASS("gpu.class", Type.INT, Mask.bit(AG_REC_GPU_IOCTL)),
    GPU_CLASS_KIND("gpu.class_kind", Type.STRING, Mask.bit(AG_REC_GPU_IOCTL)),
    GPU_COMPUTE("gpu.compute", Type.BOOL, Mask.bit(AG_REC_GPU_IOCTL)),
    GPU_ALLOC_BYTES("gpu.alloc_bytes", Type.INT, Mask.bit(AG_REC_GPU_IOCTL)),
    GPU_CONTROL("gpu.control", Type.INT, Mask.bit(AG_REC_GPU_IOCTL));

    /** Value types; comparisons are checked against them at compile time. */
    public enum Type {
        STRING, INT, BOOL, IP;

        String lower() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Event types a rule is indexed by; bit N = record type N. */
    public static final int ALL_EVENT_TYPES = Mask.ALL;
    private static final Map<String, Field> BY_NAME = new HashMap<>();

    static {
        for (Field f : values()) {
            BY_NAME.put(f.fieldName, f);
        }
    }

    private final String fieldName;
    private final Type type;
    private final int eventTypes;

    Field(String fieldName, Type type, int eventTypes) {
        this.fieldName = fieldName;
        this.type = type;
        this.eventTypes = eventTypes;
    }

    /** Bit masks of record types (a holder: enum constants cannot use the enum's own statics). */
    private static final class Mask {
        static final int ALL = (1 << AG_REC_EXEC) | (1 << AG_REC_FORK) | (1 << AG_REC_EXIT) | (1 << AG_REC_CONNECT)
                | (1 << AG_REC_GPU_OPEN) | (1 << AG_REC_GPU_IOCTL);

        static int bit(int type) {
            return 1 << type;
        }
    }

    public String fieldName() {
        return fieldName;
    }

    public Type type() {
        return type;
    }

    /** Event types where this field has a value. */
    public int eventTypes() {
        return eventTypes;
    }

    public static Field byName(String name) {
        return BY_NAME.get(name);
    }

    public static java.util.Set<String> names() {
        return BY_NAME.keySet();
    }

    /** Event type names as evt.type compares them; index = record type. */
    public static final String[] EVENT_TYPE_NAMES = {null, "exec", "fork", "exit", "connect", null, "gpu_open", "gpu_ioctl"};

    static int eventType(String name) {
        for (int t = 1; t < EVENT_TYPE_NAMES.length; t++) {
            if (name.equals(EVENT_TYPE_NAMES[t])) {
                return t;
            }
        }
        return -1;
    }
}
