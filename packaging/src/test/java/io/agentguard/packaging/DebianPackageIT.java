package io.agentguard.packaging;

import io.agentguard.packaging.PackageCommands.Result;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static io.agentguard.packaging.PackageCommands.builtPackage;
import static io.agentguard.packaging.PackageCommands.dpkg;
import static io.agentguard.packaging.PackageCommands.exec;
import static io.agentguard.packaging.PackageCommands.install;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The .deb as an operator gets it: installed into a throwaway root with dpkg, its files and
 * maintainer scripts checked, its unit verified, its launcher run on the bundled runtime, the
 * daemon run from it under the unit's capability bounding set, an edited conffile kept across
 * a reinstall, and a purge that leaves nothing.
 */
class DebianPackageIT {
    private static final String VERSION = System.getProperty("agentguard.version", "0.1.0-SNAPSHOT");
    private static final Path PACKAGING = Path.of(System.getProperty("agentguard.packaging.dir", "."));
    private static Path deb;

    @TempDir
    Path root;

    @BeforeAll
    static void findPackage() throws IOException {
        deb = builtPackage("agentguard_.*\\.deb", "build-deb.sh");
    }

    @Test
    void controlFieldsNameTheVersionAndTheSystemLibrariesUsed() throws Exception {
        Result r = exec("dpkg-deb", "--field", deb.toString(), "Package", "Version", "Depends", "Recommends");
        assertThat(r.exit()).isZero();
        assertThat(r.output()).contains("Package: agentguard\n",
                "Version: " + VERSION.replace("-SNAPSHOT", "~snapshot") + "\n",
                "Depends: libbpf1 (>= 1:1.1), libc6 (>= 2.36)\n", "Recommends: openssh-client\n");
    }

    @Test
    void installedFilesRunOnTheBundledRuntimeAndTheMaintainerScriptsMadeTheDirectories() throws Exception {
        install(root, deb);
        assertThat(root.resolve("usr/bin/agentguard")).isExecutable();
        assertThat(root.resolve("usr/lib/agentguard/runtime/bin/java")).isExecutable();
        assertThat(root.resolve("usr/lib/agentguard/agentguard-agent.jar")).isRegularFile();
        for (String tool : List.of("nvreplay", "connector", "demo_miner", "sandbox_exec")) {
            assertThat(root.resolve("usr/lib/agentguard/native/" + tool)).isExecutable();
        }
        assertThat(root.resolve("lib/systemd/system/agentguard.service")).hasSameTextualContentAs(
                PACKAGING.resolve("debian/agentguard.service"));
        assertThat(root.resolve("etc/agentguard/agentguard.yaml")).hasSameTextualContentAs(
                PACKAGING.resolve("debian/agentguard.yaml"));
        assertThat(root.resolve("usr/share/doc/agentguard/OPERATIONS.md")).isRegularFile();
        // the dashboard and alerting rules, as in the source tree (promtool and the names check test those)
        for (String file : List.of("agentguard-dashboard.json", "agentguard-alerts.yaml")) {
            Path shipped = root.resolve("usr/share/agentguard/monitoring/" + file);
            assertThat(shipped).hasSameTextualContentAs(PACKAGING.resolve("monitoring/" + file));
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(shipped))).isEqualTo("rw-r--r--");
        }
        // postinst
        assertThat(root.resolve("etc/agentguard/rules.d")).isDirectory();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(root.resolve("var/lib/agentguard/spool"))))
                .isEqualTo("rwx------");
        assertThat(dpkg(root, "-s", "agentguard").output()).contains("Status: install ok installed",
                "Conffiles:\n /etc/agentguard/agentguard.yaml");

        Result version = exec(root.resolve("usr/bin/agentguard").toString(), "--version");
        assertThat(version.exit()).as(version.output()).isZero();
        assertThat(version.output()).isEqualTo("agentguard " + VERSION + "\n");
        // the shipped configuration is valid for the shipped agent
        Result check = exec(root.resolve("usr/bin/agentguard").toString(), "config", "check",
                root.resolve("etc/agentguard/agentguard.yaml").toString());
        assertThat(check.exit()).as(check.output()).isZero();
    }

    @Test
    void theRulePackShipsAsAReadableFileTheSameAsTheOneTheDaemonLoads() throws Exception {
        install(root, deb);
        Path pack = root.resolve("usr/share/agentguard/rules/default.yaml");
        assertThat(pack).isRegularFile();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(pack))).isEqualTo("rw-r--r--");
        assertThat(dpkg(root, "-s", "agentguard").output()).doesNotContain("/usr/share/agentguard/rules");   // not a conffile
        List<String> lines = Files.readAllLines(pack);
        assertThat(lines.getFirst()).startsWith("# do not edit: override in /etc/agentguard/rules.d/");
        byte[] embedded;
        try (java.util.zip.ZipFile jar = new java.util.zip.ZipFile(root.resolve("usr/lib/agentguard/agentguard-agent.jar")
                .toFile())) {
            embedded = jar.getInputStream(jar.getEntry("io/agentguard/rules/default.yaml")).readAllBytes();
        }
        byte[] shipped = Files.readAllBytes(pack);
        String text = new String(shipped, StandardCharsets.UTF_8);
        // byte for byte the embedded pack, after the header line (added here if the pack lacks it)
        String embeddedText = new String(embedded, StandardCharsets.UTF_8);
        String body = embeddedText.startsWith("# do not edit: override in /etc/agentguard/rules.d/") ? text
                : text.substring(text.indexOf('\n') + 1);
        assertThat(body.getBytes(StandardCharsets.UTF_8)).isEqualTo(embedded);
    }

    @Test
    void theUnitVerifiesCleanly() throws Exception {
        install(root, deb);
        // systemd-analyze checks that ExecStart exists on this host: point it at the throwaway root
        String unit = Files.readString(root.resolve("lib/systemd/system/agentguard.service"));
        assertThat(unit).contains("Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "Restart=always",
                "WatchdogSec=10s", "StartLimitIntervalSec=0",
                "ExecStart=/usr/bin/agentguard run --config /etc/agentguard/agentguard.yaml");
        Path copy = Files.createDirectories(root.resolve("verify")).resolve("agentguard.service");
        Files.writeString(copy, unit.replace("ExecStart=/usr/bin/agentguard", "ExecStart=" + root.resolve("usr/bin/agentguard")));
        Result r = exec("systemd-analyze", "verify", copy.toString());
        assertThat(r.exit()).isZero();
        assertThat(r.output()).as("warnings from systemd-analyze verify").isEmpty();
    }

    @Test
    void theDaemonRunsFromThePackageWithOnlyTheUnitsCapabilitiesAndEnforces() throws Exception {
        install(root, deb);
        String unit = Files.readString(root.resolve("lib/systemd/system/agentguard.service"));
        String caps = unit.lines().filter(l -> l.startsWith("CapabilityBoundingSet=")).findFirst().orElseThrow()
                .substring("CapabilityBoundingSet=".length());
        String bounding = "-all," + Arrays.stream(caps.split(" "))
                .map(c -> "+" + c.toLowerCase().replace("cap_", "")).collect(Collectors.joining(","));
        Path cgroup2 = cgroup2Mount();
        String relative = "agentguard-pkgtest-" + ProcessHandle.current().pid();
        Path runtime = Files.createDirectories(root.resolve("run/agentguard"));
        Path config = root.resolve("test.yaml");
        Files.writeString(config, """
                agent_cgroups: [%s]
                create_missing_cgroups: true
                runtime_dir: %s
                metrics: {listen: ""}
                output: {format: text, events: false}
                rules: {paths: []}
                enforcement: {pin_path: ""}
                jvm: {max_heap_mb: 200}
                policies:
                  default:
                    egress: {default: allow, deny: [127.66.9.0/24]}
                """.formatted(relative, runtime));
        Path log = root.resolve("agent.log");
        Process agent = new ProcessBuilder("setpriv", "--bounding-set=" + bounding, "--inh-caps=-all",
                root.resolve("usr/bin/agentguard").toString(), "run", "--config", config.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            Result status = null;
            for (long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60); System.nanoTime() < deadline; ) {
                assertThat(agent.isAlive()).as(Files.readString(log)).isTrue();
                status = exec(root.resolve("usr/bin/agentguard").toString(), "status", "--runtime-dir", runtime.toString());
                if (status.exit() == 0) {
                    break;
                }
                Thread.sleep(200);
            }
            assertThat(status.exit()).as(status.output() + Files.readString(log)).isZero();
            assertThat(status.output()).contains("mode enforce", relative);
            // the launcher gave the daemon's JVM the configured heap limit
            String cmdline = Files.readString(Path.of("/proc/" + agent.pid() + "/cmdline")).replace('\0', ' ');
            assertThat(cmdline).contains(" -Xmx200m ", "agentguard-agent.jar run");

            Path procs = cgroup2.resolve(relative).resolve("cgroup.procs");
            Result denied = exec("/bin/sh", "-c", "echo $$ > \"$0\" && exec \"$1\" tcp4 127.66.9.1 80", procs.toString(),
                    root.resolve("usr/lib/agentguard/native/connector").toString());
            assertThat(denied.output()).isEqualTo("EPERM\n");
        } finally {
            agent.destroy();   // SIGTERM, as systemctl stop
            assertThat(agent.waitFor(20, TimeUnit.SECONDS)).as("stops within TimeoutStopSec").isTrue();
            Files.deleteIfExists(cgroup2.resolve(relative));
        }
        assertThat(agent.exitValue()).as(Files.readString(log)).isIn(0, 143);
        assertThat(Files.readString(log)).contains("summary:").doesNotContain(" ERROR ");
    }

    @Test
    void theDemoRunsToCompletionFromThePackage() throws Exception {
        install(root, deb);
        Result demo = exec(root.resolve("usr/bin/agentguard").toString(), "demo");
        assertThat(demo.exit()).as(demo.output()).isZero();
        assertThat(demo.output()).contains("demo: every step came out as expected");
    }

    @Test
    void anEditedConfigurationSurvivesAReinstallAndPurgeRemovesEverything() throws Exception {
        install(root, deb);
        Path conf = root.resolve("etc/agentguard/agentguard.yaml");
        Files.writeString(conf, Files.readString(conf).replace("mode: enforce", "mode: monitor"));
        install(root, deb);
        assertThat(Files.readString(conf)).contains("mode: monitor");

        // the operator enabled the service: the link systemctl makes must go with the purge
        Result enable = exec("systemctl", "--root=" + root, "enable", "agentguard.service");
        assertThat(enable.exit()).as(enable.output()).isZero();
        Path wants = root.resolve("etc/systemd/system/multi-user.target.wants/agentguard.service");
        assertThat(Files.isSymbolicLink(wants)).as(enable.output()).isTrue();

        Result purge = dpkg(root, "--purge", "agentguard");
        assertThat(purge.exit()).as(purge.output()).isZero();
        assertThat(root.resolve("usr/bin/agentguard")).doesNotExist();
        assertThat(root.resolve("usr/lib/agentguard")).doesNotExist();
        assertThat(root.resolve("etc/agentguard")).doesNotExist();
        assertThat(root.resolve("var/lib/agentguard")).doesNotExist();
        assertThat(Files.exists(wants, java.nio.file.LinkOption.NOFOLLOW_LINKS)).as("the enablement link").isFalse();
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
