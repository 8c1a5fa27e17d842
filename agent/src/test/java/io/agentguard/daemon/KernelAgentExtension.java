package io.agentguard.daemon;

import io.agentguard.bpf.Libc;
import io.agentguard.config.AgentConfig;
import io.agentguard.config.AgentConfigLoader;
import io.agentguard.config.SyscallOutcomes;
import io.agentguard.pipeline.KernelFindings;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Violation;
import io.agentguard.scope.AgentCgroups;
import io.agentguard.scope.Cgroup2Mount;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * Shared set-up of kernel tests: a unique agent cgroup root under the cgroup2 mount, an
 * {@link Agent} watching it with GPU stand-ins, and helpers to run real processes in
 * fresh child cgroups. Without root or BPF the tests are skipped, except when
 * AGENTGUARD_REQUIRE_BPF=1 (CI), where they fail.
 */
public final class KernelAgentExtension implements BeforeAllCallback, AfterAllCallback {
    public static final boolean REQUIRE_BPF = "1".equals(System.getenv("AGENTGUARD_REQUIRE_BPF"));

    private final List<Event> events = new ArrayList<>();
    private final List<Violation> violations = new ArrayList<>();
    private List<String> rulePaths = List.of();
    private java.util.function.UnaryOperator<AgentConfig.Builder> configure = b -> b.defaultPolicy(
            io.agentguard.config.Policies.UNRESTRICTED);
    private final int maxArgsBytes;
    private final int ringBufferBytes;
    private final SyscallOutcomes syscallOutcomes;
    private Predicate<Event> failOn = e -> false;
    private Path procDevices = Path.of("/proc/devices");
    private boolean standins = true;
    private long deviceRescanMs = 5000;
    private Path mount;
    private Path root;
    private String rootRelative;
    private Path standinDir;
    private Path pins;
    private boolean expectStateDrift;
    private Agent agent;
    private java.util.function.Consumer<Path> beforeStart = root -> { };
    private final List<Path> outside = new ArrayList<>();

    public KernelAgentExtension(int maxArgsBytes) {
        this(maxArgsBytes, 1 << 20, SyscallOutcomes.AUTO);
    }

    public KernelAgentExtension(int maxArgsBytes, int ringBufferBytes, SyscallOutcomes syscallOutcomes) {
        this.maxArgsBytes = maxArgsBytes;
        this.ringBufferBytes = ringBufferBytes;
        this.syscallOutcomes = syscallOutcomes;
    }

    /** Adjusts the configuration (policies, mode...) after the test defaults (which allow everything). */
    public KernelAgentExtension configure(java.util.function.UnaryOperator<AgentConfig.Builder> change) {
        java.util.function.UnaryOperator<AgentConfig.Builder> before = configure;
        configure = b -> change.apply(before.apply(b));
        return this;
    }

    /** Rule files (after the default pack), watched for changes every 100 ms. */
    public KernelAgentExtension withRules(List<String> paths) {
        this.rulePaths = paths;
        return this;
    }

    /** Runs with the agent root created, before the agent starts (processes that were there first). */
    /** The agent_cgroups entries, from the test root's path relative to the mount (default: the root itself). */
    public KernelAgentExtension agentCgroups(java.util.function.Function<String, List<String>> entries) {
        this.agentCgroupEntries = entries;
        return this;
    }

    private java.util.function.Function<String, List<String>> agentCgroupEntries = List::of;

    public KernelAgentExtension beforeStart(java.util.function.Consumer<Path> action) {
        this.beforeStart = action;
        return this;
    }

    /** A new cgroup outside the agent cgroups (a sibling of the agent root), removed after the tests. */
    public synchronized Path outsideCgroup(String name) throws IOException {
        Path dir = root.getParent().resolve(name + "-outside-" + UUID.randomUUID().toString().substring(0, 6));
        Files.createDirectories(dir);
        outside.add(dir);
        return dir;
    }

    /** The event sink throws on matching events, as a fault in the pipeline would (on the consumer thread). */
    public KernelAgentExtension failOn(Predicate<Event> poisoned) {
        this.failOn = poisoned;
        return this;
    }

    /** No stand-ins, and /proc/devices read from the given file every rescanMs. */
    public KernelAgentExtension withoutStandins(Path procDevicesFile, long rescanMs) {
        this.standins = false;
        this.procDevices = procDevicesFile;
        this.deviceRescanMs = rescanMs;
        return this;
    }

    /**
     * Pins under a directory of this test's own (removed afterwards, hooks detaching), and the
     * daemon's state checks every verifyIntervalMs.
     */
    public KernelAgentExtension withPins(long verifyIntervalMs) {
        this.pins = Path.of("/sys/fs/bpf/agentguard-test-" + UUID.randomUUID().toString().substring(0, 8));
        return configure(b -> b.pinPath(pins.toString()).verifyIntervalMs(verifyIntervalMs));
    }

    /** This test tampers with the agent's kernel objects: state drift violations are expected (else they fail it). */
    public KernelAgentExtension expectingStateDrift() {
        this.expectStateDrift = true;
        return this;
    }

    /** The pin directory of {@link #withPins}. */
    public Path pins() {
        return pins;
    }

    /** Kernel tests without root: skipped, or failed where AGENTGUARD_REQUIRE_BPF=1 (CI). */
    public static void requireRoot() {
        if (Libc.geteuid() != 0) {
            String why = "kernel tests need root (BPF, cgroups, mknod)";
            if (REQUIRE_BPF) {
                throw new IllegalStateException(why + " and AGENTGUARD_REQUIRE_BPF=1");
            }
            Assumptions.abort(why);
        }
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        requireRoot();
        mount = Cgroup2Mount.find();
        rootRelative = "agentguard-test/" + UUID.randomUUID().toString().substring(0, 8);
        root = mount.resolve(rootRelative);
        Files.createDirectories(root);
        standinDir = Files.createTempDirectory("agentguard-standin");
        // Stand-ins: /dev/full, /dev/random, /dev/urandom numbers (ioctls there answer ENOTTY/EINVAL).
        mknod(standinDir.resolve("nvidiactl"), 1, 7);
        mknod(standinDir.resolve("nvidia0"), 1, 8);
        mknod(standinDir.resolve("nvidia-uvm"), 1, 9);
        beforeStart.accept(root);
        AgentConfig config = configure.apply(AgentConfigLoader.embeddedDefault().toBuilder()
                .verifyIntervalMs(500)   // often: every kernel test class also proves that the checks find no false drift
                .agentCgroups(agentCgroupEntries.apply(rootRelative))
                .createMissingCgroups(false)
                .maxArgsBytes(maxArgsBytes)
                .ringBufferBytes(ringBufferBytes)
                .syscallOutcomes(syscallOutcomes)
                .statsIntervalMs(0)
                .deviceRescanMs(deviceRescanMs)
                .rulePaths(rulePaths)
                .ruleWatchMs(100)
                .pinPath("")   // tests of pinning set their own path
                .runtimeDir(standinDir.resolve("run").toString())
                .metricsListen("127.0.0.1:0")
                .gpuStandins(!standins ? List.of() : List.of(standinDir.resolve("nvidiactl") + "=control",
                        standinDir.resolve("nvidia0") + "=gpu0", standinDir.resolve("nvidia-uvm") + "=uvm")))
                .build();
        try {
            agent = Agent.start(config, this::collect, this::collectViolation, io.agentguard.log.Log.stderr(), procDevices);
        } catch (RuntimeException e) {
            cleanup();
            if (REQUIRE_BPF) {
                throw e;
            }
            Assumptions.abort("cannot load BPF here: " + e.getMessage());
        }
    }

    private synchronized void collect(Event e) {
        if (failOn.test(e)) {
            throw new IllegalStateException("poisoned event for the test: " + e.getKindCase());
        }
        events.add(e);
        notifyAll();
    }

    private synchronized void collectViolation(Violation v) {
        violations.add(v);
        notifyAll();
    }

    /** Violations matching the filter, once at least minCount arrived or timeout passed. */
    public List<Violation> awaitViolations(Predicate<Violation> filter, int minCount, Duration timeout)
            throws InterruptedException {
        return awaitIn(violations, filter, minCount, timeout);
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        // the guard below proves nothing unless the checks ran
        long checks = agent == null ? 1 : agent.stateVerifier().checks();
        if (agent != null) {
            agent.close();
        }
        if (pins != null && Files.exists(pins)) {
            io.agentguard.cli.Main.execute("unload", "--pin-path", pins.toString());
        }
        cleanup();
        List<Violation> drift;
        synchronized (this) {
            drift = violations.stream().filter(v -> v.getRule().equals(KernelFindings.STATE_DRIFT_REPAIRED.rule())
                    || v.getRule().equals(KernelFindings.STATE_DRIFT_UNREPAIRED.rule())).toList();
        }
        if (checks == 0) {
            throw new AssertionError("the kernel state checks never completed while the tests ran");
        }
        if (!expectStateDrift && !drift.isEmpty()) {
            throw new AssertionError("the kernel state checks found drift nobody made (a false alarm): "
                    + drift.stream().map(Violation::getOutput).toList());
        }
    }

    private void cleanup() throws IOException {
        for (Path dir : outside) {
            killAll(dir);
            Files.deleteIfExists(dir);
        }
        if (root != null && Files.exists(root)) {
            try (Stream<Path> dirs = Files.walk(root)) {
                for (Path d : dirs.filter(Files::isDirectory).sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(d);   // rmdir of a cgroup whose processes have exited
                }
            }
        }
        if (standinDir != null) {
            try (Stream<Path> files = Files.walk(standinDir)) {
                for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(f);
                }
            }
        }
    }

    /** Kills what is left in a test cgroup (escaped test processes that were followed, not killed). */
    private static void killAll(Path cgroup) throws IOException {
        if (!Files.exists(cgroup.resolve("cgroup.procs"))) {
            return;
        }
        for (String pid : Files.readAllLines(cgroup.resolve("cgroup.procs"))) {
            if (!pid.isBlank()) {
                Libc.kill(Integer.parseInt(pid.trim()), 9);
            }
        }
        for (int i = 0; i < 100 && !Files.readString(cgroup.resolve("cgroup.procs")).isBlank(); i++) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static void mknod(Path path, int major, int minor) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("mknod", path.toString(), "c", String.valueOf(major), String.valueOf(minor))
                .redirectErrorStream(true).start();
        if (p.waitFor() != 0) {
            throw new IOException("mknod " + path + " failed: " + new String(p.getInputStream().readAllBytes()));
        }
    }

    public Agent agent() {
        return agent;
    }

    public Path mount() {
        return mount;
    }

    public String rootRelative() {
        return rootRelative;
    }

    public Path standin(String name) {
        return standinDir.resolve(name);
    }

    /** A new cgroup below the agent root, created now (after the agent started). */
    public Path newCgroup(String name) throws IOException {
        Path dir = root.resolve(name + "-" + UUID.randomUUID().toString().substring(0, 6));
        Files.createDirectories(dir);
        return dir;
    }

    public long cgroupId(Path dir) {
        return AgentCgroups.inode(dir);
    }

    /** Result of a command run in a cgroup. */
    public record Run(int exitStatus, String stdout, int pid) {
    }

    /** Runs argv inside the cgroup: a shell moves itself in, then execs argv. */
    public Run runIn(Path cgroup, String... argv) throws IOException, InterruptedException {
        List<String> cmd = io.agentguard.scope.AgentCgroups.argvInside(cgroup, List.of(argv));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("command did not finish: " + cmd);
        }
        return new Run(p.exitValue(), out, (int) p.pid());
    }

    /** Events matching the filter, once at least minCount arrived or timeout passed. */
    public List<Event> await(Predicate<Event> filter, int minCount, Duration timeout) throws InterruptedException {
        return awaitIn(events, filter, minCount, timeout);
    }

    private synchronized <T> List<T> awaitIn(List<T> source, Predicate<T> filter, int minCount, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            List<T> matching = source.stream().filter(filter).toList();
            long left = deadline - System.nanoTime();
            if (matching.size() >= minCount || left <= 0) {
                return matching;
            }
            wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        }
    }

    /** All events from one cgroup, after waiting until none arrived for quietMs. */
    public List<Event> settle(long cgroupId, long quietMs) throws InterruptedException {
        int last = -1;
        while (true) {
            Thread.sleep(quietMs);
            List<Event> now = snapshot(e -> e.getProcess().getCgroupId() == cgroupId);
            if (now.size() == last) {
                return now;
            }
            last = now.size();
        }
    }

    public synchronized List<Event> snapshot(Predicate<Event> filter) {
        return events.stream().filter(filter).toList();
    }

    public static Path nativeTool(String name) {
        Path p = Path.of(System.getProperty("agentguard.native.dir", "target/native")).resolve(name);
        if (!Files.isExecutable(p)) {
            throw new IllegalStateException(p + " is missing: the Maven build compiles native/ into target/native");
        }
        return p;
    }
}
