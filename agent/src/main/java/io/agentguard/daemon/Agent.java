package io.agentguard.daemon;

import io.agentguard.abi.KernelAbi.Maps;
import io.agentguard.bpf.BpfLink;
import io.agentguard.bpf.KernelCounters;
import io.agentguard.bpf.Libc;
import io.agentguard.bpf.RingBufferReader;
import io.agentguard.config.AgentConfig;
import io.agentguard.config.Policy;
import io.agentguard.enforce.BlastRadiusGuard;
import io.agentguard.enforce.Enforcer;
import io.agentguard.enforce.ExecFileChecker;
import io.agentguard.enforce.PolicyController;
import io.agentguard.enforce.PolicyWeakening;
import io.agentguard.pipeline.KernelFindings;
import io.agentguard.proto.v1.ReloadEvent;
import com.google.protobuf.Timestamp;
import io.agentguard.event.EventSink;
import io.agentguard.proto.v1.Event;
import io.agentguard.gpu.GpuStandin;
import io.agentguard.gpu.NvidiaDevices;
import io.agentguard.log.Log;
import io.agentguard.pipeline.ConsumerPipeline;
import io.agentguard.pipeline.LossMonitor;
import io.agentguard.proto.v1.Violation;
import io.agentguard.report.Reporter;
import io.agentguard.rules.Classifier;
import io.agentguard.rules.RuleLoader;
import io.agentguard.rules.RuleReloader;
import io.agentguard.scope.AgentCgroups;
import io.agentguard.scope.Cgroup2Mount;
import io.agentguard.scope.CgroupPaths;
import io.agentguard.scope.WatchedTasks;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Collectors;

import static io.agentguard.abi.KernelAbi.AG_CNT_DAEMON_SIGHUP;
import static io.agentguard.abi.KernelAbi.AG_WAKEUP_BATCHED;
import static io.agentguard.abi.KernelAbi.AG_WAKEUP_KERNEL;

/**
 * The running agent's lifecycle: start the pieces in an order that never leaves a gap,
 * run housekeeping, stop and close. Each piece has its home: the kernel side in
 * {@link KernelHooks}, what is in force in {@link PolicyController}, per-record work in
 * {@link ConsumerPipeline} run by {@link ConsumerLoop}, actions in {@link Enforcer},
 * delivery in {@link Reporter}, and what the agent says about itself in {@link AgentStatus}.
 *
 * <p>Threads: {@code agentguard-ring} (the consumer: reader, pipeline; single writer),
 * {@code agentguard-enforcer}, the reporter's, and {@code agentguard-housekeeping} (device
 * rescans, expired blocks, rule file changes, stats).
 */
public final class Agent implements AutoCloseable {
    private static final Path PROC_DEVICES = Path.of("/proc/devices");

    private final AgentConfig config;
    private final Log log;
    private final InstanceLock lock;
    private final WallClock clock = new WallClock();
    private final Classifier classifier;
    private final RuleReloader reloader;
    private final AgentCgroups cgroups;
    private final List<GpuStandin> standins;
    private final Path procDevices;
    private volatile NvidiaDevices devices;
    private final KernelHooks kernel;
    private final PolicyController policies;
    private final SelfProtection self;   // null with enforcement.self_protection: false
    private final EventSink sink;
    private final Consumer<Violation> violations;
    // set once while starting; closeParts() releases those that exist when a start fails
    private RingBufferReader reader;
    private KernelCounters kernelCounters;
    private Enforcer enforcer;
    private ExecFileChecker execChecker;
    private io.agentguard.enforce.MinerArgsChecker minerArgs;
    private io.agentguard.enforce.HeldProcesses heldProcesses;
    private io.agentguard.enforce.TunnelJudge tunnelJudge;
    private io.agentguard.workload.runtime.RuntimeMetadata runtimeNames;   // names and labels from runtime sockets
    private Reporter reporter;
    private UnixOwners unixOwners;
    private io.agentguard.posture.PostureMonitor posture;
    private volatile Path configFile;   // null: the embedded default or a config built in code
    private final ConsumerPipeline pipeline;
    private final int seededProcesses;
    private final WatchedTasks.Seeded watchedTasks;
    private final ConsumerLoop consumer;
    private final KernelStateVerifier stateVerifier;
    private final AgentStatus status;
    private final ScheduledExecutorService housekeeping;
    private volatile AgentMetrics metrics;
    private StatusServer statusServer;
    private volatile boolean stopped;
    private boolean closed;
    /** System.nanoTime of housekeeping's last turn (the systemd watchdog's proof of progress). */
    private volatile long housekeepingHeartbeatNs = System.nanoTime();
    private Watchdog watchdog;
    private long agentSighupsSeen;
    private final java.util.concurrent.atomic.LongAdder refusedReloads = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder weakeningReloads = new java.util.concurrent.atomic.LongAdder();

    private Agent(AgentConfig config, EventSink sink, Consumer<Violation> violations, Log log, Path procDevices,
                  InstanceLock lock, Classifier classifier, AgentCgroups cgroups, List<GpuStandin> standins,
                  KernelHooks kernel) {
        this.config = config;
        this.sink = sink;
        this.violations = violations;
        this.log = log;
        this.procDevices = procDevices;
        this.lock = lock;
        this.classifier = classifier;
        this.reloader = new RuleReloader(classifier, config.defaultRulePack(), config.rulePaths(),
                config.classification().ruleLimits(), log);
        this.cgroups = cgroups;
        this.standins = standins;
        this.devices = NvidiaDevices.read(procDevices, standins);
        this.kernel = kernel;
        kernel.config().start(config.maxArgsBytes(), config.wakeupDelayMs() > 0 ? AG_WAKEUP_BATCHED : AG_WAKEUP_KERNEL,
                (int) ProcessHandle.current().pid(), config.selfProtection() && config.enforce());
        kernel.config().recordLimits(config.recordLimits().recordsPerSecond(), config.recordLimits().priorityPerSecond(),
                config.recordLimits().reserveBytesFor(config.ringBufferBytes()));
        AgentConfig.RecordLimits limits = config.recordLimits();
        kernel.describe("records", "per agent cgroup, " + perSecond(limits.recordsPerSecond()) + " ordinary and "
                + perSecond(limits.priorityPerSecond()) + " priority records (denials, kills, tamper, scope); ordinary"
                + " records leave " + limits.reserveBytesFor(config.ringBufferBytes()) + " bytes of the ring to priority"
                + " ones; drops are counted per cgroup and reported as 'agentguard: events lost'; deny decisions never"
                + " wait for ring space");
        this.self = config.selfProtection() ? SelfProtection.start(kernel.config(), cgroups.mount(), log) : null;
        kernel.scope(cgroups, devices);
        // before the policies: a previous run's holds are resumed, and this run's holds begin with the policy
        this.heldProcesses = new io.agentguard.enforce.HeldProcesses(kernel.map(Maps.HELD), kernel.map(Maps.TUNNEL_PIDS),
                kernel.map(Maps.EXEC_HOLD), kernel.map(Maps.EXEC_HOLD_NAMES), config.tunnels().holdTimeoutMs(), log);
        heldProcesses.resumeLeftOver(System.nanoTime());
        heldProcesses.programs(config.hostRoot(), config.tunnels().programs());
        this.policies = new PolicyController(config, cgroups, kernel.config(), kernel::map, log);
        policies.apply();
        kernel.attach(cgroups, devices);
        // dup2/dup3 onto stdio: syscall tracepoints, attached once a policy (now or after a reload) asks
        policies.onChange(() -> {
            if (policies.policiesInForce().stream().anyMatch(io.agentguard.config.Policy::execDenySocketShell)) {
                kernel.attachSocketShellTracepoints("exec.deny_socket_shell in a policy");
            }
        });
        try {
            this.reader = new RingBufferReader(kernel.map(Maps.RING));
            this.kernelCounters = new KernelCounters(kernel.map(Maps.COUNTERS));
            this.agentSighupsSeen = kernelCounters.sum(AG_CNT_DAEMON_SIGHUP);   // adopted maps keep old counts
            this.status = new AgentStatus(this, kernelCounters, config.statsIntervalMs(), log);
            this.enforcer = new Enforcer(cgroups.mount(), policies::enforcing, new BlastRadiusGuard(
                    config.blastRadiusMaxTargets(), config.blastRadiusWindowMs() * 1_000_000L), policies,
                    config.blockDurationMs(), this::countedEvent, violations);
            reloader.onSuccess(() -> {
                enforcer.rearm();
                AgentMetrics m = metrics;
                if (m != null) {
                    m.rulesInForce(classifier.rules().rules());
                }
            });
            reloader.onWeakened((why, lines) -> weakened("rules", why, lines, false, false));
            this.execChecker = new ExecFileChecker(policies, config.execHashMaxBytes(), this::violation, log, Path.of("/proc"));
            this.minerArgs = new io.agentguard.enforce.MinerArgsChecker(policies, this::violation, log, Path.of("/proc"));
            this.tunnelJudge = new io.agentguard.enforce.TunnelJudge(heldProcesses, Path.of("/proc"), log);
            BpfLink unixIterator = kernel.unixListeners();
            this.unixOwners = unixIterator == null ? null
                    : new UnixOwners(unixIterator, kernel.map(Maps.UNIX_OUTSIDE), this::violation, log);
            this.posture = new io.agentguard.posture.PostureMonitor(config.posture(), cgroups, guardPaths(), this::violation,
                    log, Path.of("/proc"));
            CgroupPaths agentCgroupPaths = new CgroupPaths(cgroups, 200_000_000L);
            UnixOwners owners = unixOwners;
            this.runtimeNames = io.agentguard.workload.runtime.RuntimeMetadata.start(config.runtimeLookup());
            this.pipeline = ConsumerPipeline.builder(config, classifier)
                    .workloadNames(runtimeNames)
                    // outside cgroups appear only as Unix listeners' cgroups, which the resolver knows
                    .cgroupPaths(owners == null ? agentCgroupPaths : id -> {
                        String path = agentCgroupPaths.apply(id);
                        return path.isEmpty() ? owners.cgroupPath(id) : path;
                    })
                    .unixConnects(owners == null ? null : owners::offer)
                    .policies(policies::view)
                    .wallMinusMonotonicNs(clock::wallMinusMonotonicNs)
                    .events(sink, config.emitEvents())
                    .violations(this::violation)
                    .execFollowUp(new ExecFollowUpPair(new ExecFollowUpPair(new ExecFollowUpPair(execChecker, posture),
                            minerArgs), tunnelJudge))
                    .actions(enforcer::submit)
                    .reporting(config.report(), this::reportEvent)
                    .killer(pid -> Libc.kill(pid, 9))
                    .tunnelDenied(heldProcesses::killDeniedTunnel)
                    .build();
            Set<String> roots = cgroups.roots().stream().map(AgentCgroups.Root::relativePath).collect(Collectors.toSet());
            this.seededProcesses = pipeline.processes().seedFromProc(Path.of("/proc"), roots, relative -> {
                try {
                    return AgentCgroups.inode(cgroups.mount().resolve(relative));
                } catch (RuntimeException e) {
                    return 0;
                }
            });
            this.watchedTasks = WatchedTasks.seed(kernel.map(Maps.TASKS), cgroups);
            this.consumer = new ConsumerLoop(reader, pipeline, kernel.map(Maps.READER), config.wakeupDelayMs(),
                    new LossMonitor(kernel.map(Maps.BUDGETS)), log);
            this.stateVerifier = new KernelStateVerifier(kernel, policies, config.verifyIntervalMs(), this::countedEvent,
                    this::violation, log);
            kernel.describe("state-checks", config.verifyIntervalMs() > 0 ? "links, pins, scope, config and policy maps"
                    + " checked with the kernel every " + config.verifyIntervalMs() + " ms; drift repaired and reported"
                    : "off by configuration (checked once at start)");
            // the reporter's sender asks for heartbeat counters as soon as a collector answers
            this.reporter = config.report() == null ? null
                    : Reporter.start(config.report(), policies.mode(), status::heartbeat, hooks(), AgentStatus.VERSION, log);
        } catch (RuntimeException | Error e) {
            closeParts();
            throw e;
        }
        this.housekeeping = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "agentguard-housekeeping");
            t.setDaemon(true);
            return t;
        });
        housekeeping.execute(stateVerifier::run);   // at once: pinned links that failed adoption are reported now
        if (config.verifyIntervalMs() > 0) {
            housekeeping.scheduleWithFixedDelay(stateVerifier::run, config.verifyIntervalMs(), config.verifyIntervalMs(),
                    TimeUnit.MILLISECONDS);
        }
        housekeeping.scheduleWithFixedDelay(this::rescanDevices, config.deviceRescanMs(), config.deviceRescanMs(),
                TimeUnit.MILLISECONDS);
        housekeeping.scheduleWithFixedDelay(policies::expireBlocks, 1, 1, TimeUnit.SECONDS);
        long sweepMs = Math.max(10, config.tunnels().holdTimeoutMs() / 4);
        housekeeping.scheduleWithFixedDelay(heldProcesses::sweep, sweepMs, sweepMs, TimeUnit.MILLISECONDS);
        housekeeping.scheduleWithFixedDelay(() -> housekeepingHeartbeatNs = System.nanoTime(), 1, 1, TimeUnit.SECONDS);
        if (self != null) {
            housekeeping.scheduleWithFixedDelay(self::checkOomScoreAdj, 500, 500, TimeUnit.MILLISECONDS);
        }
        if (config.posture().check() && config.posture().rescanIntervalMs() > 0) {
            housekeeping.scheduleWithFixedDelay(posture::rescan, config.posture().rescanIntervalMs(),
                    config.posture().rescanIntervalMs(), TimeUnit.MILLISECONDS);
        }
        housekeeping.scheduleWithFixedDelay(policies::recheckExecFiles, config.execRecheckMs(), config.execRecheckMs(),
                TimeUnit.MILLISECONDS);
        if (config.ruleWatchMs() > 0) {
            housekeeping.scheduleWithFixedDelay(reloader::checkForChanges, config.ruleWatchMs(), config.ruleWatchMs(),
                    TimeUnit.MILLISECONDS);
        }
        if (config.statsIntervalMs() > 0) {
            housekeeping.scheduleAtFixedRate(status::printStats, config.statsIntervalMs(), config.statsIntervalMs(),
                    TimeUnit.MILLISECONDS);
        }
        consumer.start();
    }

    private void countedEvent(Event e) {
        AgentMetrics m = metrics;
        if (m != null) {
            m.event(e);
        }
        sink.accept(e);
    }

    private void violation(Violation v) {
        violations.accept(v);
        if (reporter != null) {
            reporter.offer(v);
        }
        AgentMetrics m = metrics;
        if (m != null) {
            m.violation(v);
        }
    }

    private void reportEvent(Event e) {
        reporter.offer(e);
    }

    /** Loads and attaches everything, then starts consuming; throws with a precise reason on failure. */
    public static Agent start(AgentConfig config, EventSink sink, Consumer<Violation> violations, Log log) {
        return start(config, sink, violations, log, PROC_DEVICES);
    }

    /** With another /proc/devices: tests simulate an NVIDIA driver loading after start. */
    static Agent start(AgentConfig config, EventSink sink, Consumer<Violation> violations, Log log, Path procDevices) {
        return start(config, null, sink, violations, log, procDevices);
    }

    static Agent start(AgentConfig config, Path configFile, EventSink sink, Consumer<Violation> violations, Log log,
                       Path procDevices) {
        InstanceLock lock = new InstanceLock(Path.of(config.runtimeDir(), "agentguard.lock"));
        KernelHooks kernel = null;
        Agent agent;
        try {
            // Rules first: a rule error stops the start before anything is attached.
            Classifier classifier = new Classifier(RuleLoader.load(config.defaultRulePack(), config.rulePaths(),
                    config.classification().ruleLimits()), config.classification().budgetPerEvent());
            AgentCgroups cgroups = AgentCgroups.resolve(Cgroup2Mount.find(), config.agentCgroups(),
                    config.createMissingCgroups());
            List<GpuStandin> standins = config.gpuStandins().stream().map(GpuStandin::parse).toList();
            kernel = KernelHooks.load(new KernelHooks.Settings(config.ringBufferBytes(), config.selfProtection(),
                    config.syscallOutcomes(), config.pinPath(), !standins.isEmpty()), log);
            agent = new Agent(config, sink, violations, log, procDevices, lock, classifier, cgroups, standins, kernel);
        } catch (RuntimeException | Error e) {
            if (kernel != null) {
                kernel.close();
            }
            lock.close();
            throw e;
        }
        agent.configFile = configFile;
        try {
            agent.metrics = new AgentMetrics(agent, config.metricsListen());
            agent.metrics.rulesInForce(agent.classifier.rules().rules());
            agent.statusServer = new StatusServer(Path.of(config.runtimeDir(), "status.sock"), agent.status::json, log);
        } catch (RuntimeException e) {
            agent.close();
            throw e;
        }
        agent.printStartup();
        agent.posture.checkPaths(agent.guardPaths(), "start", false);
        agent.posture.scanAtStart();   // one look at the processes there, with the paths just checked
        SystemdNotify.send("READY=1\nSTATUS=watching " + agent.cgroups.roots().size() + " agent cgroups, "
                + agent.classifier.rules().size() + " rules");
        agent.startWatchdog(Watchdog.Settings.fromEnvironment(System.getenv(), ProcessHandle.current().pid()));
        return agent;
    }

    private synchronized void startWatchdog(Watchdog.Settings settings) {
        if (settings == null || stopped) {
            log.info("watchdog: not asked for by systemd (WatchdogSec= in the unit)");
            return;
        }
        watchdog = new Watchdog(settings, consumer::heartbeatNs, () -> housekeepingHeartbeatNs, log);
        watchdog.start();
        log.info("watchdog: pinging systemd every " + watchdog.intervalMs() / 2 + " ms while the ring consumer and"
                + " housekeeping make progress (restart after " + watchdog.intervalMs() + " ms without)");
    }

    /** A reload took enforcement or detection away: an event and a violation (any thread). */
    private void weakened(String what, String trigger, List<String> lines, boolean enforceBefore, boolean enforceAfter) {
        weakeningReloads.increment();
        log.warn("reload (" + trigger + ") weakened the " + what + ": " + String.join("; ", lines));
        long nowMs = System.currentTimeMillis();
        ReloadEvent.Builder reload = ReloadEvent.newBuilder().setWhat(what).setTrigger(trigger).addAllWeakened(lines);
        if (what.equals("configuration")) {
            reload.setModeBefore(enforceBefore ? "enforce" : "monitor").setModeAfter(enforceAfter ? "enforce" : "monitor");
        }
        Event evidence = Event.newBuilder()
                .setTime(Timestamp.newBuilder().setSeconds(nowMs / 1000).setNanos((int) (nowMs % 1000) * 1_000_000))
                .setMonotonicNs(System.nanoTime())
                .setReload(reload)
                .build();
        countedEvent(evidence);
        violation(KernelFindings.violation(KernelFindings.ENFORCEMENT_WEAKENED, evidence).build());
    }

    long weakeningReloads() {
        return weakeningReloads.sum();
    }

    /** The systemd watchdog pinger, or null when systemd does not watch this process. */
    Watchdog watchdog() {
        return watchdog;
    }

    private void rescanDevices() {
        try {
            NvidiaDevices now = NvidiaDevices.read(procDevices, standins);
            if (!now.entries().equals(devices.entries()) || now.driverLoaded() != devices.driverLoaded()) {
                log.info("NVIDIA devices changed: driver loaded=" + now.driverLoaded()
                        + ", nvidia-uvm major=" + (now.uvmMajor().isPresent() ? now.uvmMajor().getAsInt() : "none"));
                kernel.devicesChanged(now);
                devices = now;   // after: a failed write is retried at the next rescan
            }
            clock.refresh();
        } catch (RuntimeException e) {
            log.warn("device rescan failed: " + e.getMessage());
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
        for (Map.Entry<String, String> h : hooks().entrySet()) {
            log.info("hook " + h.getKey() + ": " + h.getValue());
        }
        log.info("rules: " + classifier.rules().size() + " from " + String.join(", ", classifier.rules().sources())
                + (config.ruleWatchMs() > 0 ? "; reloaded on change and SIGHUP" : "; reloaded on SIGHUP"));
        log.info("process table: " + seededProcesses + " processes seeded from /proc; " + watchedTasks.marked()
                + " tasks already in agent cgroups marked as watched in the kernel");
        if (metrics.port() > 0) {
            log.info("metrics on " + config.metricsListen().substring(0, config.metricsListen().lastIndexOf(':')) + ":"
                    + metrics.port());
        }
        log.info("status on " + statusServer.path());
        log.info("ring buffer " + (reader.dataSize() >> 10) + " KiB, " + (config.wakeupDelayMs() > 0
                ? "read every " + config.wakeupDelayMs() + " ms or when a quarter full" : "reader woken per record")
                + "; watching");
    }

    /**
     * Whether a SIGHUP now in hand must be refused: an agent cgroup sent one since the last
     * look (the kernel counts them before the signal is delivered, so the count is already up
     * when the handler runs) and self-protection enforces. A reload an agent asks for is not one
     * an operator asked for, whatever it changes; the sender was killed and reported. An
     * operator's SIGHUP that coalesced with an agent's is refused too: sending it again works.
     * The kernel counts only SIGHUPs it queued, so each count is one run of this handler: one is
     * taken per run (file-async I/O can send several before the first run reads the count).
     */
    public synchronized boolean refuseReloadFromAgent() {
        long now = kernelCounters.sum(AG_CNT_DAEMON_SIGHUP);
        boolean fromAgent = now > agentSighupsSeen;
        if (fromAgent) {
            agentSighupsSeen++;   // one queued SIGHUP per run of the handler: a second agent SIGHUP is refused too
        }
        if (fromAgent && config.selfProtection() && policies.mode().equals("enforce")) {
            refusedReloads.increment();
            log.warn("reload refused: SIGHUP from an agent cgroup (its sender was killed, or it came through"
                    + " file-async I/O; see the tamper violation);"
                    + " the configuration and rules in force stay. An operator's reload: send SIGHUP again");
            return true;
        }
        return false;
    }

    long refusedReloads() {
        return refusedReloads.sum();
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

    /** With the configuration file it was read from: the path checks include it. */
    public static Agent start(AgentConfig config, Path configFile, EventSink sink, Consumer<Violation> violations, Log log) {
        return start(config, configFile, sink, violations, log, PROC_DEVICES);
    }

    private io.agentguard.posture.GuardPaths guardPaths() {
        return io.agentguard.posture.GuardPaths.of(config, configFile, cgroups.mount(),
                io.agentguard.posture.GuardPaths.ownCgroup());
    }

    /**
     * Checks the guard's paths again (reload): owner and mode of the configuration, rules,
     * spool, runtime and pin paths and their directories; unsafe ones are logged, shown in
     * status and raised as one violation. Returns them.
     */
    public List<String> checkPaths(String when) {
        return posture.checkPaths(guardPaths(), when);
    }

    io.agentguard.posture.PostureMonitor posture() {
        return posture;
    }

    /** Puts a reloaded configuration's mode and policies in force; null, or the error (nothing changed then). */
    public String reloadPolicies(AgentConfig next) {
        return reloadPolicies(next, "reload");
    }

    /**
     * As {@link #reloadPolicies(AgentConfig)}; a reload that weakens enforcement goes through
     * and is a violation ("agentguard: enforcement weakened by reload").
     */
    public String reloadPolicies(AgentConfig next, String trigger) {
        PolicyWeakening.State before = policies.state();
        String error = policies.reload(next);
        if (error == null) {
            List<String> weakened = PolicyWeakening.between(before, policies.state());
            if (!weakened.isEmpty()) {
                weakened("configuration", trigger, weakened, before.enforce(), policies.state().enforce());
            }
        }
        return error;
    }

    /** Adds a cgroup policy at run time (tests). */
    void addPolicyForTest(Policy policy) {
        policies.add(policy);
    }

    /** The Unix owner resolver, or null where the kernel lacks its hooks. */
    UnixOwners unixOwners() {
        return unixOwners;
    }

    /** Runs the Unix listener iterator now, as its timer would (tests). */
    void refreshUnixOwnersForTest() {
        unixOwners.refresh();
    }

    /** What `agentguard status --json` prints. */
    String status() {
        return status.json();
    }

    /** A snapshot of what the agent has seen. */
    public record Stats(long events, long lost, long emittedByKernel, long invalid, long failed, long[] byType,
                        long uptimeNs, long violations, int processes, long processEvictions, long reportEventsLimited) {
    }

    private static String perSecond(int limit) {
        return limit == 0 ? "unlimited" : limit + "/s";
    }

    /** Records the kernel dropped for agent cgroups over their rate limit (all CPUs). */
    long rateLimitedRecords() {
        return kernelCounters.sum(io.agentguard.abi.KernelAbi.AG_CNT_RATE_LIMITED);
    }

    public Stats stats() {
        return status.stats();
    }

    public String summary() {
        return status.summary();
    }

    public RuleReloader.Status ruleStatus() {
        return reloader.status();
    }

    /** Events that ran out of the classifier's per-event budget, and the violations that reported them. */
    long overBudgetEvents() {
        return classifier.overBudgetEvents();
    }

    long budgetReports() {
        return pipeline.budgetReports();
    }

    long budgetPerEvent() {
        return classifier.budgetPerEvent();
    }

    List<String> ruleSources() {
        return classifier.rules().sources();
    }

    /** Capability -> the hook chosen for it, as printed at start. */
    public Map<String, String> hooks() {
        return kernel.descriptions();
    }

    /** ag_scope_roots, for the status of the pattern-matched cgroups. */
    io.agentguard.bpf.BpfMap scopeRootsMap() {
        return kernel.map(Maps.SCOPE_ROOTS);
    }

    public AgentCgroups cgroups() {
        return cgroups;
    }

    public Enforcer enforcer() {
        return enforcer;
    }

    public Reporter reporter() {
        return reporter;
    }

    ExecFileChecker execChecker() {
        return execChecker;
    }

    PolicyController policies() {
        return policies;
    }

    String pinRoot() {
        return kernel.pinRoot();
    }

    KernelStateVerifier stateVerifier() {
        return stateVerifier;
    }

    ConsumerPipeline.Counters pipelineCounters() {
        return pipeline.counters();
    }

    long failedRecords() {
        return consumer.failedRecords();
    }

    long consumerLagBytes() {
        return reader.pendingBytes();
    }

    Classifier classifier() {
        return classifier;
    }

    /** The port metrics are served on, or -1 when metrics.listen is empty. */
    int metricsPort() {
        AgentMetrics m = metrics;
        return m == null ? -1 : m.port();
    }

    /** System.nanoTime of the ring consumer's last loop turn; far in the past once it died. */
    long consumerHeartbeatNs() {
        return consumer.heartbeatNs();
    }

    boolean readerParked() {
        return consumer.parked();
    }

    /** Blocks until the consumer thread ends (after {@link #close} or a failure). */
    public void awaitTermination() throws InterruptedException {
        consumer.awaitTermination();
    }

    /** What ended the consumer thread, or null. */
    public Throwable failure() {
        return consumer.failure();
    }

    /** Stops consuming: drains the ring and flushes held events; stats stay readable. */
    public synchronized void stop() {
        if (stopped) {
            return;
        }
        stopped = true;
        SystemdNotify.send("STOPPING=1");
        if (watchdog != null) {
            watchdog.stop();
        }
        housekeeping.shutdownNow();
        try {
            housekeeping.awaitTermination(5, TimeUnit.SECONDS);   // no rescan or expiry writes maps after this
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        enforcer.close();
        consumer.stop(10_000);
    }

    /** Stops, detaches the hooks that are not pinned and frees everything. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        stop();
        closed = true;
        policies.close();   // a late SIGHUP reload is refused instead of writing maps being freed
        if (statusServer != null) {
            statusServer.close();
        }
        if (metrics != null) {
            metrics.close();
        }
        closeParts();
        kernel.close();
        lock.close();
    }

    /** Tunnel execs the judge could not queue. */
    long tunnelJudgeDropped() {
        return tunnelJudge == null ? 0 : tunnelJudge.dropped();
    }

    /** The tunnel hold's kernel side (status, tests). */
    public io.agentguard.enforce.HeldProcesses heldProcesses() {
        return heldProcesses;
    }

    /** Container and pod names from the runtimes' sockets (status). */
    public io.agentguard.workload.runtime.RuntimeMetadata runtimeNames() {
        return runtimeNames;
    }

    /** What the constructor made that holds threads, mappings or files. */
    private void closeParts() {
        if (runtimeNames != null) {
            runtimeNames.close();
        }
        if (tunnelJudge != null) {
            tunnelJudge.close();
        }
        if (heldProcesses != null) {
            heldProcesses.close();   // nobody would judge what is held now: resumed, still marked tunnels
        }
        if (posture != null) {
            posture.close();
        }
        if (unixOwners != null) {
            unixOwners.close();
        }
        if (reporter != null) {
            reporter.close();
        }
        if (minerArgs != null) {
            minerArgs.close();
        }
        if (execChecker != null) {
            execChecker.close();
        }
        if (enforcer != null) {
            enforcer.close();
        }
        if (kernelCounters != null) {
            kernelCounters.close();
        }
        if (reader != null && (consumer == null || !consumer.alive())) {
            reader.close();   // unmapped under a consumer still reading, the JVM would crash: left mapped
        }
    }
}
