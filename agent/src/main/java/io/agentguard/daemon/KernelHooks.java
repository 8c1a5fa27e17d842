package io.agentguard.daemon;

import io.agentguard.abi.KernelAbi;
import io.agentguard.abi.KernelAbi.Maps;
import io.agentguard.abi.KernelAbi.Programs;
import io.agentguard.bpf.BpfException;
import io.agentguard.bpf.BpfLink;
import io.agentguard.bpf.BpfMap;
import io.agentguard.bpf.BpfObject;
import io.agentguard.bpf.BpfPins;
import io.agentguard.bpf.BpfProgram;
import io.agentguard.bpf.ConfigMap;
import io.agentguard.bpf.Errno;
import io.agentguard.bpf.FeatureProbe;
import io.agentguard.bpf.Libc;
import io.agentguard.bpf.PinnedAttachments;
import io.agentguard.config.SyscallOutcomes;
import io.agentguard.gpu.NvidiaDevices;
import io.agentguard.log.Log;
import io.agentguard.scope.AgentCgroups;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The agent's kernel side for this kernel and configuration: the embedded BPF object opened
 * with the programs the {@link FeatureProbe} allows, its maps pinned (a restart adopts them,
 * waiting ring records included), loaded, and each capability's hooks chosen and attached.
 * The choice per capability, with the reason for a fallback, is kept as the description
 * that the start-up lines and {@code agentguard status} show.
 *
 * <p>The NVIDIA ioctl tracepoint puts every task's syscalls on the slow path, so without LSM
 * it is attached only once an NVIDIA driver or a stand-in exists ({@link #devicesChanged}).
 */
final class KernelHooks implements AutoCloseable {
    private static final Path TRACEFS = Path.of("/sys/kernel/tracing");
    private static final List<String> CGROUP_PROGRAMS = List.of(Programs.CONNECT4, Programs.CONNECT6,
            Programs.SENDMSG4, Programs.SENDMSG6, Programs.DEV, Programs.SOCK_CREATE);
    private static final List<String> SYSCALL_OUTCOME_PROGRAMS = List.of(Programs.CONNECT_EXIT,
            Programs.EXECVE_ENTER, Programs.EXECVEAT_ENTER, Programs.EXECVE_EXIT, Programs.EXECVEAT_EXIT);

    /** What the hooks depend on in the configuration. */
    public record Settings(int ringBufferBytes, boolean selfProtection, SyscallOutcomes syscallOutcomes,
                           String pinPath, boolean gpuStandins) {
    }

    private final BpfObject object;
    private final FeatureProbe.Result probe;
    private final BpfPins pins;
    private final Settings settings;
    private final Log log;
    private final PinnedAttachments attachments;
    private final ConfigMap config;
    private final Map<String, String> descriptions = Collections.synchronizedMap(new LinkedHashMap<>());
    private volatile boolean ioctlAttached;
    private volatile boolean syscallOutcomesAttached;
    private volatile boolean socketTracepointAttached;
    private BpfLink unixListeners;

    private KernelHooks(BpfObject object, FeatureProbe.Result probe, BpfPins pins, Settings settings, Log log) {
        this.object = object;
        this.probe = probe;
        this.pins = pins;
        this.settings = settings;
        this.log = log;
        this.attachments = new PinnedAttachments(pins);
        this.config = new ConfigMap(object.map(Maps.CONFIG));
    }

    /** Probes the kernel, prepares the pins and loads the object; nothing is attached yet. */
    static KernelHooks load(Settings settings, Log log) {
        byte[] elf = BpfObject.embeddedElf();
        FeatureProbe.Result probe = FeatureProbe.run(elf);
        BpfPins pins = settings.pinPath().isEmpty() ? null : new BpfPins(Path.of(settings.pinPath()), elf);
        if (pins != null) {
            BpfPins.ensureBpffs(pins.root());
            if (pins.exists() && !pins.sameVersion()) {
                log.info("pinned state under " + pins.root() + " is from another agentguard build:"
                        + " replacing it (enforcement pauses while the new programs attach)");
                pins.removeAll();
            }
            pins.prepare();
        }
        BpfObject opened = open(elf, probe, settings.ringBufferBytes(), pins);
        try {
            opened.load();
        } catch (BpfException e) {
            opened.close();
            if (pins == null) {
                throw e;
            }
            // e.g. a different ring size than the pinned ring: start over with fresh pins
            log.info("pinned maps under " + pins.root() + " do not fit this configuration ("
                    + e.getMessage().lines().findFirst().orElse("") + "): replacing them");
            pins.removeAll();
            pins.prepare();
            opened = open(elf, probe, settings.ringBufferBytes(), pins);
            opened.load();
        }
        try {
            return new KernelHooks(opened, probe, pins, settings, log);
        } catch (RuntimeException e) {
            opened.close();
            throw e;
        }
    }

    private static BpfObject open(byte[] elf, FeatureProbe.Result probe, int ringBufferBytes, BpfPins pins) {
        BpfObject obj = BpfObject.open(elf);
        try {
            obj.map(Maps.RING).maxEntries(ringBufferBytes);
            obj.program(Programs.IOCTL_LSM).autoload(probe.lsm());
            obj.program(Programs.IOCTL_TP).autoload(!probe.lsm());
            obj.program(Programs.SOCKET_ENTER).autoload(!probe.lsm());
            obj.program(Programs.UNIX_LISTENERS).autoload(probe.unixIterator());
            for (String lsm : List.of(Programs.EXEC_LSM, Programs.KILL_LSM, Programs.PTRACE_LSM, Programs.SOCKET_LSM)) {
                obj.program(lsm).autoload(probe.lsm());
            }
            BpfProgram unix = obj.program(Programs.CONNECT_UNIX);
            BpfProgram unixSend = obj.program(Programs.SENDMSG_UNIX);
            unix.type(BpfProgram.TYPE_CGROUP_SOCK_ADDR, BpfProgram.ATTACH_CGROUP_UNIX_CONNECT);
            unixSend.type(BpfProgram.TYPE_CGROUP_SOCK_ADDR, BpfProgram.ATTACH_CGROUP_UNIX_SENDMSG);
            unix.autoload(probe.connectUnix());
            unixSend.autoload(probe.connectUnix());   // the same kernel release (6.7) brought both
            if (pins != null) {
                for (String name : obj.mapNames()) {
                    obj.map(name).pinPath(pins.mapPath(name));
                }
            }
            return obj;
        } catch (RuntimeException e) {
            obj.close();
            throw e;
        }
    }

    /** Writes what is in scope and which device numbers are NVIDIA's (before policies and hooks). */
    void scope(AgentCgroups cgroups, NvidiaDevices devices) {
        cgroups.writeScope(object.map(Maps.SCOPE_ROOTS), config);
        devices.write(object.map(Maps.DEVICES));
        // the overflow budget, charged when the budget map is full (an adopted one keeps its counts)
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment key = arena.allocate(8, 8);
            MemorySegment value = arena.allocate(KernelAbi.CgroupBudget.SIZEOF, 8);
            BpfMap budgets = object.map(Maps.BUDGETS);
            if (!budgets.lookup(key, value)) {
                budgets.update(key, value);
            }
        }
    }

    /** Attaches every capability's hooks: the cgroup hooks on each agent cgroup root (they cover its subtree). */
    void attach(AgentCgroups cgroups, NvidiaDevices devices) {
        descriptions.put("exec", "tp_btf/sched_process_exec");
        descriptions.put("fork", "tp_btf/sched_process_fork");
        descriptions.put("exit", "tp_btf/sched_process_exit");
        for (String program : List.of(Programs.EXEC, Programs.FORK, Programs.EXIT, Programs.TCP_STATE,
                Programs.CGROUP_ATTACH)) {
            attach(program);
        }
        descriptions.put("scope", "follows the task (task storage set at exec, fork and moves in); leaving seen by"
                + " tp_btf/cgroup_attach_task and, for clone3(CLONE_INTO_CGROUP), tp_btf/sched_process_fork; "
                + (hasKfunc("bpf_send_signal_task")
                ? "in enforce mode the task is killed by the kernel (bpf_send_signal_task) before it runs outside"
                : "in enforce mode a task leaving by itself is killed by the kernel; one moved by another task or born"
                + " outside is killed by the agent when it reads the record (no bpf_send_signal_task before Linux 6.13)"));
        attachSelfProtection();
        for (AgentCgroups.Root root : cgroups.roots()) {
            attachToCgroup(root);
        }
        descriptions.put("connect", "cgroup/connect4 + cgroup/connect6 on agent cgroups; TCP outcome from"
                + " tp_btf/inet_sock_set_state");
        descriptions.put("connect-unix", probe.connectUnix() ? "cgroup/connect_unix + sendmsg_unix on agent cgroups"
                : "unavailable (" + probe.connectUnixReason() + ")");
        descriptions.put("gpu-open", "cgroup/dev on agent cgroups (denied opens fail with EPERM)");
        descriptions.put("egress", "cgroup/connect4/6 + sendmsg4/6 on agent cgroups (denied calls fail with EPERM)");
        descriptions.put("raw-sockets", "cgroup/sock_create on agent cgroups: raw and ping IP sockets, which no"
                + " connect/sendmsg hook governs, are denied (EPERM) unless the policy allows them; reported either way");
        descriptions.put("unix-owner", probe.unixIterator() && probe.connectUnix()
                ? "iter/unix finds Unix listeners outside the agent cgroups; cgroup/connect_unix reports connects to"
                + " them with the owner (denied with EPERM once known, under egress.unix_outside: deny)"
                : "unavailable (" + (probe.connectUnix() ? "iter/unix: " + probe.unixIteratorReason()
                : "cgroup/connect_unix: " + probe.connectUnixReason()) + ")");
        if (probe.lsm()) {
            attach(Programs.SOCKET_LSM);
            descriptions.put("packet-sockets", "lsm/socket_create refuses (EPERM) unless the policy allows raw sockets");
        } else if (!attachments.pinned(Programs.SOCKET_ENTER)) {
            descriptions.put("packet-sockets", "unseen until a syscall tracepoint is attached for another reason (then"
                    + " sys_enter_socket; LSM refused: " + probe.lsmReason() + ")");
        } else {
            attachPacketSocketTracepoint("adopted");
        }
        if (probe.lsm()) {
            attach(Programs.EXEC_LSM);
            descriptions.put("exec-deny", "lsm/bprm_check_security refuses (EPERM)");
            descriptions.put("compute-deny", "lsm/file_ioctl refuses (EPERM)");
            attach(Programs.IOCTL_LSM);
            ioctlAttached = true;
            descriptions.put("gpu-ioctl", "lsm/file_ioctl");
        } else {
            descriptions.put("exec-deny", "SIGKILL from tp_btf/sched_process_exec before the program runs (LSM refused: "
                    + probe.lsmReason() + ")");
            descriptions.put("compute-deny", "SIGKILL from sys_enter_ioctl before the driver runs the call");
            if (attachments.pinned(Programs.IOCTL_TP)) {
                attach(Programs.IOCTL_TP);   // adopted: a previous run saw NVIDIA devices
                ioctlAttached = true;
                attachPacketSocketTracepoint("sys_enter_ioctl is attached");
                descriptions.put("gpu-ioctl", "tracepoint/syscalls/sys_enter_ioctl (adopted; LSM refused: "
                        + probe.lsmReason() + ")");
                if (settings.syscallOutcomes() == SyscallOutcomes.AUTO) {
                    attachSyscallOutcomes("auto: the ioctl tracepoint already puts syscalls on the slow path");
                }
            } else {
                attachIoctlTracepointIfNeeded(devices);
            }
        }
        if (settings.syscallOutcomes() == SyscallOutcomes.ON) {
            attachSyscallOutcomes("on by configuration");
        } else if (!syscallOutcomesAttached) {
            descriptions.put("syscall-outcomes", settings.syscallOutcomes() == SyscallOutcomes.OFF ? "off by configuration"
                    : "off (auto: no syscall tracepoint attached; failed execs unseen, UDP/Unix connect outcome"
                    + " not observed)");
        }
        // attached later, when devices appear: kept even while this run has not attached them yet
        attachments.unpinStale(name -> name.equals(Programs.IOCTL_TP) || name.equals(Programs.SOCKET_ENTER)
                || SYSCALL_OUTCOME_PROGRAMS.contains(name), log);
        descriptions.put("pinning", pins == null ? "off: enforcement ends when the agent stops"
                : pins.root() + ": " + attachments.adopted() + " attachments adopted from a previous run, "
                + attachments.made() + " made now; enforcement stays when the agent stops (agentguard unload removes it)");
    }

    /** Adds what the agent decided about a capability outside the hooks (record budgets). */
    void describe(String capability, String text) {
        descriptions.put(capability, text);
    }

    /** Whether the running kernel has a kfunc (its name is a string of the kernel's BTF). */
    static boolean hasKfunc(String name) {
        try {
            byte[] btf = Files.readAllBytes(Path.of("/sys/kernel/btf/vmlinux"));
            byte[] needle = (name + "\0").getBytes(StandardCharsets.US_ASCII);
            outer:
            for (int i = 1; i + needle.length <= btf.length; i++) {
                if (btf[i] != needle[0] || btf[i - 1] != 0) {
                    continue;
                }
                for (int j = 1; j < needle.length; j++) {
                    if (btf[i + j] != needle[j]) {
                        continue outer;
                    }
                }
                return true;
            }
            return false;
        } catch (IOException e) {
            return false;
        }
    }

    private void attachSelfProtection() {
        if (!settings.selfProtection()) {
            descriptions.put("self-protection", "off by configuration");
        } else if (probe.lsm()) {
            attach(Programs.KILL_LSM);
            attach(Programs.PTRACE_LSM);
            descriptions.put("self-protection", "lsm/task_kill + lsm/ptrace_access_check refuse (EPERM)");
        } else {
            attach(Programs.SIGNAL);
            descriptions.put("self-protection", "tp_btf/signal_generate: the sender is killed and reported (LSM refused:"
                    + " " + probe.lsmReason() + "; ptrace is not seen)");
        }
    }

    /** The cgroup hooks of one root apply to its whole subtree, cgroups made later included. */
    private void attachToCgroup(AgentCgroups.Root root) {
        int fd = Libc.open(root.directory().toString(), Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        if (fd < 0) {
            throw new IllegalStateException("cannot open cgroup " + root.directory() + ": " + Libc.strerror(Libc.errno()));
        }
        try {
            for (String program : CGROUP_PROGRAMS) {
                attachToCgroup(program, fd, root);
            }
            if (probe.connectUnix()) {
                attachToCgroup(Programs.CONNECT_UNIX, fd, root);
                attachToCgroup(Programs.SENDMSG_UNIX, fd, root);
            }
        } finally {
            Libc.close(fd);   // the links hold their own reference
        }
    }

    private void attach(String program) {
        attachments.attach(program, () -> object.program(program).attach());
    }

    private void attachToCgroup(String program, int cgroupFd, AgentCgroups.Root root) {
        attachments.attach(program + "@" + root.id(), () -> object.program(program).attachCgroup(cgroupFd,
                root.relativePath()));
    }

    /** NVIDIA devices changed (a driver loaded, say): writes them, attaches the deferred ioctl tracepoint if now needed. */
    void devicesChanged(NvidiaDevices devices) {
        devices.write(object.map(Maps.DEVICES));
        if (!ioctlAttached) {
            attachIoctlTracepointIfNeeded(devices);
            log.info("hook gpu-ioctl: " + descriptions.get("gpu-ioctl"));
            log.info("hook syscall-outcomes: " + descriptions.get("syscall-outcomes"));
        }
    }

    private synchronized void attachIoctlTracepointIfNeeded(NvidiaDevices devices) {
        if (!devices.driverLoaded() && !settings.gpuStandins()) {
            descriptions.put("gpu-ioctl", "tracepoint/syscalls/sys_enter_ioctl, deferred: no NVIDIA driver loaded and no"
                    + " stand-ins (attached when /proc/devices shows one; LSM refused: " + probe.lsmReason() + ")");
            return;
        }
        ensureTracefs();
        attach(Programs.IOCTL_TP);
        ioctlAttached = true;
        attachPacketSocketTracepoint("sys_enter_ioctl is attached");
        descriptions.put("gpu-ioctl", "tracepoint/syscalls/sys_enter_ioctl (LSM refused: " + probe.lsmReason() + ")");
        if (settings.syscallOutcomes() == SyscallOutcomes.AUTO) {
            attachSyscallOutcomes("auto: the ioctl tracepoint already puts syscalls on the slow path");
        }
    }

    /** Failed execs and connect() results: syscall tracepoints, so only when asked or already paid for. */
    private synchronized void attachSyscallOutcomes(String why) {
        if (syscallOutcomesAttached) {
            return;
        }
        ensureTracefs();
        for (String program : SYSCALL_OUTCOME_PROGRAMS) {
            attach(program);
        }
        syscallOutcomesAttached = true;
        config.syscallOutcomes(true);
        attachPacketSocketTracepoint("the syscall outcome tracepoints are attached");
        descriptions.put("syscall-outcomes", "sys_exit_connect, sys_enter/exit_execve(at) (" + why + ")");
    }

    /**
     * Packet sockets without LSM: sys_enter_socket, but only once another syscall tracepoint
     * has put every task on the slow path anyway (one more program on socket() calls only).
     */
    private synchronized void attachPacketSocketTracepoint(String why) {
        if (probe.lsm() || socketTracepointAttached) {
            return;
        }
        ensureTracefs();
        attach(Programs.SOCKET_ENTER);
        socketTracepointAttached = true;
        descriptions.put("packet-sockets", "tracepoint/syscalls/sys_enter_socket (" + why + "): a denied creator is"
                + " killed before socket() returns; LSM refused: " + probe.lsmReason());
    }

    /** The unix listener iterator's link (made on first use; not pinned), or null where the kernel has none. */
    synchronized BpfLink unixListeners() {
        if (!probe.unixIterator() || !probe.connectUnix()) {
            return null;
        }
        if (unixListeners == null) {
            unixListeners = object.program(Programs.UNIX_LISTENERS).attach();
        }
        return unixListeners;
    }

    /** libbpf finds tracepoint ids in tracefs; mount it where the kernel expects it. */
    private void ensureTracefs() {
        if (Files.isDirectory(TRACEFS.resolve("events")) || Files.isDirectory(Path.of("/sys/kernel/debug/tracing/events"))) {
            return;
        }
        int rc = Libc.mount("tracefs", TRACEFS.toString(), "tracefs");
        if (rc != 0) {
            throw new IllegalStateException("tracefs is not mounted and mounting it on " + TRACEFS + " failed: "
                    + Errno.name(-rc) + " " + Libc.strerror(-rc) + "; mount it (mount -t tracefs nodev " + TRACEFS
                    + ") or run as root");
        }
        log.info("mounted tracefs on " + TRACEFS);
    }

    public BpfMap map(String name) {
        return object.map(name);
    }

    /** The ag_config entry, which the scope, settings, hooks and policies share. */
    public ConfigMap config() {
        return config;
    }

    /** Capability -> the hook chosen for it and why, in start-up order. */
    public Map<String, String> descriptions() {
        synchronized (descriptions) {
            return Collections.unmodifiableMap(new LinkedHashMap<>(descriptions));
        }
    }

    /** Where the pins live; "" without pinning. */
    public String pinRoot() {
        return pins == null ? "" : pins.root().toString();
    }

    /** Detaches what is not pinned and frees the object; pinned hooks stay. */
    @Override
    public void close() {
        object.close();
    }
}
