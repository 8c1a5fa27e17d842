package io.agentguard.config;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The daemon's configuration (agentguard.yaml). Every field has a default; see
 * docs/CONFIG.md. Immutable.
 *
 * @param agentCgroups          agent cgroup roots, relative to the cgroup2 mount
 * @param createMissingCgroups  create agent cgroups that do not exist instead of failing
 * @param outputPath            "-" for stdout, else a file appended to
 * @param outputFormat          protobuf JSON mapping, one per line, or text
 * @param maxArgsBytes          exec argv bytes kept per event (1..8192)
 * @param ringBufferBytes       BPF ring buffer size (power of two, >= 4096)
 * @param wakeupDelayMs         0: the kernel wakes the reader for every record it finds it idle for;
 *                              else records are batched: the reader polls every wakeupDelayMs and is
 *                              woken early only when a quarter of the ring is filled
 * @param gpuStandins           PATH=ROLE stand-in device declarations
 * @param deviceRescanMs        how often /proc/devices is re-read for a late NVIDIA driver
 * @param connectOutcomeTimeoutMs how long a TCP connect waits for its handshake outcome
 * @param statsIntervalMs       events/lost per second line on stderr; 0 = off
 * @param syscallOutcomes       whether syscall exit tracepoints report failed execs and
 *                              connect() results (see {@link SyscallOutcomes})
 * @param emitEvents            print every event (output.events), not only violations
 * @param defaultRulePack       load the embedded default rule pack first
 * @param rulePaths             rule files or globs (a glob in the file name only), in order
 * @param ruleWatchMs           how often rule files are checked for changes; 0 = only on SIGHUP
 * @param stateWindowMs         the window of proc/cgroup.distinct_dests
 * @param processTableCapacity  processes followed at most (least recently seen evicted)
 * @param enforce               global mode: true enforce, false monitor
 * @param defaultPolicy         for agent cgroups without a policy of their own
 * @param cgroupPolicies        policies of particular cgroups (inside agent cgroups)
 * @param blastRadiusMaxTargets a kill action on more distinct cgroups/executables than this...
 * @param blastRadiusWindowMs   ...within this window disarms itself
 * @param selfProtection        kill (or, with LSM, refuse) signals, stops, freezes, ptrace, memory and OOM-score writes aimed at the daemon from agent cgroups
 * @param pinPath               bpffs directory where programs, links and maps are pinned
 * @param blockDurationMs       how long a block_destination action lasts
 * @param report                where and how violations (and events) are reported; null = not
 * @param runtimeDir            lock file and the root-only status socket
 * @param metricsListen         HOST:PORT of the Prometheus endpoint; "" = off
 * @param recordLimits          what one agent cgroup may put in the ring (ring_buffer.*)
 * @param execRecheckMs         how often exec deny paths and the dynamic loaders are resolved again
 * @param execHashMaxBytes      larger executed files are not hashed (exec.deny_sha256, denied paths' digests)
 * @param verifyIntervalMs      how often the daemon checks its links, pins and maps against the kernel; 0 = never
 * @param posture               posture.*: privileges in agent cgroups, the guard's own paths
 * @param classification        what rule files and one event's classification may cost (rules.limits.*, classifier.*)
 * @param aggregationWindowMs   repeats of a violation (rule, process, cgroup, GPU) within this window are counted into
 *                              one summary (report.aggregation_window_ms); 0: every occurrence reported alone
 * @param tunnels               tunnels.*: the programs held at exec where egress.tunnels is deny, and how long
 * @param runtimeLookup         workload.*: container/pod names and labels asked of the runtimes' local sockets
 * @param hostRoot              where the host's files are (host_root): "/", or /proc/1/root for the daemon in a container
 */
public record AgentConfig(
        List<String> agentCgroups,
        boolean createMissingCgroups,
        String outputPath,
        OutputFormat outputFormat,
        int maxArgsBytes,
        int ringBufferBytes,
        List<String> gpuStandins,
        long deviceRescanMs,
        long connectOutcomeTimeoutMs,
        long statsIntervalMs,
        SyscallOutcomes syscallOutcomes,
        boolean emitEvents,
        boolean defaultRulePack,
        List<String> rulePaths,
        long ruleWatchMs,
        long stateWindowMs,
        int processTableCapacity,
        boolean enforce,
        Policy defaultPolicy,
        List<Policy> cgroupPolicies,
        int blastRadiusMaxTargets,
        long blastRadiusWindowMs,
        boolean selfProtection,
        String pinPath,
        long blockDurationMs,
        Report report,
        String runtimeDir,
        String metricsListen,
        int wakeupDelayMs,
        RecordLimits recordLimits,
        long execRecheckMs,
        long execHashMaxBytes,
        long verifyIntervalMs,
        Posture posture, Classification classification,
        long aggregationWindowMs, Tunnels tunnels, RuntimeLookup runtimeLookup, io.agentguard.process.HostRoot hostRoot) {

    /**
     * workload.names and the runtime sockets asked for container and pod names and labels
     * (io.agentguard.workload.runtime.RuntimeMetadata): best effort, cached, never on the event path.
     *
     * @param sockets runtime (podman, docker, containerd, cri-o) to its Unix socket; "" = not asked
     */
    public record RuntimeLookup(boolean enabled, Map<String, String> sockets, long lookupTimeoutMs, long cacheTtlMs,
                                long negativeTtlMs, int cacheEntries) {
        /** Where each runtime listens on a stock node; a socket that does not exist is skipped quietly. */
        public static final Map<String, String> DEFAULT_SOCKETS = defaultSockets();
        public static final RuntimeLookup DEFAULT = new RuntimeLookup(true, DEFAULT_SOCKETS, 500, 600_000, 30_000, 4096);

        public RuntimeLookup {
            sockets = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(sockets));
        }

        private static Map<String, String> defaultSockets() {
            Map<String, String> m = new LinkedHashMap<>();
            m.put("containerd", "/run/containerd/containerd.sock");
            m.put("cri-o", "/var/run/crio/crio.sock");
            m.put("podman", "/run/podman/podman.sock");
            m.put("docker", "/var/run/docker.sock");
            return java.util.Collections.unmodifiableMap(m);
        }
    }

    /**
     * tunnels.*: programs (names, or absolute paths) that are tunnels or may carry one; where a
     * policy says egress.tunnels: deny, their execs are stopped until the tunnel judge decides
     * (at most holdTimeoutMs, then resumed as tunnels: fail closed on egress).
     */
    public record Tunnels(List<String> programs, long holdTimeoutMs) {
        public static final List<String> DEFAULT_PROGRAMS = List.of("ssh", "autossh", "sshuttle", "dbclient", "plink",
                "chisel", "frpc", "ngrok", "cloudflared", "gost", "wstunnel", "bore", "socat", "tailscale", "devtunnel");
        public static final Tunnels DEFAULT = new Tunnels(DEFAULT_PROGRAMS, 250);

        public Tunnels {
            programs = List.copyOf(programs);
        }
    }

    /** posture.*: whether processes in agent cgroups are checked for privileges that defeat the guard, how often a finding repeats. */
    public record Posture(boolean check, long repeatAfterMs, long rescanIntervalMs) {
        public static final Posture DEFAULT = new Posture(true, 600_000, 60_000);
    }

    /**
     * Per agent cgroup, per second: ordinary records and priority records (denials, kills,
     * tamper, scope); 0 = unlimited. reserveBytes: ring space ordinary records leave free;
     * negative: an eighth of the ring, whatever its size.
     */
    public record RecordLimits(int recordsPerSecond, int priorityPerSecond, int reserveBytes) {
        public static final RecordLimits DEFAULT = new RecordLimits(50_000, 5_000, -1);

        /** The reserve for a ring of ringBytes: at most half of it. */
        public int reserveBytesFor(int ringBytes) {
            return reserveBytes < 0 ? ringBytes / 8 : Math.min(reserveBytes, ringBytes / 2);
        }
    }

    /** The report section: collectors, TLS, spool. */
    public record Report(List<String> collectors, String node, TlsMode tlsMode, String ca, String cert, String key,
                         String spoolDir, long spoolMaxBytes, boolean events, long eventsPerSecond, int evidenceEvents,
                         long heartbeatMs) {
    }


    /**
     * Bounds on classification (docs/RULES.md "Limits"): what a rule file may cost to read and
     * compile, and the matching work one event may take, with how often running out of it is
     * reported as a violation.
     */
    public record Classification(io.agentguard.rules.RuleLimits ruleLimits, long budgetPerEvent,
                                 long budgetReportIntervalMs) {
        public static final Classification DEFAULT = new Classification(io.agentguard.rules.RuleLimits.DEFAULT,
                io.agentguard.rules.Classifier.DEFAULT_BUDGET_PER_EVENT, 10_000);
    }

    public static final int MAX_ARGS_BYTES_CEILING = 8192;
    /** report.aggregation_window_ms when not set. */
    public static final long DEFAULT_AGGREGATION_WINDOW_MS = 10_000;

    public AgentConfig {
        agentCgroups = List.copyOf(agentCgroups);
        gpuStandins = List.copyOf(gpuStandins);
        rulePaths = List.copyOf(rulePaths);
        cgroupPolicies = List.copyOf(cgroupPolicies);
    }

    public Builder toBuilder() {
        return new Builder(this);
    }

    /** Copies a config with some values changed (CLI flags over the file, tests). */
    public static final class Builder {
        private List<String> agentCgroups;
        private boolean createMissingCgroups;
        private String outputPath;
        private OutputFormat outputFormat;
        private int maxArgsBytes;
        private int ringBufferBytes;
        private int wakeupDelayMs = 2;
        private List<String> gpuStandins;
        private long deviceRescanMs;
        private long connectOutcomeTimeoutMs;
        private long statsIntervalMs;
        private SyscallOutcomes syscallOutcomes;
        private boolean emitEvents;
        private boolean defaultRulePack;
        private List<String> rulePaths;
        private long ruleWatchMs;
        private long stateWindowMs;
        private int processTableCapacity;
        private boolean enforce;
        private Policy defaultPolicy;
        private List<Policy> cgroupPolicies;
        private int blastRadiusMaxTargets;
        private long blastRadiusWindowMs;
        private boolean selfProtection;
        private String pinPath;
        private long blockDurationMs;
        private Report report;
        private String runtimeDir;
        private String metricsListen;
        private RecordLimits recordLimits;
        private long execRecheckMs;
        private long execHashMaxBytes;
        private long verifyIntervalMs = 2000;
        private Posture posture = Posture.DEFAULT;
        private Classification classification = Classification.DEFAULT;
        private long aggregationWindowMs = DEFAULT_AGGREGATION_WINDOW_MS;
        private Tunnels tunnels = Tunnels.DEFAULT;
        private RuntimeLookup runtimeLookup = RuntimeLookup.DEFAULT;
        private io.agentguard.process.HostRoot hostRoot = io.agentguard.process.HostRoot.SLASH;

        private Builder(AgentConfig c) {
            agentCgroups = c.agentCgroups;
            createMissingCgroups = c.createMissingCgroups;
            outputPath = c.outputPath;
            outputFormat = c.outputFormat;
            maxArgsBytes = c.maxArgsBytes;
            ringBufferBytes = c.ringBufferBytes;
            wakeupDelayMs = c.wakeupDelayMs;
            gpuStandins = c.gpuStandins;
            deviceRescanMs = c.deviceRescanMs;
            connectOutcomeTimeoutMs = c.connectOutcomeTimeoutMs;
            statsIntervalMs = c.statsIntervalMs;
            syscallOutcomes = c.syscallOutcomes;
            emitEvents = c.emitEvents;
            defaultRulePack = c.defaultRulePack;
            rulePaths = c.rulePaths;
            ruleWatchMs = c.ruleWatchMs;
            stateWindowMs = c.stateWindowMs;
            processTableCapacity = c.processTableCapacity;
            enforce = c.enforce;
            defaultPolicy = c.defaultPolicy;
            cgroupPolicies = c.cgroupPolicies;
            blastRadiusMaxTargets = c.blastRadiusMaxTargets;
            blastRadiusWindowMs = c.blastRadiusWindowMs;
            selfProtection = c.selfProtection;
            pinPath = c.pinPath;
            blockDurationMs = c.blockDurationMs;
            report = c.report;
            runtimeDir = c.runtimeDir;
            metricsListen = c.metricsListen;
            recordLimits = c.recordLimits;
            execRecheckMs = c.execRecheckMs;
            execHashMaxBytes = c.execHashMaxBytes;
            verifyIntervalMs = c.verifyIntervalMs;
            posture = c.posture;
            classification = c.classification;
            aggregationWindowMs = c.aggregationWindowMs;
            tunnels = c.tunnels;
            runtimeLookup = c.runtimeLookup;
            hostRoot = c.hostRoot;
        }

        public Builder agentCgroups(List<String> v) { agentCgroups = v; return this; }
        public Builder createMissingCgroups(boolean v) { createMissingCgroups = v; return this; }
        public Builder output(String path, OutputFormat format) { outputPath = path; outputFormat = format; return this; }
        public Builder maxArgsBytes(int v) { maxArgsBytes = v; return this; }
        public Builder ringBufferBytes(int v) { ringBufferBytes = v; return this; }
        public Builder wakeupDelayMs(int v) { wakeupDelayMs = v; return this; }
        public Builder gpuStandins(List<String> v) { gpuStandins = v; return this; }
        public Builder deviceRescanMs(long v) { deviceRescanMs = v; return this; }
        public Builder statsIntervalMs(long v) { statsIntervalMs = v; return this; }
        public Builder syscallOutcomes(SyscallOutcomes v) { syscallOutcomes = v; return this; }
        public Builder emitEvents(boolean v) { emitEvents = v; return this; }
        public Builder defaultRulePack(boolean v) { defaultRulePack = v; return this; }
        public Builder rulePaths(List<String> v) { rulePaths = v; return this; }
        public Builder ruleWatchMs(long v) { ruleWatchMs = v; return this; }
        public Builder stateWindowMs(long v) { stateWindowMs = v; return this; }
        public Builder enforce(boolean v) { enforce = v; return this; }
        public Builder defaultPolicy(Policy v) { defaultPolicy = v; return this; }
        public Builder cgroupPolicies(List<Policy> v) { cgroupPolicies = v; return this; }
        public Builder blastRadius(int maxTargets, long windowMs) {
            blastRadiusMaxTargets = maxTargets;
            blastRadiusWindowMs = windowMs;
            return this;
        }
        public Builder selfProtection(boolean v) { selfProtection = v; return this; }
        public Builder pinPath(String v) { pinPath = v; return this; }
        public Builder blockDurationMs(long v) { blockDurationMs = v; return this; }
        public Builder report(Report v) { report = v; return this; }
        public Builder runtimeDir(String v) { runtimeDir = v; return this; }
        public Builder metricsListen(String v) { metricsListen = v; return this; }
        public Builder recordLimits(RecordLimits v) { recordLimits = v; return this; }
        public Builder execRecheckMs(long v) { execRecheckMs = v; return this; }
        public Builder execHashMaxBytes(long v) { execHashMaxBytes = v; return this; }
        public Builder posture(Posture v) { posture = v; return this; }
        public Builder verifyIntervalMs(long v) { verifyIntervalMs = v; return this; }
        public Builder classification(Classification v) { classification = v; return this; }
        public Builder aggregationWindowMs(long v) { aggregationWindowMs = v; return this; }
        public Builder tunnels(Tunnels v) { tunnels = v; return this; }
        public Builder runtimeLookup(RuntimeLookup v) { runtimeLookup = v; return this; }
        public Builder hostRoot(io.agentguard.process.HostRoot v) { hostRoot = v; return this; }

        public AgentConfig build() {
            return new AgentConfig(agentCgroups, createMissingCgroups, outputPath, outputFormat, maxArgsBytes,
                    ringBufferBytes, gpuStandins, deviceRescanMs, connectOutcomeTimeoutMs, statsIntervalMs,
                    syscallOutcomes, emitEvents, defaultRulePack, rulePaths, ruleWatchMs, stateWindowMs,
                    processTableCapacity, enforce, defaultPolicy, cgroupPolicies, blastRadiusMaxTargets,
                    blastRadiusWindowMs, selfProtection, pinPath, blockDurationMs, report, runtimeDir, metricsListen, wakeupDelayMs,
                    recordLimits, execRecheckMs, execHashMaxBytes, verifyIntervalMs, posture, classification,
                    aggregationWindowMs, tunnels, runtimeLookup, hostRoot);
        }
    }
}
