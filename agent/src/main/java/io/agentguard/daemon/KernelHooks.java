package io.agentguard.daemon;

import io.agentguard.abi.KernelAbi;
import io.agentguard.abi.KernelAbi.Maps;
import io.agentguard.abi.KernelAbi.Programs;
import io.agentguard.bpf.BpfException;
import io.agentguard.bpf.BpfLink;
import io.agentguard.bpf.BpfInfo;
import io.agentguard.bpf.BpfMap;
import io.agentguard.bpf.BpfObject;
import io.agentguard.bpf.BpfPins;
import io.agentguard.bpf.BpfProgram;
import io.agentguard.bpf.ConfigMap;
import io.agentguard.bpf.Errno;
import io.agentguard.bpf.FeatureProbe;
import io.agentguard.bpf.Libc;
import io.agentguard.bpf.MapImage;
import io.agentguard.bpf.PinnedAttachments;
import io.agentguard.bpf.StateDrift;
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
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The agent's kernel side for this kernel and configuration: the embedded BPF object opened
 * with the programs the {@link FeatureProbe} allows, its maps pinned (a restart adopts them,
 * waiting ring records included), loaded, and each capability's hooks chosen and attached.
 * The choice per capability, with the reason for a fallback, is kept as the description
 * that the start-up lines and {@code agentguard status} show.
 *
 * <p>The NVIDIA ioctl tracepoint puts every task's syscalls on the slow path, so without LSM
 * it is attached only once an NVIDIA driver or a stand-in exists ({@link #devicesChanged}).
 *
 * <p>{@link #verify} checks the objects with the kernel (links, pins, the maps written here,
 * programs someone else attached at the agent cgroups) and repairs what it can.
 */
final class KernelHooks implements AutoCloseable {
    private static final Path TRACEFS = Path.of("/sys/kernel/tracing");
    private static final List<String> CGROUP_PROGRAMS = List.of(Programs.CONNECT4, Programs.CONNECT6,
            Programs.SENDMSG4, Programs.SENDMSG6, Programs.DEV, Programs.SOCK_CREATE, Programs.PAYLOAD_EGRESS);
    private static final List<String> SYSCALL_OUTCOME_PROGRAMS = List.of(Programs.CONNECT_EXIT,
            Programs.EXECVE_ENTER, Programs.EXECVEAT_ENTER, Programs.EXECVE_EXIT, Programs.EXECVEAT_EXIT);
    /** Self-protection from syscall tracepoints (no LSM): ptrace, process_vm_*, opens of /proc/PID/mem. */
    private static final List<String> SELF_SYSCALL_PROGRAMS = List.of(Programs.PTRACE_ENTER, Programs.VM_READV_ENTER,
            Programs.VM_WRITEV_ENTER, Programs.OPENAT_ENTER, Programs.OPENAT2_ENTER, Programs.OPEN_ENTER);
    /** A remote socket dup'ed onto stdio (shell.bpf.c): syscall tracepoints, attached while a policy asks. */
    private static final List<String> SOCKET_SHELL_PROGRAMS = List.of(Programs.DUP2_ENTER, Programs.DUP3_ENTER);
    /** enum bpf_attach_type of each cgroup program (what BPF_PROG_QUERY and the link info report). */
    private static final Map<String, Integer> ATTACH_TYPES = Map.of(Programs.CONNECT4, BpfInfo.ATTACH_CGROUP_INET4_CONNECT,
            Programs.CONNECT6, BpfInfo.ATTACH_CGROUP_INET6_CONNECT, Programs.SENDMSG4, BpfInfo.ATTACH_CGROUP_UDP4_SENDMSG,
            Programs.SENDMSG6, BpfInfo.ATTACH_CGROUP_UDP6_SENDMSG, Programs.DEV, BpfInfo.ATTACH_CGROUP_DEVICE,
            Programs.CONNECT_UNIX, BpfProgram.ATTACH_CGROUP_UNIX_CONNECT, Programs.SENDMSG_UNIX,
            BpfProgram.ATTACH_CGROUP_UNIX_SENDMSG, Programs.SOCK_CREATE, BpfInfo.ATTACH_CGROUP_INET_SOCK_CREATE,
            Programs.PAYLOAD_EGRESS, BpfInfo.ATTACH_CGROUP_INET_EGRESS);

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
    private final MapImage scopeRoots;
    private final MapImage devices;
    /** Map name -> {fd, kernel id} of this run's maps, for the pin checks. */
    private final Map<String, int[]> maps = new LinkedHashMap<>();
    private final Map<String, String> descriptions = Collections.synchronizedMap(new LinkedHashMap<>());
    private volatile List<AgentCgroups.Root> roots = List.of();
    private volatile boolean ioctlAttached;
    private volatile boolean syscallOutcomesAttached;
    private volatile boolean socketTracepointAttached;
    private volatile boolean selfSyscallsAttached;
    private volatile boolean socketShellAttached;
    /** Why the self-protection syscall programs cannot load here, or null. */
    private final String selfSyscallsRefused;
    private BpfLink unixListeners;

    private KernelHooks(BpfObject object, FeatureProbe.Result probe, String selfSyscallsRefused, BpfPins pins,
                        Settings settings, Log log) {
        this.object = object;
        this.selfSyscallsRefused = selfSyscallsRefused;
        this.probe = probe;
        this.pins = pins;
        this.settings = settings;
        this.log = log;
        Set<Integer> mapIds = new HashSet<>();
        for (String name : object.mapNames()) {
            int fd = object.map(name).fd();
            int id = BpfInfo.map(fd).id();
            maps.put(name, new int[] {fd, id});
            mapIds.add(id);
        }
        this.attachments = new PinnedAttachments(pins, mapIds);
        this.config = new ConfigMap(object.map(Maps.CONFIG));
        // entries with a pattern index (value > 0) are the kernel's own (scope.bpf.c adds and removes them)
        this.scopeRoots = new MapImage(object.map(Maps.SCOPE_ROOTS), true, k -> "cgroup id " + k.get(JAVA_LONG, 0))
                .kernelWrites(v -> v.get(java.lang.foreign.ValueLayout.JAVA_INT, 0) != 0);
        this.devices = new MapImage(object.map(Maps.DEVICES), false, null);
    }

    /** Probes the kernel, prepares the pins and loads the object; nothing is attached yet. */
    static KernelHooks load(Settings settings, Log log) {
        byte[] elf = BpfObject.embeddedElf();
        FeatureProbe.Result probe = FeatureProbe.run(elf);
        // they call kfuncs from tracepoint programs; bpf_task_from_vpid (6.13) is the newest they use. Decided
        // from the kernel's BTF, not by one more probe load: start-up time is enforcement time
        String selfSyscallsRefused = probe.lsm() ? "lsm/ptrace_access_check covers them"
                : hasKfunc("bpf_task_from_vpid") ? null : "no kfunc bpf_task_from_vpid before Linux 6.13";
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
        BpfObject opened = open(elf, probe, selfSyscallsRefused == null, settings.ringBufferBytes(), pins);
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
            opened = open(elf, probe, selfSyscallsRefused == null, settings.ringBufferBytes(), pins);
            opened.load();
        }
        try {
            return new KernelHooks(opened, probe, selfSyscallsRefused, pins, settings, log);
        } catch (RuntimeException e) {
            opened.close();
            throw e;
        }
    }

    private static BpfObject open(byte[] elf, FeatureProbe.Result probe, boolean selfSyscalls, int ringBufferBytes,
                                  BpfPins pins) {
        BpfObject obj = BpfObject.open(elf);
        try {
            obj.map(Maps.RING).maxEntries(ringBufferBytes);
            obj.program(Programs.IOCTL_LSM).autoload(probe.lsm());
            obj.program(Programs.IOCTL_TP).autoload(!probe.lsm());
            obj.program(Programs.SOCKET_ENTER).autoload(!probe.lsm());
            obj.program(Programs.UNIX_LISTENERS).autoload(probe.unixIterator());
            for (String self : SELF_SYSCALL_PROGRAMS) {
                obj.program(self).autoload(selfSyscalls);
            }
            for (String lsm : List.of(Programs.EXEC_LSM, Programs.KILL_LSM, Programs.PTRACE_LSM, Programs.SOCKET_LSM,
                    Programs.FASYNC_LSM)) {
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
        BpfMap rootsMap = object.map(Maps.SCOPE_ROOTS);
        Set<Long> stale = cgroups.writePatterns(object.map(Maps.SCOPE_PATTERNS), rootsMap, config);
        cgroups.writeScope(scopeRoots, config);
        if (!cgroups.patterns().isEmpty()) {
            // the kernel matches new cgroups from here on; then the walk takes those made before: no gap
            for (String program : List.of(Programs.CGROUP_MKDIR, Programs.CGROUP_RMDIR)) {
                attach(program);
            }
            cgroups.walkPatterns(rootsMap);
            cgroups.dropStale(rootsMap, stale);
            descriptions.put("scope-patterns", "tp_btf/cgroup_mkdir matches new cgroup v2 paths against "
                    + cgroups.patterns().size() + " pattern(s) before mkdir returns; tp_btf/cgroup_rmdir forgets them;"
                    + " cgroups made before start found by a walk");
        }
        devices.write(this.devices);
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
        List<AgentCgroups.Root> attachPoints = cgroups.attachPoints();
        for (AgentCgroups.Root root : attachPoints) {
            for (String program : CGROUP_PROGRAMS) {
                attachToCgroup(program, root);
            }
            if (probe.connectUnix()) {
                attachToCgroup(Programs.CONNECT_UNIX, root);
                attachToCgroup(Programs.SENDMSG_UNIX, root);
            }
        }
        this.roots = attachPoints;
        descriptions.put("connect", "cgroup/connect4 + cgroup/connect6 on agent cgroups; TCP outcome from"
                + " tp_btf/inet_sock_set_state");
        descriptions.put("connect-unix", probe.connectUnix() ? "cgroup/connect_unix + sendmsg_unix on agent cgroups"
                : "unavailable (" + probe.connectUnixReason() + ")");
        descriptions.put("gpu-open", "cgroup/dev on agent cgroups (denied opens fail with EPERM)");
        descriptions.put("egress", "cgroup/connect4/6 + sendmsg4/6 on agent cgroups (denied calls fail with EPERM)");
        descriptions.put("app-protocols", "cgroup_skb/egress on agent cgroups: the first payload of a TCP connection"
                + " no allow entry decided; SSH and stratum dropped under egress.protocols: deny");
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
        describeSocketShell();
        // attached later, when devices appear: kept even while this run has not attached them yet
        attachments.unpinStale(name -> name.equals(Programs.IOCTL_TP) || name.equals(Programs.SOCKET_ENTER)
                || SYSCALL_OUTCOME_PROGRAMS.contains(name) || SELF_SYSCALL_PROGRAMS.contains(name)
                || SOCKET_SHELL_PROGRAMS.contains(name), log);
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
            // the BTF string section holds every name, NUL-terminated
            String btf = new String(Files.readAllBytes(Path.of("/sys/kernel/btf/vmlinux")), StandardCharsets.ISO_8859_1);
            return btf.contains("\0" + name + "\0");
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
            attach(Programs.FASYNC_LSM);
            descriptions.put("self-protection", "lsm/task_kill + lsm/ptrace_access_check + lsm/file_send_sigiotask"
                    + " refuse (EPERM)");
        } else {
            attach(Programs.SIGNAL);
            attach(Programs.SIGNAL_DELIVER);
            descriptions.put("self-protection", "tp_btf/signal_generate: the sender is killed and reported; a stop"
                    + " signal is undone as the daemon takes it (tp_btf/signal_deliver sends SIGCONT); one sent through file-async"
                    + " I/O (F_SETOWN) is reported, sender unknown, a stop undone, a SIGHUP's reload refused (LSM refused: "
                    + probe.lsmReason() + ")");
            descriptions.put("self-protection-syscalls", selfSyscallsRefused != null
                    ? "unavailable (" + selfSyscallsRefused + "): PTRACE_SEIZE, process_vm_*, /proc/PID/mem unseen"
                    : "ptrace, process_vm_*, /proc/PID/mem opens: unseen until a syscall tracepoint is attached for"
                    + " another reason (then sys_enter_ptrace, sys_enter_process_vm_*, sys_enter_open*)");
        }
        if (settings.selfProtection()) {
            attach(Programs.FREEZE);
            attach(Programs.SELF_MIGRATE);
            attach(Programs.OOM_SCORE_ADJ);
            descriptions.put("self-freeze", "tp_btf/cgroup_freeze: a freeze of the daemon's cgroup (or an ancestor)"
                    + " from an agent cgroup kills the writer and is reported once the daemon runs again; so does a move"
                    + " of a daemon task to another cgroup (tp_btf/cgroup_attach_task, v1 hierarchies included)");
            descriptions.put("self-oom-score", "tp_btf/oom_score_adj_update: the writer is killed, the daemon puts its"
                    + " value back");
            if (attachments.pinned(Programs.PTRACE_ENTER)) {
                attachSelfProtectionTracepoints("adopted");
            }
        }
    }

    /**
     * ptrace, process_vm_* and /proc/PID/mem opens without LSM: syscall tracepoints, attached
     * once another syscall tracepoint has put every task on the slow path anyway (each program
     * returns at once for the calls it does not look at).
     */
    private synchronized void attachSelfProtectionTracepoints(String why) {
        if (!settings.selfProtection() || selfSyscallsRefused != null || selfSyscallsAttached) {
            return;
        }
        ensureTracefs();
        for (String program : SELF_SYSCALL_PROGRAMS) {
            // open(2) exists on x86-64, not on arm64: attach what this kernel has
            if (!program.equals(Programs.OPEN_ENTER) || Files.isDirectory(tracepoint("sys_enter_open"))) {
                attach(program);
            }
        }
        selfSyscallsAttached = true;
        descriptions.put("self-protection-syscalls", "sys_enter_ptrace (PTRACE_ATTACH/SEIZE), sys_enter_process_vm_*,"
                + " sys_enter_open* of /proc/<daemon>/mem by absolute path (" + why + "): the caller is killed"
                + " before the call returns");
    }

    private static Path tracepoint(String name) {
        Path events = Files.isDirectory(TRACEFS.resolve("events")) ? TRACEFS.resolve("events")
                : Path.of("/sys/kernel/debug/tracing/events");
        return events.resolve("syscalls").resolve(name);
    }

    private void attach(String program) {
        BpfProgram p = object.program(program);
        attachments.attach(program, PinnedAttachments.Target.tracing(p), p::attach);
    }

    /** A cgroup hook on a root applies to its whole subtree, cgroups made later included. */
    private void attachToCgroup(String program, AgentCgroups.Root root) {
        BpfProgram p = object.program(program);
        attachments.attach(program + "@" + root.id(), new PinnedAttachments.Target(p, root.id(), ATTACH_TYPES.get(program)),
                () -> {
                    int fd = openCgroup(root);
                    try {
                        return p.attachCgroup(fd, root.relativePath());
                    } finally {
                        Libc.close(fd);   // the link holds its own reference
                    }
                });
    }

    private static int openCgroup(AgentCgroups.Root root) {
        int fd = Libc.open(root.directory().toString(), Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        if (fd < 0) {
            throw new IllegalStateException("cannot open cgroup " + root.directory() + ": " + Libc.strerror(Libc.errno()));
        }
        return fd;
    }

    /**
     * Checks this run's kernel objects with the kernel and puts back what it can: links
     * (attached, to the right cgroup, with the right program), pins (present, naming our
     * objects), the maps written here (scope roots, device numbers, ag_config), and programs
     * that someone else attached directly at an agent cgroup (reported, left alone). Policy
     * maps are checked by their writer. A few bpf() calls per object; housekeeping thread.
     */
    List<StateDrift> verify() {
        List<StateDrift> drift = new ArrayList<>(attachments.adoptionDrift());
        step(drift, "links", attachments::verify);
        step(drift, "pins", () -> listOf(verifyPins()));
        step(drift, Maps.SCOPE_ROOTS, () -> listOf(scopeRoots.verify()));
        step(drift, Maps.DEVICES, () -> listOf(devices.verify()));
        step(drift, Maps.CONFIG, () -> listOf(config.verify()));
        step(drift, "programs", this::foreignPrograms);
        return drift;
    }

    /**
     * One part of a check: a part that fails (a bpf() call refused) is itself a finding, not
     * silence, and the other parts still run, so that drift found and repaired is reported.
     */
    static void step(List<StateDrift> drift, String object, java.util.function.Supplier<List<StateDrift>> check) {
        try {
            drift.addAll(check.get());
        } catch (RuntimeException | AssertionError e) {   // AssertionError: how the bindings report a failed downcall
            drift.add(StateDrift.unrepaired(object, "", "could not be checked", String.valueOf(e.getMessage())));
        }
    }

    private static List<StateDrift> listOf(StateDrift d) {
        return d == null ? List.of() : List.of(d);
    }

    /** All pins in one finding: removing the pin directory is one act, not thirty. */
    private StateDrift verifyPins() {
        if (pins == null) {
            return null;
        }
        List<String> found = new ArrayList<>();
        List<String> failed = new ArrayList<>();
        if (!pins.sameVersion()) {
            found.add("the version marker removed");
            try {
                pins.prepare();
            } catch (RuntimeException e) {
                failed.add("version marker: " + e.getMessage());
            }
        }
        List<BpfPins.Repin> repins = new ArrayList<>();
        for (Map.Entry<String, int[]> m : maps.entrySet()) {
            BpfPins.Repin r = pins.repin("maps", m.getKey(), m.getValue()[0], m.getValue()[1], "bpf-map");
            if (r != null) {
                repins.add(r);
            }
        }
        repins.addAll(attachments.verifyPins());
        Map<String, List<String>> byFinding = new LinkedHashMap<>();
        for (BpfPins.Repin r : repins) {
            byFinding.computeIfAbsent(r.found(), f -> new ArrayList<>()).add(r.name());
            if (!r.repaired()) {
                failed.add(r.name() + ": " + r.repair());
            }
        }
        for (Map.Entry<String, List<String>> f : byFinding.entrySet()) {
            List<String> names = f.getValue();
            found.add(names.size() + (names.size() == 1 ? " pin " : " pins ") + f.getKey() + " ("
                    + String.join(", ", names.subList(0, Math.min(names.size(), 6))) + (names.size() > 6 ? ", ..." : "")
                    + ")");
        }
        if (found.isEmpty()) {
            return null;
        }
        String drift = String.join("; ", found);
        return failed.isEmpty() ? StateDrift.repaired("pin", pins.root().toString(), drift, "pinned again")
                : StateDrift.unrepaired("pin", pins.root().toString(), drift, String.join("; ", failed));
    }

    /**
     * Programs attached directly at an agent cgroup root by someone else (another loader, or root
     * with bpftool): they run beside ours for the whole subtree (a cgroup/connect4 program can
     * rewrite the destination after ours allowed it), so each is reported; not detached.
     */
    private List<StateDrift> foreignPrograms() {
        List<StateDrift> found = new ArrayList<>();
        for (AgentCgroups.Root root : roots) {
            Map<Integer, Set<Integer>> ours = attachments.programsAt(root.id());
            int fd;
            try {
                fd = openCgroup(root);
            } catch (IllegalStateException e) {
                found.add(StateDrift.unrepaired("program", root.relativePath(), "the agent cgroup cannot be opened: "
                        + e.getMessage(), "nothing to attach to"));
                continue;
            }
            try {
                for (Map.Entry<Integer, Set<Integer>> at : ours.entrySet()) {
                    for (int id : BpfInfo.cgroupPrograms(fd, at.getKey())) {
                        if (!at.getValue().contains(id)) {
                            BpfInfo.Program p = BpfInfo.programById(id);
                            found.add(StateDrift.unrepaired("program", root.relativePath(), "program '"
                                    + (p == null ? "?" : p.name()) + "' (id " + id + (p == null ? "" : ", tag " + p.tag())
                                    + ") attached at the agent cgroup for " + attachTypeName(at.getKey())
                                    + " by someone else", "left attached: it may be another tool's; detach it if not"));
                        }
                    }
                }
            } catch (BpfException e) {
                found.add(StateDrift.unrepaired("program", root.relativePath(), "BPF_PROG_QUERY failed: " + e.getMessage(),
                        "not checked"));
            } finally {
                Libc.close(fd);
            }
        }
        return found;
    }

    private static String attachTypeName(int attachType) {
        return ATTACH_TYPES.entrySet().stream().filter(e -> e.getValue() == attachType)
                .map(e -> e.getKey().replace("ag_", "cgroup/")).findFirst().orElse("attach type " + attachType);
    }

    /** NVIDIA devices changed (a driver loaded, say): writes them, attaches the deferred ioctl tracepoint if now needed. */
    void devicesChanged(NvidiaDevices devices) {
        devices.write(this.devices);
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
        if (settings.syscallOutcomes() == SyscallOutcomes.AUTO) {
            attachSyscallOutcomes("auto: the ioctl tracepoint already puts syscalls on the slow path");
        }
        // last: whoever sees this description sees what came with the tracepoint attached too
        descriptions.put("gpu-ioctl", "tracepoint/syscalls/sys_enter_ioctl (LSM refused: " + probe.lsmReason() + ")");
    }

    private void describeSocketShell() {
        if (attachments.pinned(Programs.DUP3_ENTER)) {
            attachSocketShellTracepoints("adopted");
        } else if (!socketShellAttached) {
            descriptions.put("socket-shell", "tp_btf/sched_process_exec and sched_process_fork: a process exec'd or forking"
                    + " with a remote inet socket as stdin/stdout is killed under exec.deny_socket_shell; dup2/dup3 onto"
                    + " stdio unseen until a policy asks for exec.deny_socket_shell (then sys_enter_dup2/dup3)");
        }
    }

    /**
     * dup2/dup3 of a remote inet socket onto stdin, stdout or stderr (shell.bpf.c): syscall
     * tracepoints, which put every task's syscalls on the slow path, so attached only once some
     * policy asks for exec.deny_socket_shell (or a previous run did: adopted). Never detached.
     */
    synchronized void attachSocketShellTracepoints(String why) {
        if (socketShellAttached) {
            return;
        }
        ensureTracefs();
        for (String program : SOCKET_SHELL_PROGRAMS) {
            // dup2(2) exists on x86-64, not on arm64 (dup3 only): attach what this kernel has
            if (!program.equals(Programs.DUP2_ENTER) || Files.isDirectory(tracepoint("sys_enter_dup2"))) {
                attach(program);
            }
        }
        socketShellAttached = true;
        attachPacketSocketTracepoint("the dup2/dup3 tracepoints are attached");
        descriptions.put("socket-shell", "sys_enter_dup2/dup3 (" + why + ") + tp_btf/sched_process_exec and"
                + " sched_process_fork: a process that puts a remote inet socket on its stdio, or execs or forks with one"
                + " there, is killed before it runs on (exec.deny_socket_shell; 127.0.0.1/::1 peers reported only)");
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
        attachSelfProtectionTracepoints(why);
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
        attachments.close();
        object.close();
    }
}
