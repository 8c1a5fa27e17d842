package io.agentguard.daemon;

import io.agentguard.bpf.BpfException;
import io.agentguard.bpf.BpfMap;
import io.agentguard.bpf.BpfPins;
import io.agentguard.bpf.BpfObject;
import io.agentguard.bpf.BpfProgram;
import io.agentguard.bpf.Errno;
import io.agentguard.bpf.FeatureProbe;
import io.agentguard.bpf.KernelCounters;
import io.agentguard.bpf.Libc;
import io.agentguard.bpf.RingBufferReader;
import io.agentguard.config.AgentConfig;
import io.agentguard.config.Policy;
import io.agentguard.enforce.BlastRadiusGuard;
import io.agentguard.enforce.Enforcer;
import io.agentguard.enforce.PolicyMaps;
import io.agentguard.event.EventDecoder;
import io.agentguard.event.EventSink;
import io.agentguard.process.ProcessTable;
import io.agentguard.proto.v1.Violation;
import io.agentguard.rules.Classifier;
import io.agentguard.rules.RuleLoader;
import io.agentguard.rules.RuleReloader;
import io.agentguard.rules.RuleSet;
import io.agentguard.gpu.GpuStandin;
import io.agentguard.gpu.NvidiaDevices;
import io.agentguard.scope.AgentCgroups;
import io.agentguard.scope.Cgroup2Mount;
import io.agentguard.scope.CgroupPaths;

import io.agentguard.log.Log;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static io.agentguard.event.RecordLayout.*;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The running agent: loads the BPF object, fills its maps, attaches the hooks chosen for
 * this kernel, and runs the consumer thread (ring reader, decoder) that feeds the sink.
 *
 * <p>Threads: {@code agentguard-ring} owns the reader, decoder and connect joins (single
 * writer); {@code agentguard-housekeeping} re-reads /proc/devices and prints statistics.
 */
public final class Agent implements AutoCloseable {
    private static final int BATCH_RECORDS = 4096;
    private static final int WAIT_MS = 100;
    /** ag_config.ringbuf_wakeup values (agentguard.h AG_WAKEUP_*). */
    private static final int WAKEUP_KERNEL = 0;
    private static final int WAKEUP_BATCHED = 4;
    private static final int PARK_AFTER_IDLE_MS = 50;
    /** Parked, the reader relies on the kernel's wakeup; the timeout only paces housekeeping. */
    private static final int PARKED_WAIT_MS = 500;
    private static final Path PROC_DEVICES = Path.of("/proc/devices");
    private static final Path TRACEFS = Path.of("/sys/kernel/tracing");

    private final AgentConfig config;
    private final Log log;
    private final Path procDevices;
    private final BpfObject object;
    private final AgentCgroups cgroups;
    private final List<GpuStandin> standins;
    private final RingBufferReader reader;
    private final KernelCounters kernelCounters;
    private final ConsumerPipeline pipeline;
    private final Classifier classifier;
    private final RuleReloader reloader;
    private final int seededProcesses;
    private final Map<String, String> hooks = java.util.Collections.synchronizedMap(new LinkedHashMap<>());
    private final Arena arena = Arena.ofShared();
    private final MemorySegment timespec;
    private final ScheduledExecutorService housekeeping;
    private final Thread consumer;
    private final CountDownLatch consumerStopped = new CountDownLatch(1);
    private final long startNs = System.nanoTime();
    private final long startedEpochSeconds = System.currentTimeMillis() / 1000;
    private volatile boolean running = true;
    private boolean closed;
    private volatile long wallMinusMonotonicNs;
    private volatile boolean ioctlHookAttached;
    private volatile boolean syscallOutcomesAttached;
    private final BpfPins pins;
    private final java.util.Set<String> wantedLinks = new java.util.HashSet<>();
    private int adoptedLinks;
    private PolicyMaps policyMaps;
    private volatile List<Policy> cgroupPolicies;
    private volatile Policy defaultPolicy;
    private volatile boolean globalEnforce;
    private final Enforcer enforcer;
    private final io.agentguard.report.Reporter reporter;
    /** Temporary denies from block_destination actions: cgroup path -> entries with their expiry. */
    private final java.util.Map<String, List<Block>> blocks = new java.util.LinkedHashMap<>();

    private record Block(Policy.EgressEntry entry, long expiresAtNs) {
    }
    private volatile int policyGeneration;
    private volatile long policyLevels;
    private final InstanceLock lock;
    private StatusServer status;
    private volatile AgentMetrics metrics;
    private volatile double eventsPerSecond;
    private volatile NvidiaDevices devices;
    private String lsmRefusal = "not probed";
    private volatile Throwable consumerFailure;
    private long lastStatsEvents;
    private long lastStatsLost;

    private Agent(AgentConfig config, EventSink sink, Consumer<Violation> violations, Log log,
                  Path procDevices) {
        this.config = config;
        this.log = log;
        this.procDevices = procDevices;
        this.lock = new InstanceLock(Path.of(config.runtimeDir(), "agentguard.lock"));
        this.defaultPolicy = config.defaultPolicy();
        this.globalEnforce = config.enforce();
        this.timespec = arena.allocate(16, 8);
        refreshClockOffset();
        // Rules first: a rule error stops the start before anything is attached.
        RuleSet rules = RuleLoader.load(config.defaultRulePack(), config.rulePaths());
        this.classifier = new Classifier(rules);
        this.reloader = new RuleReloader(classifier, config.defaultRulePack(), config.rulePaths(), log);

        Path mount = Cgroup2Mount.find();
        this.cgroups = AgentCgroups.resolve(mount, config.agentCgroups(), config.createMissingCgroups());
        this.standins = config.gpuStandins().stream().map(GpuStandin::parse).toList();
        this.devices = NvidiaDevices.read(procDevices, standins);

        byte[] elf = BpfObject.embeddedElf();
        FeatureProbe.Result probe = FeatureProbe.run(elf);
        this.pins = config.pinPath().isEmpty() ? null : new BpfPins(Path.of(config.pinPath()), elf);
        if (pins != null) {
            BpfPins.ensureBpffs(pins.root());
            if (pins.exists() && !pins.sameVersion()) {
                log.info("pinned state under " + pins.root() + " is from another agentguard build:"
                        + " replacing it (enforcement pauses while the new programs attach)");
                pins.removeAll();
            }
            pins.prepare();
        }
        BpfObject opened = open(elf, probe);
        try {
            opened.load();
        } catch (BpfException e) {
            if (pins == null) {
                opened.close();
                throw e;
            }
            // e.g. a different ring size than the pinned ring: start over with fresh pins
            log.info("pinned maps under " + pins.root() + " do not fit this configuration ("
                    + e.getMessage().lines().findFirst().orElse("") + "): replacing them");
            opened.close();
            pins.removeAll();
            pins.prepare();
            opened = open(elf, probe);
            opened.load();
        }
        BpfObject obj = opened;
        try {
            policyGeneration = readGeneration(obj.map("ag_config"));
            writeConfig(obj.map("ag_config"));
            writeScope(obj.map("ag_scope_roots"));
            writeDevices(obj.map("ag_devices"), devices);
            policyMaps = new PolicyMaps(obj.map("ag_policies"), obj.map("ag_policy_roots"), obj.map("ag_egress"),
                    obj.map("ag_exec_deny_names"), obj.map("ag_exec_deny_paths"), obj.map("ag_compute_exes"),
                    policyGeneration, (generation, levels) -> {
                        policyGeneration = generation;
                        policyLevels = levels;
                        writeConfig(obj.map("ag_config"));
                    });
            applyPolicies(java.util.Map.of());

            hooks.put("exec", "tp_btf/sched_process_exec");
            hooks.put("fork", "tp_btf/sched_process_fork");
            hooks.put("exit", "tp_btf/sched_process_exit");
            attach(obj, "ag_exec");
            attach(obj, "ag_fork");
            attach(obj, "ag_exit");
            attach(obj, "ag_tcp_state");
            if (config.selfProtection()) {
                if (probe.lsm()) {
                    attach(obj, "ag_kill_lsm");
                    attach(obj, "ag_ptrace_lsm");
                    hooks.put("self-protection", "lsm/task_kill + lsm/ptrace_access_check refuse (EPERM)");
                } else {
                    attach(obj, "ag_signal");
                    hooks.put("self-protection", "tp_btf/signal_generate: the sender is killed and reported (LSM refused:"
                            + " " + probe.lsmReason() + "; ptrace is not seen)");
                }
            } else {
                hooks.put("self-protection", "off by configuration");
            }
            for (AgentCgroups.Root root : cgroups.roots()) {
                int fd = Libc.open(root.directory().toString(), Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
                if (fd < 0) {
                    throw new IllegalStateException("cannot open cgroup " + root.directory() + ": "
                            + Libc.strerror(Libc.errno()));
                }
                try {
                    for (String prog : List.of("ag_connect4", "ag_connect6", "ag_sendmsg4", "ag_sendmsg6", "ag_dev")) {
                        attachCgroup(obj, prog, fd, root);
                    }
                    if (probe.connectUnix()) {
                        attachCgroup(obj, FeatureProbe.PROG_CONNECT_UNIX, fd, root);
                    }
                } finally {
                    Libc.close(fd);   // the links hold their own reference
                }
            }
            hooks.put("connect", "cgroup/connect4 + cgroup/connect6 on agent cgroups; TCP outcome from tp_btf/inet_sock_set_state");
            hooks.put("connect-unix", probe.connectUnix() ? "cgroup/connect_unix on agent cgroups"
                    : "unavailable (" + probe.connectUnixReason() + ")");
            hooks.put("gpu-open", "cgroup/dev on agent cgroups (denied opens fail with EPERM)");
            hooks.put("egress", "cgroup/connect4/6 + sendmsg4/6 on agent cgroups (denied calls fail with EPERM)");
            if (probe.lsm()) {
                attach(obj, "ag_exec_lsm");
                hooks.put("exec-deny", "lsm/bprm_check_security refuses (EPERM)");
                hooks.put("compute-deny", "lsm/file_ioctl refuses (EPERM)");
            } else {
                hooks.put("exec-deny", "SIGKILL from tp_btf/sched_process_exec before the program runs (LSM refused: "
                        + probe.lsmReason() + ")");
                hooks.put("compute-deny", "SIGKILL from sys_enter_ioctl before the driver runs the call");
            }
            if (probe.lsm()) {
                attach(obj, FeatureProbe.PROG_IOCTL_LSM);
                ioctlHookAttached = true;
                hooks.put("gpu-ioctl", "lsm/file_ioctl");
            } else {
                lsmRefusal = probe.lsmReason();
                if (pins != null && pins.linkPinned("ag_ioctl_tp")) {
                    attach(obj, "ag_ioctl_tp");   // adopted: a previous run saw NVIDIA devices
                    ioctlHookAttached = true;
                    hooks.put("gpu-ioctl", "tracepoint/syscalls/sys_enter_ioctl (adopted; LSM refused: " + lsmRefusal + ")");
                    if (config.syscallOutcomes().equals("auto")) {
                        attachSyscallOutcomes(obj, "auto: the ioctl tracepoint already puts syscalls on the slow path");
                    }
                } else {
                    attachIoctlTracepointIfNeeded(obj);
                }
            }
            if (config.syscallOutcomes().equals("on")) {
                attachSyscallOutcomes(obj, "on by configuration");
            } else if (!syscallOutcomesAttached) {
                hooks.put("syscall-outcomes", config.syscallOutcomes().equals("off") ? "off by configuration"
                        : "off (auto: no syscall tracepoint attached; failed execs unseen, UDP/Unix connect outcome"
                        + " not observed)");
            }
            unpinStaleLinks();
            if (pins != null) {
                hooks.put("pinning", pins.root() + ": " + adoptedLinks + " attachments adopted from a previous run, "
                        + (wantedLinks.size() - adoptedLinks) + " made now; enforcement stays when the agent stops"
                        + " (agentguard unload removes it)");
            } else {
                hooks.put("pinning", "off: enforcement ends when the agent stops");
            }
            this.reader = new RingBufferReader(obj.map("ag_ring"));
            this.kernelCounters = new KernelCounters(obj.map("ag_counters"));
        } catch (RuntimeException e) {
            obj.close();
            throw e;
        }
        this.object = obj;
        CgroupPaths paths = new CgroupPaths(cgroups, 200_000_000L);
        EventDecoder decoder = new EventDecoder(sink, paths, () -> wallMinusMonotonicNs, config.connectOutcomeTimeoutMs());
        ProcessTable processes = new ProcessTable(config.processTableCapacity(), config.stateWindowMs() * 1_000_000L);
        this.seededProcesses = processes.seedFromProc(Path.of("/proc"),
                cgroups.roots().stream().map(AgentCgroups.Root::relativePath).collect(java.util.stream.Collectors.toSet()),
                relative -> {
                    try {
                        return AgentCgroups.inode(cgroups.mount().resolve(relative));
                    } catch (RuntimeException e) {
                        return 0;
                    }
                });
        EventSink counted = e -> {
            AgentMetrics m = metrics;
            if (m != null) {
                m.event(e);
            }
            sink.accept(e);
        };
        this.enforcer = new Enforcer(cgroups.mount(), this::enforcing, new BlastRadiusGuard(
                config.blastRadiusMaxTargets(), config.blastRadiusWindowMs() * 1_000_000L), this::block,
                config.blockDurationMs(), counted, violations);
        reloader.onSuccess(enforcer::rearm);
        this.reporter = config.report() == null ? null : startReporter(config.report());
        Consumer<Violation> allViolations = v -> {
            violations.accept(v);
            if (reporter != null) {
                reporter.offer(v);
            }
            AgentMetrics m = metrics;
            if (m != null) {
                m.violation(v);
            }
        };
        this.pipeline = new ConsumerPipeline(decoder, processes, classifier, paths, config.emitEvents(), allViolations,
                enforcer::submit);
        if (config.report() != null) {
            pipeline.withEvidenceWindow(config.report().evidenceEvents(), 4L << 20);
            if (config.report().events()) {
                pipeline.reportingEvents(reporter::offer, config.report().eventsPerSecond());
            }
        }

        this.consumer = Thread.ofPlatform().name("agentguard-ring").start(this::consume);
        this.housekeeping = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "agentguard-housekeeping");
            t.setDaemon(true);
            return t;
        });
        housekeeping.scheduleWithFixedDelay(this::rescanDevices, config.deviceRescanMs(), config.deviceRescanMs(),
                TimeUnit.MILLISECONDS);
        housekeeping.scheduleWithFixedDelay(this::expireBlocks, 1, 1, TimeUnit.SECONDS);
        if (config.ruleWatchMs() > 0) {
            housekeeping.scheduleWithFixedDelay(reloader::checkForChanges, config.ruleWatchMs(), config.ruleWatchMs(),
                    TimeUnit.MILLISECONDS);
        }
        if (config.statsIntervalMs() > 0) {
            housekeeping.scheduleAtFixedRate(this::printStats, config.statsIntervalMs(), config.statsIntervalMs(),
                    TimeUnit.MILLISECONDS);
        }
    }

    private BpfObject open(byte[] elf, FeatureProbe.Result probe) {
        BpfObject obj = BpfObject.open(elf);
        try {
            obj.map("ag_ring").maxEntries(config.ringBufferBytes());
            obj.program(FeatureProbe.PROG_IOCTL_LSM).autoload(probe.lsm());
            obj.program("ag_ioctl_tp").autoload(!probe.lsm());
            for (String lsm : List.of("ag_exec_lsm", "ag_kill_lsm", "ag_ptrace_lsm")) {
                obj.program(lsm).autoload(probe.lsm());
            }
            BpfProgram unix = obj.program(FeatureProbe.PROG_CONNECT_UNIX);
            if (probe.connectUnix()) {
                unix.type(BpfProgram.TYPE_CGROUP_SOCK_ADDR, BpfProgram.ATTACH_CGROUP_UNIX_CONNECT);
            } else {
                unix.autoload(false);
            }
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

    /** Attaches a program, or adopts the attachment a previous run pinned (no gap, no duplicate). */
    private void attach(BpfObject obj, String program) {
        attachPinned(program, () -> obj.program(program).attach());
    }

    private void attachCgroup(BpfObject obj, String program, int cgroupFd, AgentCgroups.Root root) {
        attachPinned(program + "@" + root.id(), () -> obj.program(program).attachCgroup(cgroupFd, root.relativePath()));
    }

    private synchronized void attachPinned(String name, java.util.function.Supplier<io.agentguard.bpf.BpfLink> attach) {
        wantedLinks.add(name);
        if (pins != null && pins.linkPinned(name)) {
            adoptedLinks++;
            return;
        }
        io.agentguard.bpf.BpfLink link = attach.get();
        if (pins != null) {
            link.pin(pins.linkPath(name));
        }
    }

    /** Pinned attachments of a previous configuration (another agent cgroup, say) are removed. */
    private void unpinStaleLinks() {
        if (pins == null) {
            return;
        }
        for (String name : pins.pinnedLinks()) {
            boolean lazy = name.equals("ag_ioctl_tp") || name.startsWith("ag_connect_exit") || name.startsWith("ag_execve");
            if (!wantedLinks.contains(name) && !lazy) {
                pins.unpinLink(name);
                log.info("removed pinned link " + name + " (not in this configuration)");
            }
        }
    }

    private static int readGeneration(BpfMap configMap) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment key = a.allocate(4, 4);
            MemorySegment value = a.allocate(CONFIG_SIZE, 8);
            return configMap.lookup(key, value) ? value.get(JAVA_INT, CONFIG_GENERATION) & 1 : 0;
        }
    }

    /** Loads and attaches everything, then starts consuming; throws with a precise reason on failure. */
    public static Agent start(AgentConfig config, EventSink sink, Consumer<Violation> violations, Log log) {
        return start(config, sink, violations, log, PROC_DEVICES);
    }

    /** With another /proc/devices: tests simulate an NVIDIA driver loading after start. */
    static Agent start(AgentConfig config, EventSink sink, Consumer<Violation> violations, Log log,
                       Path procDevices) {
        Agent agent = new Agent(config, sink, violations, log, procDevices);
        try {
            agent.metrics = new AgentMetrics(agent, config.metricsListen());
            agent.status = new StatusServer(Path.of(config.runtimeDir(), "status.sock"), agent::statusJson, log);
        } catch (RuntimeException e) {
            agent.close();
            throw e;
        }
        agent.printStartup();
        SystemdNotify.send("READY=1\nSTATUS=watching " + agent.cgroups.roots().size() + " agent cgroups, "
                + agent.classifier.rules().size() + " rules");
        return agent;
    }

    /** Whether the reader is parked (ag_reader = 1: the next record wakes it); for tests. */
    boolean readerParked() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment key = a.allocate(4, 4);
            MemorySegment value = a.allocate(4, 4);
            return object.map("ag_reader").lookup(key, value) && value.get(JAVA_INT, 0) == 1;
        }
    }

    /** Port of the metrics endpoint (-1: off). */
    public int metricsPort() {
        return metrics == null ? -1 : metrics.port();
    }

    public Path statusSocket() {
        return status.path();
    }

    long consumerLagBytes() {
        return reader.pendingBytes();
    }

    /** The status `agentguard status` shows, as JSON (protobuf mapping of AgentStatus). */
    String statusJson() {
        Stats s = stats();
        io.agentguard.proto.v1.AgentStatus.Builder b = io.agentguard.proto.v1.AgentStatus.newBuilder()
                .setVersion(java.util.Objects.requireNonNullElse(Agent.class.getPackage().getImplementationVersion(), "dev"))
                .setMode(globalEnforce ? "enforce" : "monitor")
                .setStarted(com.google.protobuf.Timestamp.newBuilder().setSeconds(startedEpochSeconds))
                .setUptimeSeconds(s.uptimeNs() / 1_000_000_000L)
                .putAllHooks(hooks())
                .setEventsTotal(s.events())
                .setEventsPerSecond(eventsPerSecond > 0 ? eventsPerSecond : s.events() / Math.max(1e-3, s.uptimeNs() / 1e9))
                .setLostTotal(s.lost())
                .setInvalidTotal(s.invalid())
                .setViolationsTotal(s.violations())
                .setProcesses(s.processes())
                .setConsumerLagBytes(reader.pendingBytes());
        for (AgentCgroups.Root r : cgroups.roots()) {
            b.addAgentCgroups(io.agentguard.proto.v1.CgroupStatus.newBuilder().setPath(r.relativePath()).setId(r.id())
                    .setProcesses(countProcesses(r.directory())));
        }
        RuleReloader.Status rs = reloader.status();
        b.setRules(io.agentguard.proto.v1.RulesStatus.newBuilder().setRules(rs.rules())
                .addAllSources(classifier.rules().sources()).setReloadsSucceeded(rs.succeeded())
                .setReloadsFailed(rs.failed()).setLastError(rs.lastError()));
        if (reporter != null) {
            b.setReport(io.agentguard.proto.v1.ReportStatus.newBuilder().setState(reporter.state())
                    .setConnectedTo(reporter.connectedTo()).setSpoolRecords(reporter.spoolPending())
                    .setSpoolBytes(reporter.spool().bytes()).setDropped(reporter.dropped())
                    .setLastError(reporter.lastError()));
        }
        b.setEnforcement(io.agentguard.proto.v1.EnforcementStatus.newBuilder()
                .setActionsCarriedOut(enforcer.carriedOut()).setActionsDropped(enforcer.dropped())
                .setBlastRadiusDisarmed(enforcer.disarmed()).setPinPath(pins == null ? "" : pins.root().toString()));
        try {
            return com.google.protobuf.util.JsonFormat.printer().print(b);
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    private static int countProcesses(Path cgroup) {
        try (java.util.stream.Stream<Path> dirs = Files.walk(cgroup)) {
            return dirs.filter(Files::isDirectory).mapToInt(d -> {
                try {
                    return (int) Files.readAllLines(d.resolve("cgroup.procs")).stream().filter(l -> !l.isBlank()).count();
                } catch (java.io.IOException e) {
                    return 0;
                }
            }).sum();
        } catch (java.io.IOException | java.io.UncheckedIOException e) {
            return 0;
        }
    }

    private void attachIoctlTracepointIfNeeded(BpfObject obj) {
        String lsmReason = lsmRefusal;
        NvidiaDevices d = devices;
        if (!d.driverLoaded() && standins.isEmpty()) {
            hooks.put("gpu-ioctl", "tracepoint/syscalls/sys_enter_ioctl, deferred: no NVIDIA driver loaded and no"
                    + " stand-ins (attached when /proc/devices shows one; LSM refused: " + lsmReason + ")");
            return;
        }
        ensureTracefs();
        attach(obj, "ag_ioctl_tp");
        ioctlHookAttached = true;
        hooks.put("gpu-ioctl", "tracepoint/syscalls/sys_enter_ioctl (LSM refused: " + lsmReason + ")");
        if (config.syscallOutcomes().equals("auto")) {
            attachSyscallOutcomes(obj, "auto: the ioctl tracepoint already puts syscalls on the slow path");
        }
    }

    /** Failed execs and connect() results: syscall tracepoints, so only when asked or already paid for. */
    private void attachSyscallOutcomes(BpfObject obj, String why) {
        if (syscallOutcomesAttached) {
            return;
        }
        ensureTracefs();
        for (String prog : List.of("ag_connect_exit", "ag_execve_enter", "ag_execveat_enter", "ag_execve_exit",
                "ag_execveat_exit")) {
            attach(obj, prog);
        }
        syscallOutcomesAttached = true;
        writeConfig(obj.map("ag_config"));
        hooks.put("syscall-outcomes", "sys_exit_connect, sys_enter/exit_execve(at) (" + why + ")");
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

    private void writeConfig(BpfMap map) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment key = a.allocate(4, 4);
            MemorySegment value = a.allocate(CONFIG_SIZE, 8);
            value.set(JAVA_LONG, CONFIG_SCOPE_LEVELS, cgroups.levelMask());
            value.set(JAVA_INT, CONFIG_MAX_ARGS_BYTES, config.maxArgsBytes());
            value.set(JAVA_INT, CONFIG_RINGBUF_WAKEUP, config.wakeupDelayMs() > 0 ? WAKEUP_BATCHED : WAKEUP_KERNEL);
            value.set(JAVA_INT, CONFIG_SYSCALL_OUTCOMES, syscallOutcomesAttached ? 1 : 0);
            value.set(JAVA_INT, CONFIG_GENERATION, policyGeneration);
            value.set(JAVA_LONG, CONFIG_POLICY_LEVELS, policyLevels);
            value.set(JAVA_INT, CONFIG_DAEMON_TGID, (int) ProcessHandle.current().pid());
            value.set(JAVA_INT, CONFIG_TAMPER_ENFORCE, config.selfProtection() && globalEnforce ? 1 : 0);
            map.update(key, value);
        }
    }

    /**
     * Places the configured policies (cgroup policies must lie inside an agent cgroup) and
     * writes them as a new generation. {@code extraDeny}: blocked destinations per policy index.
     */
    private synchronized void applyPolicies(java.util.Map<Integer, List<Policy.EgressEntry>> extraDeny) {
        PolicyMaps.Placed defaults = new PolicyMaps.Placed(defaultPolicy, 0, 0, defaultPolicy.enforcing(globalEnforce));
        List<PolicyMaps.Placed> placed = new java.util.ArrayList<>();
        if (cgroupPolicies == null) {
            cgroupPolicies = List.copyOf(config.cgroupPolicies());
        }
        List<Policy> all = new java.util.ArrayList<>(cgroupPolicies);
        // a cgroup with blocks but no policy of its own gets a copy of its effective policy
        for (String cg : blocks.keySet()) {
            if (all.stream().noneMatch(p -> p.cgroup().equals(cg))) {
                Policy eff = effectivePolicy(cg);
                all.add(new Policy(cg, eff.enforce(), eff.egressDefaultDeny(), eff.egress(), eff.gpuAll(),
                        eff.gpuAllowed(), eff.computeAllowed(), eff.computeExecutables(), eff.execDenyNames(),
                        eff.execDenyPaths()));
            }
        }
        java.util.Map<Integer, List<Policy.EgressEntry>> deny = new java.util.HashMap<>(extraDeny);
        for (int i = 0; i < all.size(); i++) {
            List<Block> b = blocks.get(all.get(i).cgroup());
            if (b != null) {
                deny.computeIfAbsent(i + 1, k -> new java.util.ArrayList<>()).addAll(b.stream().map(Block::entry).toList());
            }
        }
        for (Policy p : all) {
            boolean inside = cgroups.roots().stream().anyMatch(r -> r.relativePath().isEmpty()
                    || p.cgroup().equals(r.relativePath()) || p.cgroup().startsWith(r.relativePath() + "/"));
            if (!inside) {
                throw new IllegalArgumentException("policy for cgroup '" + p.cgroup() + "' is outside every agent cgroup ("
                        + cgroups.roots().stream().map(AgentCgroups.Root::relativePath).toList() + ")");
            }
            Path dir = cgroups.mount().resolve(p.cgroup());
            if (!Files.isDirectory(dir)) {
                if (!config.createMissingCgroups()) {
                    throw new IllegalArgumentException("cgroup '" + p.cgroup() + "' of a policy not found under the cgroup2"
                            + " mount " + cgroups.mount() + ": create it or fix policies.cgroups");
                }
                try {
                    Files.createDirectories(dir);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
            placed.add(new PolicyMaps.Placed(p, AgentCgroups.inode(dir), p.cgroup().split("/").length,
                    p.enforcing(globalEnforce)));
        }
        if (placed.size() > io.agentguard.config.Policies.MAX_CGROUP_POLICIES) {
            throw new IllegalStateException("more than " + io.agentguard.config.Policies.MAX_CGROUP_POLICIES
                    + " cgroup policies (configured plus blocked cgroups)");
        }
        policyMaps.apply(defaults, placed, deny);
    }

    /** The policy in force for a cgroup path: its own, the nearest ancestor's, or the default. */
    Policy effectivePolicy(String cgroupPath) {
        Policy best = defaultPolicy;
        int bestLength = -1;
        for (Policy p : cgroupPolicies) {
            if ((cgroupPath.equals(p.cgroup()) || cgroupPath.startsWith(p.cgroup() + "/")) && p.cgroup().length() > bestLength) {
                best = p;
                bestLength = p.cgroup().length();
            }
        }
        return best;
    }

    private boolean enforcing(String cgroupPath) {
        return effectivePolicy(cgroupPath).enforcing(globalEnforce);
    }

    /** block_destination: a temporary deny for the cgroup (enforcer thread). */
    private synchronized String block(String cgroupPath, String address, int protocol, int port, long durationMs) {
        if (cgroupPath.isEmpty()) {
            return "cgroup unknown";
        }
        try {
            Policy.EgressEntry entry = PolicyMaps.denyEntry(address, protocol, port);
            blocks.computeIfAbsent(cgroupPath, k -> new java.util.ArrayList<>())
                    .add(new Block(entry, System.nanoTime() + durationMs * 1_000_000L));
            applyPolicies(java.util.Map.of());
            return "ok";
        } catch (RuntimeException e) {
            blocks.computeIfPresent(cgroupPath, (k, v) -> v.size() <= 1 ? null : v.subList(0, v.size() - 1));
            return "failed: " + e.getMessage();
        }
    }

    private synchronized void expireBlocks() {
        long now = System.nanoTime();
        boolean changed = false;
        for (var it = blocks.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            int before = e.getValue().size();
            e.setValue(new java.util.ArrayList<>(e.getValue().stream().filter(b -> b.expiresAtNs() > now).toList()));
            changed |= e.getValue().size() != before;
            if (e.getValue().isEmpty()) {
                it.remove();
            }
        }
        if (changed) {
            try {
                applyPolicies(java.util.Map.of());
                log.info("expired destination blocks removed");
            } catch (RuntimeException ex) {
                log.warn("removing expired blocks failed: " + ex.getMessage());
            }
        }
    }

    public Enforcer enforcer() {
        return enforcer;
    }

    public io.agentguard.report.Reporter reporter() {
        return reporter;
    }

    private io.agentguard.report.Reporter startReporter(AgentConfig.Report r) {
        java.io.File ca = r.ca().isEmpty() ? null : new java.io.File(r.ca());
        java.io.File cert = r.cert().isEmpty() ? null : new java.io.File(r.cert());
        java.io.File key = r.key().isEmpty() ? null : new java.io.File(r.key());
        io.agentguard.report.Spool spool = new io.agentguard.report.Spool(Path.of(r.spoolDir()), 8L << 20,
                r.spoolMaxBytes());
        return new io.agentguard.report.Reporter(new io.agentguard.report.Reporter.Settings(r.collectors(), r.node(),
                globalEnforce ? "enforce" : "monitor", r.tlsMode().equals("plaintext"), ca, cert, key, 500, 8, 30_000,
                r.heartbeatMs(), 30_000), spool, this::heartbeatCounters, java.util.Map.copyOf(hooks),
                java.util.Objects.requireNonNullElse(Agent.class.getPackage().getImplementationVersion(), "dev"), log);
    }

    private io.agentguard.proto.v1.Heartbeat.Builder heartbeatCounters() {
        Stats s = stats();
        io.agentguard.proto.v1.Heartbeat.Builder b = io.agentguard.proto.v1.Heartbeat.newBuilder()
                .setEvents(s.events()).setLost(s.lost()).setViolations(s.violations());
        long[] perCpu = new long[kernelCounters.cpus()];
        kernelCounters.perCpu(COUNTER_LOST, perCpu);
        for (long l : perCpu) {
            b.addLostPerCpu(l);
        }
        return b;
    }

    /**
     * Puts the mode and policies of a (re)loaded configuration in force, as one generation
     * switch. On any error the policies in force stay, and the error is returned.
     */
    public synchronized String reloadPolicies(AgentConfig next) {
        Policy oldDefault = defaultPolicy;
        List<Policy> oldCgroups = cgroupPolicies;
        boolean oldEnforce = globalEnforce;
        try {
            defaultPolicy = next.defaultPolicy();
            cgroupPolicies = List.copyOf(next.cgroupPolicies());
            globalEnforce = next.enforce();
            applyPolicies(java.util.Map.of());
            writeConfig(object.map("ag_config"));
            log.info("policies reloaded: mode " + (globalEnforce ? "enforce" : "monitor") + ", "
                    + cgroupPolicies.size() + " cgroup policies");
            return null;
        } catch (RuntimeException e) {
            defaultPolicy = oldDefault;
            cgroupPolicies = oldCgroups;
            globalEnforce = oldEnforce;
            log.warn("policy reload failed, keeping the policies in force: " + e.getMessage());
            return e.getMessage();
        }
    }

    /** Adds a cgroup policy at run time (tests; a configuration reload later). */
    synchronized void addPolicyForTest(Policy policy) {
        List<Policy> next = new java.util.ArrayList<>(cgroupPolicies);
        next.add(policy);
        cgroupPolicies = List.copyOf(next);
        applyPolicies(java.util.Map.of());
    }

    /** Adds the agent roots, then removes roots a previous run left (adopted maps): never a gap. */
    private void writeScope(BpfMap map) {
        java.util.Set<Long> ids = new java.util.HashSet<>();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment key = a.allocate(8, 8);
            MemorySegment value = a.allocate(4, 4);
            for (AgentCgroups.Root root : cgroups.roots()) {
                key.set(JAVA_LONG, 0, root.id());
                map.update(key, value);
                ids.add(root.id());
            }
        }
        map.forEachKey(8, key -> {
            if (!ids.contains(key.get(JAVA_LONG, 0))) {
                map.delete(key);
            }
        });
    }

    private static void writeDevices(BpfMap map, NvidiaDevices devices) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment key = a.allocate(DEVICE_KEY_SIZE, 4);
            MemorySegment value = a.allocate(DEVICE_ROLE_SIZE, 4);
            for (NvidiaDevices.Entry e : devices.entries()) {
                key.set(JAVA_INT, DEVICE_KEY_MAJOR, e.major());
                key.set(JAVA_INT, DEVICE_KEY_MINOR, e.minor());
                value.set(JAVA_SHORT, DEVICE_ROLE_ROLE, (short) e.role());
                value.set(JAVA_SHORT, DEVICE_ROLE_INDEX, (short) e.index());
                map.update(key, value);
            }
        }
    }

    private void rescanDevices() {
        try {
            NvidiaDevices now = NvidiaDevices.read(procDevices, standins);
            if (!now.entries().equals(devices.entries()) || now.driverLoaded() != devices.driverLoaded()) {
                writeDevices(object.map("ag_devices"), now);
                devices = now;
                log.info("NVIDIA devices changed: driver loaded=" + now.driverLoaded()
                        + ", nvidia-uvm major=" + (now.uvmMajor().isPresent() ? now.uvmMajor().getAsInt() : "none"));
                if (!ioctlHookAttached) {
                    attachIoctlTracepointIfNeeded(object);
                    log.info("hook gpu-ioctl: " + hooks.get("gpu-ioctl"));
                    log.info("hook syscall-outcomes: " + hooks.get("syscall-outcomes"));
                }
            }
            refreshClockOffset();
        } catch (RuntimeException e) {
            log.warn("device rescan failed: " + e.getMessage());
        }
    }

    private void refreshClockOffset() {
        synchronized (timespec) {
            long real = Libc.clockGettimeNs(Libc.CLOCK_REALTIME, timespec);
            long mono = Libc.clockGettimeNs(Libc.CLOCK_MONOTONIC, timespec);
            wallMinusMonotonicNs = real - mono;
        }
    }

    /**
     * Batched wakeups: poll every wakeupDelayMs while records come; after PARK_AFTER_IDLE_MS
     * without any, park (ag_reader = 1: the kernel wakes the reader for the next record) and
     * wait long, so that an idle agent does not spin on its timer.
     */
    private void consume() {
        MemorySegment ts = Arena.ofAuto().allocate(16, 8);
        Arena parkArena = Arena.ofConfined();
        MemorySegment parkKey = parkArena.allocate(4, 4);
        MemorySegment parkValue = parkArena.allocate(4, 4);
        BpfMap readerMap = config.wakeupDelayMs() > 0 ? object.map("ag_reader") : null;
        int idlePollsBeforePark = readerMap == null ? 0 : Math.max(1, PARK_AFTER_IDLE_MS / config.wakeupDelayMs());
        int idlePolls = 0;
        try {
            while (running) {
                int n = reader.poll(pipeline, BATCH_RECORDS);
                if (n < BATCH_RECORDS) {
                    pipeline.expireConnects(Libc.clockGettimeNs(Libc.CLOCK_MONOTONIC, ts));
                    pipeline.publishCounters();
                    if (n > 0) {
                        idlePolls = 0;
                    } else if (readerMap == null) {
                        reader.await(WAIT_MS);
                    } else if (++idlePolls < idlePollsBeforePark) {
                        reader.await(config.wakeupDelayMs());
                    } else {
                        parkValue.set(JAVA_INT, 0, 1);
                        readerMap.update(parkKey, parkValue);
                        // a record submitted before the flag was visible carried no wakeup: look again
                        if (reader.poll(pipeline, BATCH_RECORDS) == 0) {
                            reader.await(PARKED_WAIT_MS);
                        }
                        parkValue.set(JAVA_INT, 0, 0);
                        readerMap.update(parkKey, parkValue);
                        idlePolls = 0;
                    }
                } else {
                    pipeline.publishCounters();
                }
            }
            while (reader.poll(pipeline, BATCH_RECORDS) > 0) {
                // drain what the kernel committed before the hooks were detached
            }
            pipeline.flush();
            pipeline.publishCounters();
        } catch (Throwable t) {
            consumerFailure = t;
            log.warn("consumer thread failed: " + t);
        } finally {
            parkArena.close();
            consumerStopped.countDown();
        }
    }

    private void printStartup() {
        log.info("cgroup2 mount " + cgroups.mount());
        for (AgentCgroups.Root r : cgroups.roots()) {
            log.info("agent cgroup " + r.relativePath() + " (id " + r.id() + ", level " + r.level() + ")");
        }
        for (GpuStandin s : standins) {
            log.info("GPU stand-in " + s);
        }
        for (Map.Entry<String, String> h : hooks.entrySet()) {
            log.info("hook " + h.getKey() + ": " + h.getValue());
        }
        log.info("rules: " + classifier.rules().size() + " from " + String.join(", ",
                classifier.rules().sources()) + (config.ruleWatchMs() > 0 ? "; reloaded on change and SIGHUP"
                : "; reloaded on SIGHUP"));
        log.info("process table: " + seededProcesses + " processes seeded from /proc");
        if (metrics != null && metrics.port() > 0) {
            log.info("metrics on " + config.metricsListen().substring(0, config.metricsListen().lastIndexOf(':')) + ":"
                    + metrics.port());
        }
        log.info("status on " + status.path());
        log.info("ring buffer " + (reader.dataSize() >> 10) + " KiB, " + (config.wakeupDelayMs() > 0
                ? "read every " + config.wakeupDelayMs() + " ms or when a quarter full" : "reader woken per record") + "; watching");
    }

    private void printStats() {
        try {
            Stats s = stats();
            double seconds = config.statsIntervalMs() / 1000.0;
            log.info(String.format("%.0f events/s, %.0f lost/s (total %d events, %d lost, %d invalid, %d violations)",
                    (s.events() - lastStatsEvents) / seconds, (s.lost() - lastStatsLost) / seconds,
                    s.events(), s.lost(), s.invalid(), s.violations()));
            if (reporter != null) {
                log.info("report: " + reporter.state() + "; spool " + reporter.spoolPending()
                        + " records pending, " + reporter.dropped() + " dropped"
                        + (reporter.lastError().isEmpty() ? "" : "; last error: " + reporter.lastError()));
            }
            RuleReloader.Status rules = reloader.status();
            if (rules.failed() > 0 && !rules.lastError().isEmpty()) {
                log.warn("rules: " + rules.rules() + " in force; last reload failed: " + rules.lastError());
            }
            eventsPerSecond = (s.events() - lastStatsEvents) / seconds;
            lastStatsEvents = s.events();
            lastStatsLost = s.lost();
        } catch (RuntimeException e) {
            log.warn("stats failed: " + e.getMessage());
        }
    }

    /** A snapshot of what the agent has seen. */
    public record Stats(long events, long lost, long emittedByKernel, long invalid, long unmatchedResults,
                        long[] byType, long uptimeNs, long violations, int processes, long processEvictions) {
    }

    public Stats stats() {
        ConsumerPipeline.Counters c = pipeline.counters();
        return new Stats(c.events(), kernelCounters.sum(COUNTER_LOST), kernelCounters.sum(COUNTER_EMITTED),
                c.invalid(), c.unmatchedResults(), c.byType(), System.nanoTime() - startNs, c.violations(),
                c.processes(), c.processEvictions());
    }

    /** Reloads the rules now (SIGHUP); the old set stays when the new one has an error. */
    public boolean reloadRules(String why) {
        SystemdNotify.send("RELOADING=1");
        try {
            return reloader.reload(why);
        } finally {
            SystemdNotify.send("READY=1");
        }
    }

    public RuleReloader.Status ruleStatus() {
        return reloader.status();
    }

    public Map<String, String> hooks() {
        return Map.copyOf(hooks);
    }

    public AgentCgroups cgroups() {
        return cgroups;
    }

    /** Blocks until the consumer thread ends (after {@link #close} or a failure). */
    public void awaitTermination() throws InterruptedException {
        consumerStopped.await();
    }

    public Throwable failure() {
        return consumerFailure;
    }

    public String summary() {
        Stats s = stats();
        double seconds = Math.max(s.uptimeNs() / 1e9, 1e-3);
        return String.format("agentguard: summary: %d events in %.1f s (%.0f/s), %d lost, %d invalid records, "
                        + "%d violations; exec %d, fork %d, exit %d, connect %d, gpu-open %d, gpu-ioctl %d",
                s.events(), seconds, s.events() / seconds, s.lost(), s.invalid(), s.violations(),
                s.byType()[TYPE_EXEC], s.byType()[TYPE_FORK], s.byType()[TYPE_EXIT], s.byType()[TYPE_CONNECT],
                s.byType()[TYPE_GPU_OPEN], s.byType()[TYPE_GPU_IOCTL]);
    }

    /** Stops consuming: drains the ring and flushes held events; stats stay readable. */
    public void stop() {
        if (!running) {
            return;
        }
        SystemdNotify.send("STOPPING=1");
        housekeeping.shutdownNow();
        enforcer.close();
        running = false;
        try {
            if (!consumerStopped.await(10, TimeUnit.SECONDS)) {
                log.warn("consumer thread did not stop within 10 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops, detaches the hooks and frees everything. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        stop();
        closed = true;
        if (reporter != null) {
            reporter.close();
        }
        if (status != null) {
            status.close();
        }
        if (metrics != null) {
            metrics.close();
        }
        reader.close();
        kernelCounters.close();
        object.close();
        arena.close();
        lock.close();
    }
}
