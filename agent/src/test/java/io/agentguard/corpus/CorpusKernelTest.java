package io.agentguard.corpus;

import io.agentguard.config.AgentConfig;
import io.agentguard.config.AgentConfigLoader;
import io.agentguard.daemon.KernelAgentExtension;
import io.agentguard.daemon.SshdFixture;
import io.agentguard.proto.v1.AddressFamily;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Verdict;
import io.agentguard.proto.v1.Violation;
import io.agentguard.scope.AgentCgroups;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The corpus (docs/CORPUS.md): every {@code corpus/NN-name.yaml} scenario run as real processes
 * in a fresh cgroup of a real agent, under one of two configurations, and checked against exact
 * expectations of what the finished product does: attacks caught and stopped, benign work quiet.
 * <ul>
 *   <li>{@code default}: the embedded default configuration, policies and all, as it ships;</li>
 *   <li>{@code sandbox}: the embedded default with the policies of corpus/sandbox.yaml (egress
 *       default deny, a package mirror and a git host allowed, the GPU granted with compute).</li>
 * </ul>
 * Only the test harness's own settings differ from what ships: the agent cgroup, GPU stand-ins
 * (character devices no scenario opens otherwise), no rule files from /etc, posture checks off
 * (the scenarios run as root: that finding is about the harness). {@code -Dcorpus.only=NN[,NN]}
 * runs some scenarios (numbers or id prefixes). A failure shows expected and actual side by side;
 * the score by family is printed at the end and written to target/corpus-score.md.
 */
class CorpusKernelTest {
    private static final Path CORPUS = corpusDirectory();
    private static final Map<String, Result> RESULTS = new TreeMap<>();
    private static SshdFixture sshd;
    private static Path standins;

    @RegisterExtension
    static final KernelAgentExtension DEFAULT = agent("default");

    @RegisterExtension
    static final KernelAgentExtension SANDBOX = agent("sandbox");

    /** One agent per configuration; both run for the whole class (separate cgroup roots, separate BPF objects). */
    private static KernelAgentExtension agent(String config) {
        AgentConfig embedded = AgentConfigLoader.embeddedDefault();
        return new KernelAgentExtension(embedded.maxArgsBytes())
                .withoutStandins(Path.of("/proc/devices"), embedded.deviceRescanMs())
                .configure(b -> {
                    AgentConfig source = config.equals("default") ? embedded : sandboxConfig();
                    return b.enforce(source.enforce())
                            .defaultPolicy(source.defaultPolicy())
                            .cgroupPolicies(List.of())
                            .maxArgsBytes(source.maxArgsBytes())
                            .gpuStandins(gpuStandins())
                            // every scenario runs as root with all capabilities: posture would rightly
                            // report that once per agent, about the harness, not about the scenario
                            .posture(new AgentConfig.Posture(false, source.posture().repeatAfterMs(),
                                    source.posture().rescanIntervalMs()));
                });
    }

    /** sandbox.yaml with the corpus sshd's port filled in (${SSHD_PORT}: the sshd listens on a free port). */
    private static AgentConfig sandboxConfig() {
        try {
            String yaml = Files.readString(CORPUS.resolve("sandbox.yaml"))
                    .replace("${SSHD_PORT}", String.valueOf(sshd().port()));
            return AgentConfigLoader.parse(CORPUS.resolve("sandbox.yaml").toString(), yaml);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * GPU stand-ins: character devices whose open works and whose ioctl handlers refuse NVIDIA
     * commands (fuse, tun, kmsg). Not the usual /dev/full, /dev/random, /dev/urandom: under the
     * default policy (no GPU) every program reading /dev/urandom would be denied a "GPU".
     */
    private static synchronized List<String> gpuStandins() {
        try {
            if (standins == null) {
                standins = Files.createTempDirectory("agentguard-corpus-gpu");
                mknod(standins.resolve("nvidiactl"), 10, 229);
                mknod(standins.resolve("nvidia0"), 10, 200);
                mknod(standins.resolve("nvidia-uvm"), 1, 11);
            }
            return List.of(standins.resolve("nvidiactl") + "=control", standins.resolve("nvidia0") + "=gpu0",
                    standins.resolve("nvidia-uvm") + "=uvm");
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException("GPU stand-ins: " + e.getMessage(), e);
        }
    }

    private static void mknod(Path path, int major, int minor) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("mknod", path.toString(), "c", String.valueOf(major), String.valueOf(minor))
                .redirectErrorStream(true).start();
        if (p.waitFor() != 0) {
            throw new IOException("mknod " + path + ": " + new String(p.getInputStream().readAllBytes()));
        }
    }

    private static synchronized SshdFixture sshd() {
        if (sshd == null) {
            try {
                sshd = SshdFixture.start();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
        return sshd;
    }

    @AfterAll
    static void report() throws IOException {
        try {
            if (sshd != null) {
                sshd.close();
            }
        } finally {
            if (standins != null) {
                deleteTree(standins);
            }
        }
        String table = scoreTable();
        System.out.println(table);
        Path target = Path.of("target");
        if (Files.isDirectory(target)) {
            Files.writeString(target.resolve("corpus-score.md"), table);
        }
    }

    @TestFactory
    Stream<DynamicTest> corpus() throws IOException {
        String only = System.getProperty("corpus.only", "").trim();
        List<Path> files;
        try (Stream<Path> s = Files.list(CORPUS)) {
            files = s.filter(p -> p.getFileName().toString().matches("\\d\\d+-.*\\.yaml")).sorted().toList();
        }
        return files.stream()
                .filter(p -> only.isEmpty() || Arrays.stream(only.split(",")).map(String::trim)
                        .anyMatch(o -> p.getFileName().toString().startsWith(o + (o.matches("\\d+") ? "-" : ""))))
                .map(p -> {
                    String id = p.getFileName().toString().replaceFirst("\\.yaml$", "");
                    return DynamicTest.dynamicTest(id, p.toUri(), () -> runScenario(id, p));
                });
    }

    /** What one scenario did, as the expectations name it. */
    record Result(Scenario scenario, Integer exitCode, boolean timedOut, boolean killed, Set<String> blocked,
                  Set<String> violations, boolean listenerReceived, boolean forwardBound, String output,
                  String pending) {
        boolean caught() {
            return !violations.isEmpty();
        }

        boolean stopped() {
            return killed || !blocked.isEmpty();
        }

        boolean quiet() {
            return violations.isEmpty() && !killed && blocked.isEmpty();
        }
    }

    private void runScenario(String id, Path file) throws Exception {
        Scenario s = Scenario.parse(id, Files.readString(file));
        KernelAgentExtension agent = s.config().equals("default") ? DEFAULT : SANDBOX;
        String missing = missingRequirement(s);
        if (missing != null) {
            synchronized (RESULTS) {
                RESULTS.put(id, new Result(s, null, false, false, Set.of(), Set.of(), false, false, "", missing));
            }
            // everything a scenario needs is in the repository or installed by scripts/bootstrap.sh:
            // a missing piece is a broken checkout, and a scenario that cannot run must fail, not skip
            throw new AssertionError(id + " cannot run: " + missing);
        }
        Result r = execute(s, agent);
        synchronized (RESULTS) {
            RESULTS.put(id, r);
        }
        List<String> wrong = compare(s.expect(), r);
        if (!wrong.isEmpty()) {
            throw new AssertionError(id + " (" + s.family() + ", config " + s.config() + "): " + s.name() + "\n  "
                    + String.join("\n  ", wrong) + "\n  actual: exit=" + r.exitCode() + (r.timedOut() ? " (timed out)" : "")
                    + " killed=" + r.killed() + " blocked=" + r.blocked() + " violations=" + r.violations()
                    + " listener_received=" + r.listenerReceived() + " forward_bound=" + r.forwardBound()
                    + "\n  output (tail):\n" + indent(tail(r.output(), 1500)));
        }
    }

    /** All of expected, and nothing but expected and what a race may add (expect.may_also). */
    private static boolean matches(Set<String> expected, Set<String> mayAlso, Set<String> actual) {
        if (!actual.containsAll(expected)) {
            return false;
        }
        Set<String> extra = new TreeSet<>(actual);
        extra.removeAll(expected);
        extra.removeAll(mayAlso);
        return extra.isEmpty();
    }

    private static List<String> compare(Scenario.Expect e, Result r) {
        List<String> wrong = new ArrayList<>();
        if (e.violations() != null && !matches(e.violations(), e.mayAlso(), r.violations())) {
            Set<String> missingRules = new TreeSet<>(e.violations());
            missingRules.removeAll(r.violations());
            Set<String> extra = new TreeSet<>(r.violations());
            extra.removeAll(e.violations());
            wrong.add("violations: expected " + e.violations() + " actual " + r.violations() + " (missing " + missingRules
                    + ", unexpected " + extra + ")");
        }
        if (e.killed() != null && e.killed() != r.killed()) {
            wrong.add("killed: expected " + e.killed() + " actual " + r.killed());
        }
        if (e.blocked() != null && !matches(e.blocked(), e.mayAlso(), r.blocked())) {
            wrong.add("blocked: expected " + e.blocked() + " actual " + r.blocked());
        }
        if (e.listenerReceived() != null && e.listenerReceived() != r.listenerReceived()) {
            wrong.add("listener_received: expected " + e.listenerReceived() + " actual " + r.listenerReceived());
        }
        if (e.forwardBound() != null && e.forwardBound() != r.forwardBound()) {
            wrong.add("forward_bound: expected " + e.forwardBound() + " actual " + r.forwardBound());
        }
        if (e.exitCode() != null && !e.exitCode().equals(r.exitCode())) {
            wrong.add("exit_code: expected " + e.exitCode() + " actual " + r.exitCode()
                    + (r.timedOut() ? " (timed out)" : ""));
        }
        return wrong;
    }

    private static String missingRequirement(Scenario s) throws IOException, InterruptedException {
        for (String req : s.requires()) {
            switch (req) {
                case "nvreplay-trace" -> {
                    Process p = new ProcessBuilder(KernelAgentExtension.nativeTool("nvreplay").toString(), "--help")
                            .redirectErrorStream(true).start();
                    String help = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                    p.waitFor(10, TimeUnit.SECONDS);
                    if (!help.contains("--trace")) {
                        return "nvreplay has no --trace mode yet (issue 16 scope 7)";
                    }
                    if (traces() == null) {
                        return "no H200 traces (agent/src/test/resources/io/agentguard/fixtures/h200-580 or ../shared/fixtures)";
                    }
                }
                default -> {
                    if (!Files.isExecutable(Path.of(req)) && which(req) == null) {
                        return "needs " + req;
                    }
                }
            }
        }
        return null;
    }

    private static Path which(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path p = Path.of(dir, program);
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        return null;
    }

    private static Path traces() {
        for (Path p : List.of(Path.of("src/test/resources/io/agentguard/fixtures/h200-580"),
                Path.of("../../shared/fixtures/nvidia-h200-driver-580"), Path.of("../shared/fixtures/nvidia-h200-driver-580"))) {
            if (Files.isRegularFile(p.resolve("trace-torch.txt"))) {
                return p.toAbsolutePath().normalize();
            }
        }
        return null;
    }

    private Result execute(Scenario s, KernelAgentExtension agent) throws Exception {
        Path work = Files.createTempDirectory("agentguard-corpus-" + s.id().substring(0, 2) + "-");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        List<CorpusListener> listeners = new ArrayList<>();
        AtomicBoolean forwardBound = new AtomicBoolean();
        AtomicBoolean sampling = new AtomicBoolean(true);
        Thread sampler = null;
        try {
            Map<String, String> env = environment(s, agent, work);
            for (String fixture : s.setup()) {
                if (fixture.contains(" ")) {
                    listeners.add(CorpusListener.start(fixture));
                }
            }
            for (Map.Entry<String, String> f : s.files().entrySet()) {
                Path target = work.resolve(f.getKey());
                Files.createDirectories(target.getParent());
                Files.writeString(target, substitute(f.getValue(), env, s.id()));
                if (f.getKey().startsWith("bin/") || f.getValue().startsWith("#!")) {
                    Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rwxr-xr-x"));
                }
            }
            if (s.setup().contains("forward")) {
                int port = Integer.parseInt(env.get("FORWARD_PORT"));
                sampler = Thread.ofPlatform().daemon().name("corpus-forward").start(() -> {
                    while (sampling.get()) {
                        try {
                            if (SshdFixture.isListening("127.0.0.1", port)) {
                                forwardBound.set(true);
                            }
                            Thread.sleep(10);
                        } catch (IOException | InterruptedException e) {
                            return;
                        }
                    }
                });
            }
            List<String> argv = new ArrayList<>();
            for (String a : s.run()) {
                argv.add(substitute(a, env, s.id()));
            }
            Path cgroup = agent.newCgroup("corpus-" + s.id().substring(0, 2));
            long cgroupId = agent.cgroupId(cgroup);
            String cgroupPath = agent.mount().relativize(cgroup).toString();
            Path output = work.resolve(".corpus-output");
            ProcessBuilder pb = new ProcessBuilder(AgentCgroups.argvInside(cgroup, argv)).directory(work.toFile())
                    .redirectErrorStream(true).redirectOutput(output.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            pb.environment().clear();
            pb.environment().putAll(env);
            Process p = pb.start();
            boolean finished = p.waitFor(s.timeoutMs(), TimeUnit.MILLISECONDS);
            // what the run left behind (ssh -f in the background) gets a moment: a forward binds in it
            long lingerUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(finished ? 1000 : 0);
            while (System.nanoTime() < lingerUntil && !procs(cgroup).isEmpty()) {
                Thread.sleep(20);
            }
            long cleanupNs = System.nanoTime();
            if (!finished) {
                p.destroyForcibly();
            }
            killAll(cgroup);
            p.waitFor(5, TimeUnit.SECONDS);
            sampling.set(false);
            if (sampler != null) {
                sampler.join(1000);
            }
            settle(agent, cgroupId, cgroupPath);
            List<Event> events = agent.snapshot(e -> e.getProcess().getCgroupId() == cgroupId);
            List<Violation> violations = agent.awaitViolations(v -> v.getCgroupPath().equals(cgroupPath), 0, Duration.ZERO);
            boolean killed = events.stream().anyMatch(e -> e.hasExit() && e.getExit().getSignal() == 9
                    && e.getMonotonicNs() < cleanupNs);
            Set<String> blocked = new TreeSet<>();
            for (Event e : events) {
                String kind = blockKind(e);
                if (kind != null) {
                    blocked.add(kind);
                }
            }
            Set<String> names = new TreeSet<>();
            violations.forEach(v -> names.add(v.getRule()));
            long received = listeners.stream().mapToLong(CorpusListener::received).sum();
            Files.deleteIfExists(cgroup);
            return new Result(s, finished ? p.exitValue() : null, !finished, killed, blocked, names, received > 0,
                    forwardBound.get(), Files.readString(output, StandardCharsets.UTF_8), null);
        } finally {
            sampling.set(false);
            for (CorpusListener l : listeners) {
                l.close();
            }
            deleteTree(work);
        }
    }

    /** What the kernel refused, by the Violation.block_kind names (lower case, without the prefix). */
    private static String blockKind(Event e) {
        return switch (e.getKindCase()) {
            case EXEC -> denied(e.getExec().getVerdict()) ? "exec" : null;
            case CONNECT -> {
                var c = e.getConnect();
                if (!denied(c.getVerdict())) {
                    yield null;
                }
                if (c.getTunnel()) {
                    yield "tunnel_connect";
                }
                if (c.getShell()) {
                    yield "shell_connect";
                }
                yield c.getFamily() == AddressFamily.ADDRESS_FAMILY_UNIX ? "unix_outside" : "connect";
            }
            case SOCKET -> denied(e.getSocket().getVerdict()) ? "socket" : null;
            case GPU -> e.getGpu().hasOpen() ? (denied(e.getGpu().getOpen().getVerdict()) ? "gpu_open" : null)
                    : e.getGpu().hasIoctl() && denied(e.getGpu().getIoctl().getVerdict()) ? "gpu_compute" : null;
            case SCOPE -> denied(e.getScope().getVerdict()) ? "scope" : null;
            case TAMPER -> denied(e.getTamper().getVerdict()) ? "tamper" : null;
            case STDIO_SOCKET -> denied(e.getStdioSocket().getVerdict()) ? "exec" : null;   // block_kind EXEC
            case APP_PROTO -> !denied(e.getAppProto().getVerdict()) ? null      // block_kind as KernelFindings gives it
                    : e.getAppProto().getProto() == io.agentguard.proto.v1.AppProto.APP_PROTO_SSH ? "tunnel_connect" : "connect";
            default -> null;
        };
    }

    private static boolean denied(Verdict v) {
        return v == Verdict.VERDICT_DENIED;
    }

    /** Waits until neither events nor violations of the cgroup changed for 400 ms (at most 5 s). */
    private static void settle(KernelAgentExtension agent, long cgroupId, String cgroupPath) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        int last = -1;
        while (System.nanoTime() < deadline) {
            int now = agent.snapshot(e -> e.getProcess().getCgroupId() == cgroupId).size()
                    + agent.awaitViolations(v -> v.getCgroupPath().equals(cgroupPath), 0, Duration.ZERO).size();
            if (now == last) {
                return;
            }
            last = now;
            Thread.sleep(400);
        }
    }

    private Map<String, String> environment(Scenario s, KernelAgentExtension agent, Path work) throws IOException {
        Map<String, String> env = new LinkedHashMap<>();
        Path home = Files.createDirectories(work.resolve("home"));
        Files.createDirectories(work.resolve("bin"));
        env.put("PATH", work.resolve("bin") + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        env.put("HOME", home.toString());
        env.put("WORK", work.toString());
        env.put("LANG", "C.UTF-8");
        env.put("TMPDIR", work.toString());
        env.put("GIT_AUTHOR_NAME", "corpus");
        env.put("GIT_AUTHOR_EMAIL", "corpus@example.invalid");
        env.put("GIT_COMMITTER_NAME", "corpus");
        env.put("GIT_COMMITTER_EMAIL", "corpus@example.invalid");
        env.put("NVREPLAY", KernelAgentExtension.nativeTool("nvreplay").toString());
        env.put("DEMO_MINER", KernelAgentExtension.nativeTool("demo_miner").toString());
        env.put("CONNECTOR", KernelAgentExtension.nativeTool("connector").toString());
        Path traces = traces();
        if (traces != null) {
            env.put("TRACES", traces.toString());
        }
        if (s.setup().contains("sshd")) {
            SshdFixture d = sshd();
            env.put("SSHD_HOST", d.host());
            env.put("SSHD_PORT", String.valueOf(d.port()));
            env.put("SSHD_DEST", d.destination());
            env.put("SSH_KEY", d.userKey().toString());
            env.put("SSH_OPTS", String.join(" ", d.clientOptions()));
        }
        if (s.setup().contains("forward")) {
            try (ServerSocket free = new ServerSocket()) {
                free.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0));
                env.put("FORWARD_PORT", String.valueOf(free.getLocalPort()));
            }
        }
        if (s.setup().contains("standin-gpu")) {
            gpuStandins();
            env.put("GPU_CTL", standins.resolve("nvidiactl").toString());
            env.put("GPU_DEV", standins.resolve("nvidia0").toString());
            env.put("GPU_UVM", standins.resolve("nvidia-uvm").toString());
        }
        return env;
    }

    private static final Pattern VAR = Pattern.compile("\\$\\{([A-Z_][A-Z0-9_]*)}");

    /** ${NAME} from the scenario's environment; an unknown name is an error in the scenario. */
    private static String substitute(String text, Map<String, String> env, String id) {
        Matcher m = VAR.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String v = env.get(m.group(1));
            if (v == null) {
                throw new IllegalArgumentException(id + ": ${" + m.group(1) + "} is not set (its fixture missing from setup?)");
            }
            m.appendReplacement(out, Matcher.quoteReplacement(v));
        }
        m.appendTail(out);
        return out.toString();
    }

    private static List<String> procs(Path cgroup) throws IOException {
        Path f = cgroup.resolve("cgroup.procs");
        return Files.exists(f) ? Files.readAllLines(f).stream().filter(l -> !l.isBlank()).toList() : List.of();
    }

    private static void killAll(Path cgroup) throws IOException, InterruptedException {
        for (int i = 0; i < 100; i++) {
            List<String> pids = procs(cgroup);
            if (pids.isEmpty()) {
                return;
            }
            for (String pid : pids) {
                ProcessHandle.of(Long.parseLong(pid.trim())).ifPresent(ProcessHandle::destroyForcibly);
            }
            Thread.sleep(20);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(f);
            }
        }
    }

    private static Path corpusDirectory() {
        try {
            return Path.of(CorpusKernelTest.class.getResource("/io/agentguard/corpus/sandbox.yaml").toURI()).getParent();
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String tail(String s, int max) {
        return s.length() <= max ? s : "..." + s.substring(s.length() - max);
    }

    private static String indent(String s) {
        return s.strip().lines().map(l -> "    " + l).reduce((a, b) -> a + "\n" + b).orElse("    (none)");
    }

    /** Attacks: caught (a violation) and stopped (killed or a kernel denial); benign: quiet. By family. */
    static String scoreTable() {
        Map<String, int[]> byFamily = new TreeMap<>();   // scenarios, passed, caught, stopped, quiet, pending
        List<String> lines = new ArrayList<>();
        synchronized (RESULTS) {
            for (Result r : RESULTS.values()) {
                int[] c = byFamily.computeIfAbsent(r.scenario().family(), k -> new int[6]);
                c[0]++;
                if (r.pending() != null) {
                    c[5]++;
                    lines.add("| " + r.scenario().id() + " | " + r.scenario().family() + " | " + r.scenario().config()
                            + " | pending: " + r.pending() + " |");
                    continue;
                }
                boolean pass = compare(r.scenario().expect(), r).isEmpty();
                c[1] += pass ? 1 : 0;
                c[2] += r.caught() ? 1 : 0;
                c[3] += r.stopped() ? 1 : 0;
                c[4] += r.quiet() ? 1 : 0;
                lines.add("| " + r.scenario().id() + " | " + r.scenario().family() + " | " + r.scenario().config() + " | "
                        + (pass ? "pass" : "FAIL") + " (killed=" + r.killed() + " blocked=" + r.blocked()
                        + " violations=" + r.violations().size() + ") |");
            }
        }
        StringBuilder b = new StringBuilder("\n## Corpus score\n\n| family | scenarios | pass | caught | stopped | quiet | pending |\n"
                + "|---|---|---|---|---|---|---|\n");
        byFamily.forEach((f, c) -> b.append("| ").append(f).append(" | ").append(c[0]).append(" | ").append(c[1])
                .append(" | ").append(f.equals("benign") ? "-" : String.valueOf(c[2])).append(" | ")
                .append(f.equals("benign") ? "-" : String.valueOf(c[3])).append(" | ")
                .append(f.equals("benign") ? String.valueOf(c[4]) : "-").append(" | ").append(c[5]).append(" |\n"));
        b.append("\n| scenario | family | config | result |\n|---|---|---|---|\n");
        lines.forEach(l -> b.append(l).append('\n'));
        return b.toString();
    }
}
