package io.agentguard.event;

/**
 * Java mirror of bpf/agentguard.h: record types, sizes and field offsets (bytes).
 * RecordLayoutTest proves every constant equal to offsetof()/sizeof() in C.
 *
 * <pre>
 * ag_header (64)     0 type u16   2 size u16   4 cpu u32   8 ktime_ns u64   16 cgroup_id u64
 *                   24 pid u32   28 tid u32   32 ppid u32  36 uid u32   40 gid u32   44 reserved
 *                   48 comm[16]
 * ag_exec            64 old_pid u32   68 filename_len u16   70 args_len u16   72 args_total_len u32
 *                    76 flags u16     78 error u16          80 filename[256]      336 args[args_len]
 * ag_fork (72)       64 child_pid u32
 * ag_exit (80)       64 exit_code u32   72 start_ns u64
 * ag_connect (216)   64 sock_cookie u64   72 family u16   74 sock_type u16   76 protocol u16
 *                    78 port u16   80 addr[16]   96 verdict u32   100 flags u32
 *                   104 unix_path[108]   212 unix_path_len u32
 * ag_connect_result (80)  64 sock_cookie u64   72 error s32   76 old_state u16   78 new_state u16
 * ag_gpu_open (80)   64 major u32   68 minor u32   72 role u16   74 index u16   76 access u16   78 verdict u16
 * ag_gpu_ioctl (312) 64 fd u32   68 cmd u32   72 major u32   76 minor u32   80 role u16   82 index u16
 *                    84 arg_len u16   86 flags u16   88 inner_cmd u32   96 arg_ptr u64
 *                   104 aux0 u64   112 aux1 u64   120 arg[192]   (92 verdict u32)
 * ag_tamper (80)     64 target_pid u32   68 signal u32   72 kind u16   74 verdict u16
 * </pre>
 */
public final class RecordLayout {
    private RecordLayout() {
    }

    // record types (enum ag_record_type)
    public static final int TYPE_EXEC = 1;
    public static final int TYPE_FORK = 2;
    public static final int TYPE_EXIT = 3;
    public static final int TYPE_CONNECT = 4;
    public static final int TYPE_CONNECT_RESULT = 5;
    public static final int TYPE_GPU_OPEN = 6;
    public static final int TYPE_GPU_IOCTL = 7;
    public static final int TYPE_TAMPER = 8;
    public static final int TYPE_MAX = 8;

    public static final int COMM_LEN = 16;
    public static final int PATH_MAX = 256;
    public static final int ARGS_MAX = 8192;
    public static final int UNIX_PATH_MAX = 108;
    public static final int IOCTL_ARG_MAX = 192;

    // struct ag_header
    public static final long HEADER_SIZE = 64;
    public static final long HEADER_TYPE = 0;
    public static final long HEADER_SIZE_FIELD = 2;
    public static final long HEADER_CPU = 4;
    public static final long HEADER_KTIME_NS = 8;
    public static final long HEADER_CGROUP_ID = 16;
    public static final long HEADER_PID = 24;
    public static final long HEADER_TID = 28;
    public static final long HEADER_PPID = 32;
    public static final long HEADER_UID = 36;
    public static final long HEADER_GID = 40;
    public static final long HEADER_COMM = 48;

    // struct ag_exec
    public static final long EXEC_OLD_PID = 64;
    public static final long EXEC_FILENAME_LEN = 68;
    public static final long EXEC_ARGS_LEN = 70;
    public static final long EXEC_ARGS_TOTAL_LEN = 72;
    public static final long EXEC_FLAGS = 76;
    public static final long EXEC_ERROR = 78;
    public static final long EXEC_FILENAME = 80;
    public static final long EXEC_ARGS = 336;
    public static final long EXEC_SIZE = EXEC_ARGS + ARGS_MAX;
    public static final int EXEC_FILENAME_TRUNCATED = 0x1;
    public static final int EXEC_ARGS_TRUNCATED = 0x2;
    public static final int EXEC_ARGS_UNREADABLE = 0x4;
    public static final int EXEC_FAILED = 0x8;
    public static final int EXEC_DENIED = 0x10;
    public static final int EXEC_WOULD_BLOCK = 0x20;

    // struct ag_fork
    public static final long FORK_CHILD_PID = 64;
    public static final long FORK_SIZE = 72;

    // struct ag_exit
    public static final long EXIT_EXIT_CODE = 64;
    public static final long EXIT_START_NS = 72;
    public static final long EXIT_SIZE = 80;

    // struct ag_connect
    public static final long CONNECT_SOCK_COOKIE = 64;
    public static final long CONNECT_FAMILY = 72;
    public static final long CONNECT_SOCK_TYPE = 74;
    public static final long CONNECT_PROTOCOL = 76;
    public static final long CONNECT_PORT = 78;
    public static final long CONNECT_ADDR = 80;
    public static final long CONNECT_VERDICT = 96;
    public static final long CONNECT_FLAGS = 100;
    public static final long CONNECT_UNIX_PATH = 104;
    public static final long CONNECT_UNIX_PATH_LEN = 212;
    public static final long CONNECT_SIZE = 216;
    public static final int CONNECT_RESULT_FOLLOWS = 0x1;
    public static final int CONNECT_SENDMSG = 0x2;

    // struct ag_connect_result
    public static final long CONNECT_RESULT_SOCK_COOKIE = 64;
    public static final long CONNECT_RESULT_ERROR = 72;
    public static final long CONNECT_RESULT_OLD_STATE = 76;
    public static final long CONNECT_RESULT_NEW_STATE = 78;
    public static final long CONNECT_RESULT_SIZE = 80;

    // struct ag_gpu_open
    public static final long GPU_OPEN_MAJOR = 64;
    public static final long GPU_OPEN_MINOR = 68;
    public static final long GPU_OPEN_ROLE = 72;
    public static final long GPU_OPEN_INDEX = 74;
    public static final long GPU_OPEN_ACCESS = 76;
    public static final long GPU_OPEN_VERDICT = 78;
    public static final long GPU_OPEN_SIZE = 80;

    // struct ag_gpu_ioctl
    public static final long GPU_IOCTL_FD = 64;
    public static final long GPU_IOCTL_CMD = 68;
    public static final long GPU_IOCTL_MAJOR = 72;
    public static final long GPU_IOCTL_MINOR = 76;
    public static final long GPU_IOCTL_ROLE = 80;
    public static final long GPU_IOCTL_INDEX = 82;
    public static final long GPU_IOCTL_ARG_LEN = 84;
    public static final long GPU_IOCTL_FLAGS = 86;
    public static final long GPU_IOCTL_INNER_CMD = 88;
    public static final long GPU_IOCTL_VERDICT = 92;
    public static final long GPU_IOCTL_ARG_PTR = 96;
    public static final long GPU_IOCTL_AUX0 = 104;
    public static final long GPU_IOCTL_AUX1 = 112;
    public static final long GPU_IOCTL_ARG = 120;
    public static final long GPU_IOCTL_SIZE = 312;
    public static final int IOCTL_ARG_UNREADABLE = 0x1;
    public static final int IOCTL_XFER_UNWRAPPED = 0x2;
    public static final int IOCTL_PARAMS_READ = 0x4;

    // struct ag_config (map value)
    public static final long CONFIG_SCOPE_LEVELS = 0;
    public static final long CONFIG_MAX_ARGS_BYTES = 8;
    public static final long CONFIG_RINGBUF_WAKEUP = 12;
    public static final long CONFIG_SYSCALL_OUTCOMES = 16;
    public static final long CONFIG_GENERATION = 20;
    public static final long CONFIG_POLICY_LEVELS = 24;
    public static final long CONFIG_DAEMON_TGID = 32;
    public static final long CONFIG_TAMPER_ENFORCE = 36;
    public static final long CONFIG_SIZE = 40;

    // struct ag_tamper
    public static final long TAMPER_TARGET_PID = 64;
    public static final long TAMPER_SIGNAL = 68;
    public static final long TAMPER_KIND = 72;
    public static final long TAMPER_VERDICT = 74;
    public static final long TAMPER_SIZE = 80;
    public static final int TAMPER_SIGNAL_KIND = 1;
    public static final int TAMPER_PTRACE_KIND = 2;

    // policy maps
    public static final int MAX_POLICIES = 64;
    public static final int EGRESS_RULES = 8;
    public static final int POLICY_ENFORCE = 0x1;
    public static final int POLICY_EGRESS_DEFAULT_DENY = 0x2;
    public static final int POLICY_COMPUTE_ALLOWED = 0x4;
    public static final int POLICY_GPU_ALL = 0x8;
    public static final long POLICY_FLAGS = 0;
    public static final long POLICY_GPU_ALLOWED = 8;
    public static final long POLICY_SIZE = 16;
    public static final long POLICY_ROOT_KEY_GENERATION = 0;
    public static final long POLICY_ROOT_KEY_CGROUP_ID = 8;
    public static final long POLICY_ROOT_KEY_SIZE = 16;
    public static final long EGRESS_KEY_PREFIXLEN = 0;
    public static final long EGRESS_KEY_POLICY = 4;
    public static final long EGRESS_KEY_ADDR = 8;
    public static final long EGRESS_KEY_SIZE = 24;
    public static final long EGRESS_VALUE_COUNT = 0;
    public static final long EGRESS_VALUE_RULES = 4;
    public static final long EGRESS_RULE_SIZE = 8;
    public static final long EGRESS_RULE_ACTION = 0;
    public static final long EGRESS_RULE_PROTOCOL = 1;
    public static final long EGRESS_RULE_PORT_LO = 2;
    public static final long EGRESS_RULE_PORT_HI = 4;
    public static final long EGRESS_VALUE_SIZE = 68;
    public static final int EGRESS_ALLOW = 1;
    public static final int EGRESS_DENY = 2;
    public static final long EXEC_NAME_KEY_POLICY = 0;
    public static final long EXEC_NAME_KEY_NAME = 4;
    public static final long EXEC_NAME_KEY_SIZE = 20;
    public static final long EXEC_PATH_KEY_POLICY = 0;
    public static final long EXEC_PATH_KEY_PATH = 4;
    public static final long EXEC_PATH_KEY_SIZE = 260;
    public static final long EXE_KEY_POLICY = 0;
    public static final long EXE_KEY_DEV = 8;
    public static final long EXE_KEY_INO = 16;
    public static final long EXE_KEY_SIZE = 24;

    // struct ag_device_key / ag_device_role_value
    public static final long DEVICE_KEY_MAJOR = 0;
    public static final long DEVICE_KEY_MINOR = 4;
    public static final long DEVICE_KEY_SIZE = 8;
    public static final long DEVICE_ROLE_ROLE = 0;
    public static final long DEVICE_ROLE_INDEX = 2;
    public static final long DEVICE_ROLE_SIZE = 4;

    // enum ag_device_role
    public static final int ROLE_CONTROL = 1;
    public static final int ROLE_GPU = 2;
    public static final int ROLE_UVM = 3;
    public static final int ROLE_MODESET = 4;
    public static final int ROLE_UVM_TOOLS = 5;
    public static final int ROLE_CAPS = 6;
    public static final int ROLE_NVIDIA_MAJOR = 16;
    public static final int ROLE_UVM_MAJOR = 17;
    public static final int ANY_MINOR = 0xffffffff;

    // enum ag_verdict
    public static final int VERDICT_ALLOWED = 0;
    public static final int VERDICT_DENIED = 1;
    public static final int VERDICT_WOULD_BLOCK = 2;

    // enum ag_counter
    public static final int COUNTER_EMITTED = 0;
    public static final int COUNTER_LOST = 1;
    public static final int COUNTER_MAX = 2;

    /** Whether a header's type and size can be a record of ours (anything else is skipped, counted). */
    public static boolean plausible(int type, int size) {
        return type >= 1 && type <= TYPE_MAX && size >= MIN_SIZE[type] && size <= MAX_SIZE[type];
    }

    /** Smallest valid size of each record type; index = type. */
    private static final long[] MIN_SIZE = {
        0, EXEC_ARGS, FORK_SIZE, EXIT_SIZE, CONNECT_SIZE, CONNECT_RESULT_SIZE, GPU_OPEN_SIZE, GPU_IOCTL_SIZE,
        TAMPER_SIZE,
    };
    /** Largest valid size of each record type; index = type. */
    private static final long[] MAX_SIZE = {
        0, EXEC_SIZE, FORK_SIZE, EXIT_SIZE, CONNECT_SIZE, CONNECT_RESULT_SIZE, GPU_OPEN_SIZE, GPU_IOCTL_SIZE,
        TAMPER_SIZE,
    };
}
