package io.agentguard.rules;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

import static io.agentguard.abi.KernelAbi.*;

/** Every field a condition or output template can name (docs/RULES.md). */
public enum Field {
    EVT_TYPE("evt.type", Type.STRING, Mask.ALL,
            "exec", "the event type: exec, fork, exit, connect, gpu_open, gpu_ioctl, socket"),
    EVT_VERDICT("evt.verdict", Type.STRING, Mask.ALL,
            "denied", "the kernel's verdict on the event: allowed, denied (blocked), would_block (monitor mode);"
                    + " allowed where the kernel judges nothing"),
    PROC_PID("proc.pid", Type.INT, Mask.ALL,
            "4242", "process id (thread group id)"),
    PROC_PPID("proc.ppid", Type.INT, Mask.ALL,
            "4200", "parent process id"),
    PROC_UID("proc.uid", Type.INT, Mask.ALL,
            "1000", "real user id"),
    PROC_GID("proc.gid", Type.INT, Mask.ALL,
            "1000", "real group id"),
    PROC_NAME("proc.name", Type.STRING, Mask.ALL,
            "python3", "file name of the executable (last element of proc.exe), else the kernel's comm"),
    PROC_COMM("proc.comm", Type.STRING, Mask.ALL,
            "python3", "the kernel's task name (at most 15 bytes)"),
    PROC_EXE("proc.exe", Type.STRING, Mask.ALL,
            "/usr/bin/python3", "executable path as passed to execve"),
    PROC_ARGS("proc.args", Type.STRING, Mask.ALL,
            "-m pip install requests", "arguments after argv[0], joined by single spaces"),
    PROC_CMDLINE("proc.cmdline", Type.STRING, Mask.ALL,
            "python3 -m pip install requests", "the whole argv joined by single spaces"),
    PROC_PNAME("proc.pname", Type.STRING, Mask.ALL,
            "bash", "the parent's proc.name"),
    PROC_PEXE("proc.pexe", Type.STRING, Mask.ALL,
            "/usr/bin/bash", "the parent's proc.exe"),
    PROC_PCMDLINE("proc.pcmdline", Type.STRING, Mask.ALL,
            "bash -c make", "the parent's proc.cmdline"),
    PROC_ANAME("proc.aname", Type.STRING, Mask.ALL,
            "sshd", "any ancestor's name (a comparison holds if it holds for one); proc.aname[N]: the N-th (1 = parent)"),
    PROC_CGROUP("proc.cgroup", Type.STRING, Mask.ALL,
            "agentguard/sandbox", "cgroup path relative to the cgroup2 mount"),
    PROC_GPU_COMPUTE("proc.gpu_compute", Type.BOOL, Mask.ALL,
            "true", "this process has created a GPU compute context"),
    PROC_GPU_MEM_BYTES("proc.gpu_mem_bytes", Type.INT, Mask.ALL,
            "8589934592", "GPU memory this process has allocated so far"),
    PROC_DISTINCT_DESTS("proc.distinct_dests", Type.INT, Mask.ALL,
            "3", "distinct destinations (address and port) this process connected to in the state window"),
    PROC_EXE_CREATED_IN_CGROUP("proc.exe_created_in_cgroup", Type.BOOL, Mask.ALL,
            "true", "the executable file was written (its ctime) after the process's cgroup came to be: dropped or"
                    + " built inside the sandbox; false when unknown"),
    PROC_EXE_PROGRAM("proc.exe_program", Type.STRING, Mask.ALL,
            "ssh", "what the executable is by identity (file system and inode of a well-known program on PATH: ssh,"
                    + " git, curl, bash, nc, socat, nvidia-smi...), whatever its name; \"\" if none"),
    CGROUP_GPU_COMPUTE("cgroup.gpu_compute", Type.BOOL, Mask.ALL,
            "true", "a process of the event's cgroup has created a GPU compute context"),
    CGROUP_GPU_MEM_BYTES("cgroup.gpu_mem_bytes", Type.INT, Mask.ALL,
            "17179869184", "GPU memory the processes of the event's cgroup have allocated"),
    CGROUP_DISTINCT_DESTS("cgroup.distinct_dests", Type.INT, Mask.ALL,
            "12", "distinct destinations of the event's cgroup in the state window"),
    CONTAINER_ID("container.id", Type.STRING, Mask.ALL,
            "3f4e5a6b7c8d", "the container's id as docker ps and Falco show it (its first 12 hex characters), from the"
                    + " cgroup path; \"\" outside a container"),
    CONTAINER_FULL_ID("container.full_id", Type.STRING, Mask.ALL,
            "3f4e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f", "the container's full id (64 hex), from the"
                    + " cgroup path; \"\" outside a container"),
    CONTAINER_NAME("container.name", Type.STRING, Mask.ALL,
            "trainer", "the container's name, from the runtime's socket where it answered (best effort, may come after the"
                    + " first events); \"\" otherwise"),
    CONTAINER_RUNTIME("container.runtime", Type.STRING, Mask.ALL,
            "containerd", "the runtime the cgroup path names: docker, containerd, cri-o, podman; \"\" outside a container"
                    + " or where the path does not tell (Kubernetes with the cgroupfs driver)"),
    K8S_POD_UID("k8s.pod.uid", Type.STRING, Mask.ALL,
            "0d8e4a8c-1b2f-4c7e-9a51-6f0c2b7d9e13", "the Kubernetes pod's UID, from the cgroup path; \"\" outside a pod"),
    K8S_POD_NAME("k8s.pod.name", Type.STRING, Mask.ALL,
            "trainer-7", "the pod's name, from the CRI socket where it answered (best effort); \"\" otherwise"),
    K8S_NS_NAME("k8s.ns.name", Type.STRING, Mask.ALL,
            "ml-agents", "the pod's namespace, from the CRI socket where it answered (best effort); \"\" otherwise"),
    SLURM_JOB_ID("slurm.job_id", Type.STRING, Mask.ALL,
            "4242", "the Slurm job, from the cgroup path; \"\" outside a job"),
    SLURM_STEP_ID("slurm.step_id", Type.STRING, Mask.ALL,
            "0", "the Slurm step: a number, batch, extern or interactive; \"\" outside a step"),
    SYSTEMD_UNIT("systemd.unit", Type.STRING, Mask.ALL,
            "agent-7.scope", "the innermost systemd unit on the cgroup path (.service or .scope); \"\" if none"),
    WORKLOAD_KIND("workload.kind", Type.STRING, Mask.ALL,
            "kubernetes", "what the cgroup path says owns the process: kubernetes, container, slurm, systemd_service,"
                    + " systemd_scope; \"\" if no layout is recognised. A label, not a credential (docs/EVENTS.md)"),
    POLICY_MODE("policy.mode", Type.STRING, Mask.ALL,
            "enforce", "mode of the policy of the event's cgroup (nearest policy root): enforce or monitor"),
    POLICY_GPU_GRANTED("policy.gpu_granted", Type.BOOL, Mask.ALL,
            "true", "the policy grants this GPU (a GPU node: its index; control/UVM nodes and other events: any GPU)"),
    POLICY_COMPUTE_GRANTED("policy.compute_granted", Type.BOOL, Mask.ALL,
            "true", "the policy grants GPU compute to this process (compute: true, or its executable is one of the"
                    + " policy's compute executables)"),
    POLICY_EGRESS_ALLOWED_EXPLICITLY("policy.egress_allowed_explicitly", Type.BOOL, Mask.bit(AG_REC_CONNECT),
            "true", "the kernel allowed this inet connect by an allow entry of the policy (not by the default)"),
    EXEC_FAILED("exec.failed", Type.BOOL, Mask.bit(AG_REC_EXEC),
            "false", "the exec failed (reported only with syscall outcomes on)"),
    EXEC_FILELESS("exec.fileless", Type.BOOL, Mask.bit(AG_REC_EXEC),
            "true", "the program ran without a file name: memfd, deleted file, or through a descriptor"),
    EXEC_LOADER("exec.loader", Type.BOOL, Mask.bit(AG_REC_EXEC),
            "true", "the program is the dynamic loader run as ld.so PROGRAM"),
    EXEC_INODE("exec.inode", Type.INT, Mask.bit(AG_REC_EXEC),
            "1311234", "inode of the executed file (with exec.dev: what ran, whatever its name)"),
    EXEC_DEV("exec.dev", Type.STRING, Mask.bit(AG_REC_EXEC),
            "259:1", "file system of the executed file, as major:minor"),
    EXEC_HELD("exec.held", Type.BOOL, Mask.bit(AG_REC_EXEC),
            "true", "the kernel stopped this tunnel-capable program at exec until the daemon judged it"),
    EXEC_STDIO_SOCKET("exec.stdio_socket", Type.BOOL, Mask.bit(AG_REC_EXEC),
            "true", "stdin or stdout of the new program is an inet socket (a shell served over the network)"),
    EXIT_CODE("exit.code", Type.INT, Mask.bit(AG_REC_EXIT),
            "0", "exit code (0 when a signal ended the process)"),
    EXIT_SIGNAL("exit.signal", Type.INT, Mask.bit(AG_REC_EXIT),
            "9", "the signal that ended the process, else 0"),
    CONN_FAMILY("conn.family", Type.STRING, Mask.bit(AG_REC_CONNECT),
            "inet", "address family: inet, inet6, unix"),
    CONN_ADDR("conn.addr", Type.IP, Mask.bit(AG_REC_CONNECT),
            "192.0.2.10", "destination address"),
    CONN_PORT("conn.port", Type.INT, Mask.bit(AG_REC_CONNECT),
            "443", "destination port"),
    CONN_PROTO("conn.proto", Type.STRING, Mask.bit(AG_REC_CONNECT),
            "tcp", "transport: tcp, udp, other"),
    CONN_UNIX_PATH("conn.unix_path", Type.STRING, Mask.bit(AG_REC_CONNECT),
            "/run/docker.sock", "Unix socket path (abstract names start with @)"),
    CONN_UNIX_OUTSIDE("conn.unix_outside", Type.BOOL, Mask.bit(AG_REC_CONNECT),
            "true", "Unix: the listener is owned outside the agent cgroups, as the kernel knew at the connect"),
    CONN_PEER_PID("conn.peer_pid", Type.INT, Mask.bit(AG_REC_CONNECT),
            "812", "the outside listener's pid"),
    CONN_PEER_UID("conn.peer_uid", Type.INT, Mask.bit(AG_REC_CONNECT),
            "0", "the outside listener's effective uid"),
    CONN_PEER_COMM("conn.peer_comm", Type.STRING, Mask.bit(AG_REC_CONNECT),
            "dockerd", "the outside listener's task name"),
    CONN_TUNNEL("conn.tunnel", Type.BOOL, Mask.bit(AG_REC_CONNECT),
            "true", "the kernel marked the connect as made by a tunnel program (SSH client or tunnel tool)"),
    CONN_SHELL("conn.shell", Type.BOOL, Mask.bit(AG_REC_CONNECT),
            "true", "the kernel marked the connect as made by a shell (a reverse shell's /dev/tcp)"),
    SOCKET_FAMILY("socket.family", Type.STRING, Mask.bit(AG_REC_SOCKET),
            "packet", "family of a raw, ping or packet socket: inet, inet6, packet"),
    SOCKET_TYPE("socket.type", Type.STRING, Mask.bit(AG_REC_SOCKET),
            "raw", "raw, dgram (an ICMP ping socket), packet"),
    SOCKET_PROTOCOL("socket.protocol", Type.INT, Mask.bit(AG_REC_SOCKET),
            "1", "protocol as passed to socket()"),
    GPU_DEVICE("gpu.device", Type.STRING, Mask.bit(AG_REC_GPU_OPEN) | Mask.bit(AG_REC_GPU_IOCTL),
            "gpu", "NVIDIA node: control, gpu, uvm, modeset, uvm_tools, caps"),
    GPU_INDEX("gpu.index", Type.INT, Mask.bit(AG_REC_GPU_OPEN) | Mask.bit(AG_REC_GPU_IOCTL),
            "0", "GPU index of a gpu node"),
    GPU_OP("gpu.op", Type.STRING, Mask.bit(AG_REC_GPU_OPEN) | Mask.bit(AG_REC_GPU_IOCTL),
            "RM_ALLOC", "open, or the ioctl's name"),
    GPU_CLASS("gpu.class", Type.INT, Mask.bit(AG_REC_GPU_IOCTL),
            "0xcbc0", "RM_ALLOC class id (HOPPER_COMPUTE_A is 0xcbc0)"),
    GPU_CLASS_KIND("gpu.class_kind", Type.STRING, Mask.bit(AG_REC_GPU_IOCTL),
            "compute", "kind of the RM_ALLOC class: client, device, memory, channel, compute, mps, other..."),
    GPU_COMPUTE("gpu.compute", Type.BOOL, Mask.bit(AG_REC_GPU_IOCTL),
            "true", "this call creates a GPU compute object"),
    GPU_COMPUTE_NEW("gpu.compute_new", Type.BOOL, Mask.bit(AG_REC_GPU_IOCTL),
            "true", "this call creates the process's first compute object on this GPU (once per process and GPU; a"
                    + " CUDA context makes several)"),
    GPU_ALLOC_BYTES("gpu.alloc_bytes", Type.INT, Mask.bit(AG_REC_GPU_IOCTL),
            "2097152", "allocation size of this call"),
    GPU_CONTROL("gpu.control", Type.INT, Mask.bit(AG_REC_GPU_IOCTL),
            "0x20800102", "RM_CONTROL control id");

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
    private final String example;
    private final String description;

    Field(String fieldName, Type type, int eventTypes, String example, String description) {
        this.fieldName = fieldName;
        this.type = type;
        this.eventTypes = eventTypes;
        this.example = example;
        this.description = description;
    }

    /** Bit masks of record types (a holder: enum constants cannot use the enum's own statics). */
    private static final class Mask {
        static final int ALL = (1 << AG_REC_EXEC) | (1 << AG_REC_FORK) | (1 << AG_REC_EXIT) | (1 << AG_REC_CONNECT)
                | (1 << AG_REC_GPU_OPEN) | (1 << AG_REC_GPU_IOCTL) | (1 << AG_REC_SOCKET);

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

    /** A value the field may have, as a condition would write it. */
    public String example() {
        return example;
    }

    /** One line: what the field is (agentguard rules fields, docs/RULES.md). */
    public String description() {
        return description;
    }

    /** Names of the event types where the field has a value, in record type order. */
    public java.util.List<String> eventNames() {
        java.util.List<String> names = new java.util.ArrayList<>();
        for (int t = 1; t < EVENT_TYPE_NAMES.length; t++) {
            if (EVENT_TYPE_NAMES[t] != null && (eventTypes & (1 << t)) != 0) {
                names.add(EVENT_TYPE_NAMES[t]);
            }
        }
        return names;
    }

    public static Field byName(String name) {
        return BY_NAME.get(name);
    }

    public static java.util.Set<String> names() {
        return BY_NAME.keySet();
    }

    /** Event type names as evt.type compares them; index = record type. */
    public static final String[] EVENT_TYPE_NAMES = {null, "exec", "fork", "exit", "connect", null, "gpu_open", "gpu_ioctl",
            null, null, null, "socket"};

    static int eventType(String name) {
        for (int t = 1; t < EVENT_TYPE_NAMES.length; t++) {
            if (name.equals(EVENT_TYPE_NAMES[t])) {
                return t;
            }
        }
        return -1;
    }
}
