package io.agentguard.packaging;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The image as docs/KUBERNETES.md has an operator use it: built by build-image.sh, run by
 * podman the way the DaemonSet runs it (privileged, host PID and network, the manifest's host
 * mounts, its env and args; the flags podman needs on this hybrid-cgroup host added), guarding
 * a cgroup of the host and reporting to a collector on loopback. A miner started in that cgroup
 * is killed and reaches the collector; SIGTERM stops the container cleanly; enforcement stays
 * pinned while no container runs and the next one adopts it; a container started without the
 * host PID namespace or a host mount refuses to start and says which.
 */
class ContainerImageIT {
    private static final List<String> PODMAN = List.of("podman", "--runtime", "runc");
    /** What podman needs on this host, not what the manifest says: crun refuses the hybrid cgroup layout and the
     *  default ulimits exceed the hard limits here (docs/KUBERNETES.md, "Trying the image with podman"). */
    private static final List<String> THIS_HOST = List.of("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000");
    private static final String NODE = "image-test-node";
    private static final String COLLECTOR_JAR = System.getProperty("agentguard.collector.jar",
            "../collector/target/agentguard-collector.jar");

    private static DaemonSetManifest manifest;
    private static Path work;
    private static Path cgroup2;
    private static String agentCgroup;
    private static String pinPath;
    private static Process collector;
    private static Path collectorDb;
    private static Map<String, Path> hostPaths;
    private static Path configDir;
    /** A program of the host that the image does not have, denied by its host path. */
    private static Path hostMiner;

    @BeforeAll
    static void buildTheImageAndStartACollector() throws Exception {
        if (!"root".equals(System.getProperty("user.name"))) {
            if ("1".equals(System.getenv("AGENTGUARD_REQUIRE_BPF"))) {
                throw new IllegalStateException("the container image test needs root and AGENTGUARD_REQUIRE_BPF=1");
            }
            Assumptions.abort("the container image test needs root (buildah, podman, BPF)");
        }
        manifest = DaemonSetManifest.load();
        work = Files.createTempDirectory("agentguard-image");
        Path archive = work.resolve("agentguard.oci.tar");
        Result build = exec(List.of("bash", DaemonSetManifest.PACKAGING.resolve("container/build-image.sh").toString(),
                "--deb", deb().toString(), "--tag", manifest.image(), "--output", "oci-archive:" + archive), 300);
        assertThat(build.exit()).as(build.output()).isZero();
        // an OCI archive a node can load without a registry
        Result index = exec(List.of("tar", "-tf", archive.toString()), 60);
        assertThat(index.output()).contains("index.json", "oci-layout");

        cgroup2 = cgroup2Mount();
        agentCgroup = "agentguard-imagetest-" + ProcessHandle.current().pid();
        pinPath = "/sys/fs/bpf/agentguard-imagetest-" + ProcessHandle.current().pid();
        // node-local state of this shared machine (a .deb's daemon may use /run/agentguard) moves to temporary dirs
        hostPaths = Map.of("/run/agentguard", Files.createDirectories(work.resolve("run")),
                "/var/lib/agentguard", Files.createDirectories(work.resolve("state")));

        collectorDb = work.resolve("collector.db");
        Path collectorLog = work.resolve("collector.log");
        collector = new ProcessBuilder(javaFromThisJvm(), "-jar", COLLECTOR_JAR, "serve", "--listen", "127.0.0.1:0", "--plaintext",
                "--db", "sqlite:" + collectorDb, "--metrics-listen", "", "--query-listen", "").redirectErrorStream(true)
                .redirectOutput(collectorLog.toFile()).start();
        int port = 0;
        for (long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60); port == 0 && System.nanoTime() < deadline; ) {
            assertThat(collector.isAlive()).as(Files.readString(collectorLog)).isTrue();
            Matcher m = Pattern.compile("listening on .*, port (\\d+);").matcher(Files.readString(collectorLog));
            port = m.find() ? Integer.parseInt(m.group(1)) : 0;
            Thread.sleep(100);
        }
        assertThat(port).as(Files.readString(collectorLog)).isPositive();

        // the ConfigMap volume: the manifest's items, the configuration naming this test's cgroup and collector
        hostMiner = Files.copy(Path.of("/bin/sleep"), Files.createDirectories(work.resolve("host-bin")).resolve("agtest-miner"),
                StandardCopyOption.COPY_ATTRIBUTES);
        configDir = Files.createDirectories(work.resolve("config"));
        Files.createDirectories(configDir.resolve("rules.d"));
        Files.writeString(configDir.resolve("rules.d/local.yaml"), manifest.configMapData("local-rules.yaml"));
        Files.writeString(configDir.resolve("agentguard.yaml"), """
                mode: enforce
                agent_cgroups: [%s]
                create_missing_cgroups: true
                output: {path: "-", format: text, events: false}
                rules: {default_pack: true, paths: [/etc/agentguard/rules.d/*.yaml]}
                runtime_dir: /run/agentguard
                metrics: {listen: ""}
                enforcement: {pin_path: %s}
                report:
                  collectors: ["127.0.0.1:%d"]
                  node: %s
                  tls: plaintext
                  spool_dir: /var/lib/agentguard/spool
                policies:
                  default:
                    egress: {default: allow, deny: [127.66.9.0/24]}
                    exec: {deny: [xmrig, %s]}
                """.formatted(agentCgroup, pinPath, port, NODE, hostMiner));
    }

    @AfterAll
    static void cleanUp() throws Exception {
        if (manifest == null) {
            return;
        }
        if (collector != null) {
            collector.destroy();
            collector.waitFor(20, TimeUnit.SECONDS);
        }
        // pinned enforcement outlives the containers: remove it with the image's own `unload`
        exec(concat(PODMAN, List.of("run", "--rm"), THIS_HOST, List.of("--privileged", "--volume=/sys/fs/bpf:/sys/fs/bpf",
                manifest.image(), "unload", "--pin-path", pinPath)), 120);
        Files.deleteIfExists(cgroup2.resolve(agentCgroup));
        exec(concat(PODMAN, List.of("rmi", "--force", manifest.image())), 120);
    }

    @Test
    void aMinerInAHostCgroupIsKilledAndReportedAndEnforcementStaysPinnedAcrossAContainerRestart() throws Exception {
        Path miner = Files.copy(Path.of("/bin/sleep"), work.resolve("xmrig"), StandardCopyOption.COPY_ATTRIBUTES);
        Path connector = work.resolve("connector");
        Files.copy(Path.of(System.getProperty("agentguard.deb.dir", "target")).resolve("deb").resolve(
                debStage()).resolve("usr/lib/agentguard/native/connector"), connector, StandardCopyOption.COPY_ATTRIBUTES);

        Container first = Container.start("agentguard-it-" + ProcessHandle.current().pid() + "-1");
        try {
            first.awaitStatus();
            Result killed = inAgentCgroup(miner.toString(), "600");
            assertThat(killed.exit()).as("the miner is killed (SIGKILL), not left running").isEqualTo(128 + 9);

            Result query = null;
            for (long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60); System.nanoTime() < deadline; ) {
                query = exec(List.of(javaFromThisJvm(), "-jar", COLLECTOR_JAR, "query",
                        "--db", "sqlite:" + collectorDb, "--node", NODE, "--rule", "Miner binary started", "--json"), 60);
                if (query.exit() == 0 && query.output().contains(miner.toString())) {
                    break;
                }
                Thread.sleep(500);
            }
            assertThat(query.output()).as(first.log()).contains(miner.toString(), agentCgroup);

            // a host program denied by its host path (the image has no such file), run under another name: only
            // its identity, read through the host's root (host_root), names it
            Path renamed = Files.createLink(work.resolve("host-bin/renamed"), hostMiner);
            Result denied = inAgentCgroup(renamed.toString(), "5");   // runs 5 s and exits 0 where it is not denied
            assertThat(denied.exit()).as("the host's denied file is killed by identity: " + first.log()).isEqualTo(128 + 9);
            // the violation is written after the kill, by the consumer
            for (long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                 !first.log().contains(renamed.toString()) && System.nanoTime() < deadline; ) {
                Thread.sleep(200);
            }
            assertThat(first.log()).contains("file identity", renamed.toString());
        } finally {
            first.stop();
        }
        // SIGTERM (podman stop, as the kubelet stops a pod): the daemon flushes and exits by itself
        assertThat(first.exitCode()).as(first.log()).isIn(0, 143);
        assertThat(first.log()).contains("summary:").doesNotContain(" ERROR ");

        // no container runs: the pinned hooks still refuse the denied destination and kill the miner
        assertThat(inAgentCgroup(connector.toString(), "tcp4", "127.66.9.1", "80").output()).isEqualTo("EPERM\n");
        assertThat(inAgentCgroup(miner.toString(), "600").exit()).isEqualTo(128 + 9);

        Container second = Container.start("agentguard-it-" + ProcessHandle.current().pid() + "-2");
        try {
            second.awaitStatus();
            Matcher adopted = Pattern.compile("pinning: \\S+: (\\d+) attachments adopted from a previous run").matcher(second.log());
            assertThat(adopted.find()).as(second.log()).isTrue();
            assertThat(Integer.parseInt(adopted.group(1))).as(second.log()).isPositive();
        } finally {
            second.stop();
        }
        assertThat(second.exitCode()).as(second.log()).isIn(0, 143);
    }

    @Test
    void aContainerWithoutTheHostPidNamespaceOrAHostMountRefusesToStartAndSaysWhich() throws Exception {
        Map<String, String> missing = Map.of(
                "--pid=host", "not in the host PID namespace",
                "/sys/fs/bpf", "bpffs is not mounted at /sys/fs/bpf",
                "/sys/fs/cgroup", "no cgroup2 mount",
                "/sys/kernel/tracing", "tracefs is not mounted");
        for (Map.Entry<String, String> e : missing.entrySet()) {
            List<String> args = new ArrayList<>(podmanArgs());
            assertThat(args.removeIf(a -> a.equals(e.getKey()) || a.startsWith("--volume=" + e.getKey() + ":")))
                    .as("the manifest has " + e.getKey()).isTrue();
            Result r = exec(concat(PODMAN, List.of("run", "--rm"), THIS_HOST, args, List.of(manifest.image()),
                    manifest.containerArgs()), 120);
            assertThat(r.exit()).as(e.getKey() + ": " + r.output()).isEqualTo(78);
            assertThat(r.output()).as(e.getKey()).contains("agentguard entrypoint: " + e.getValue());
        }
    }

    /**
     * The manifest's podman arguments. Where this machine's PID 1 refuses /proc/1/root even to
     * root (a sandbox's init holding a capability the test's root lacks: the kernel's ptrace
     * check), the host's root is reached through this test's own process instead, which is a
     * process of the host as PID 1 is.
     */
    private static List<String> podmanArgs() {
        List<String> args = new ArrayList<>(manifest.podmanArgs(hostPaths, configDir));
        if (!Files.isDirectory(Path.of("/proc/1/root/"))) {
            args.replaceAll(a -> a.equals("--env=AGENTGUARD_HOST_ROOT=/proc/1/root")
                    ? "--env=AGENTGUARD_HOST_ROOT=/proc/" + ProcessHandle.current().pid() + "/root" : a);
        }
        assertThat(args).as("the manifest sets the host root").anyMatch(a -> a.startsWith("--env=AGENTGUARD_HOST_ROOT=/proc/"));
        return args;
    }

    /** One container run as the DaemonSet runs it, in the foreground of `podman run` (its output is the pod's log). */
    record Container(String name, Process podman, Path logFile) {
        static Container start(String name) throws IOException {
            Path log = work.resolve(name + ".log");
            Process p = new ProcessBuilder(concat(PODMAN, List.of("run", "--rm", "--name", name), THIS_HOST,
                    podmanArgs(), List.of(manifest.image()), manifest.containerArgs()))
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            return new Container(name, p, log);
        }

        String log() throws IOException {
            return Files.readString(logFile);
        }

        /** The liveness probe's command, run in the container as the kubelet runs it. */
        void awaitStatus() throws Exception {
            List<String> probe = DaemonSetManifest.list(DaemonSetManifest.map(manifest.container(), "livenessProbe", "exec"),
                    "command").stream().map(String::valueOf).toList();
            Result status = null;
            for (long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90); System.nanoTime() < deadline; ) {
                assertThat(podman.isAlive()).as(log()).isTrue();
                status = exec(concat(PODMAN, List.of("exec", name), probe), 60);
                if (status.exit() == 0) {
                    break;
                }
                Thread.sleep(500);
            }
            assertThat(status.exit()).as(status.output() + log()).isZero();
            assertThat(status.output()).contains("mode enforce", agentCgroup, "pinned: " + pinPath);
        }

        void stop() throws Exception {
            exec(concat(PODMAN, List.of("stop", "--time", "20", name)), 60);
            assertThat(podman.waitFor(60, TimeUnit.SECONDS)).as("stops within the grace period").isTrue();
        }

        int exitCode() {
            return podman.exitValue();
        }
    }

    record Result(int exit, String output) {
    }

    private static Result exec(List<String> argv, int timeoutSeconds) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true);
        pb.environment().put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(timeoutSeconds, TimeUnit.SECONDS)).as(String.join(" ", argv)).isTrue();
        return new Result(p.exitValue(), out);
    }

    /** A process of the host in the guarded cgroup, as an agent workload would be started. */
    private static Result inAgentCgroup(String... argv) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("/bin/sh", "-c", "echo $$ > \"$0\" && exec \"$@\"",
                cgroup2.resolve(agentCgroup).resolve("cgroup.procs").toString()));
        cmd.addAll(Arrays.asList(argv));
        return exec(cmd, 120);
    }

    @SafeVarargs
    private static List<String> concat(List<String>... parts) {
        return Stream.of(parts).flatMap(List::stream).toList();
    }

    private static String javaFromThisJvm() {
        return ProcessHandle.current().info().command().orElse("java");
    }

    private static Path deb() throws IOException {
        try (Stream<Path> files = Files.list(Path.of(System.getProperty("agentguard.deb.dir", "target")))) {
            return files.filter(p -> p.getFileName().toString().matches("agentguard_.*\\.deb")).findFirst().orElseThrow(
                    () -> new AssertionError("no agentguard_*.deb: the package phase builds it (build-deb.sh)"));
        }
    }

    private static String debStage() throws IOException {
        String name = deb().getFileName().toString();
        return name.substring(0, name.length() - ".deb".length());
    }

    private static Path cgroup2Mount() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String[] f = line.split(" ");
            int dash = Arrays.asList(f).indexOf("-");
            if (dash > 0 && f[dash + 1].equals("cgroup2")) {
                return Path.of(f[4]);
            }
        }
        throw new AssertionError("no cgroup2 mount");
    }
}
