package io.agentguard.cli;

import io.agentguard.config.AgentConfig;
import io.agentguard.config.AgentConfigLoader;
import io.agentguard.posture.Capabilities;
import io.agentguard.scope.AgentCgroups;
import io.agentguard.scope.Cgroup2Mount;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * agentguard sandbox: run a command inside an agent cgroup with the keys taken away. The work
 * between fork and exec (join the cgroup, read-only guard paths, drop every capability, set
 * no_new_privs, change user, verify all of it) is done by the native launcher sandbox_exec,
 * which refuses to run the command if anything it should have dropped is left.
 */
@Command(name = "sandbox", mixinStandardHelpOptions = true,
        description = {"Runs CMD inside an agent cgroup (created if needed), with this terminal's stdin/stdout/stderr,"
                + " and exits with its exit status. Everything it does is seen by a running `agentguard run`.",
                "CMD runs with no capabilities (bounding, effective, permitted, inheritable and ambient sets empty),"
                        + " no_new_privs set, supplementary groups cleared, and, in a mount namespace of its own,"
                        + " cgroupfs, bpffs and agentguard's configuration, rules, spool and runtime paths read-only.",
                "As uid 0 (no --user, or --user root; or keeping chown, dac_override, fowner or setuid) file permissions"
                        + " protect none of root's files, so the whole"
                        + " mount tree is read-only too (as systemd's ProtectSystem=strict) except /tmp, /var/tmp,"
                        + " /dev/shm, the working directory when it is a workspace (strictly below /tmp, /var/tmp,"
                        + " /home/USER, /srv, /mnt, /media, /work, /workspace[s]) and each --writable PATH; /dev and /proc"
                        + " stay as mounted, less /proc/sys and the kernel's other tunables.",
                "One line on stderr says what was dropped and what is read-only. Exit 126: the sandbox could not be"
                        + " set up or verified, and CMD did not run; 2: a bad option (an unknown capability, --writable"
                        + " of a guard path or inside one), and CMD did not run."})
public final class SandboxCommand implements Callable<Integer> {
    /** The packaged configuration directory: read-only in the sandbox even when another file is used. */
    private static final Path PACKAGED_CONFIG_DIR = Path.of("/etc/agentguard");

    @Option(names = "--cgroup", paramLabel = "PATH",
            description = "cgroup relative to the cgroup2 mount (default: the embedded default's agent cgroup,"
                    + " agentguard/sandbox)")
    String cgroup;

    @Option(names = "--config", paramLabel = "FILE",
            description = "take the default cgroup (the first agent cgroup) and the paths to protect from this"
                    + " configuration file")
    Path configFile;

    @Option(names = "--user", paramLabel = "NAME|UID", description = "run as this user (real, effective and saved"
            + " uid; its primary group unless --group)")
    String user;

    @Option(names = "--group", paramLabel = "NAME|GID", description = "run with this group (real, effective, saved)")
    String group;

    @Option(names = "--groups", split = ",", paramLabel = "GROUP", description = "supplementary groups (default: none)")
    List<String> groups;

    @Option(names = "--keep-cap", split = ",", paramLabel = "CAP",
            description = "keep this capability (net_bind_service or CAP_NET_BIND_SERVICE), an explicit exception;"
                    + " kept in every set, ambient included, so that it survives exec for any user")
    List<String> keepCaps;

    @Option(names = "--writable", paramLabel = "PATH",
            description = "for uid 0: keep PATH writable in the otherwise read-only mount tree (repeatable; a"
                    + " directory the command must write, e.g. its workspace outside the defaults). Refused for a"
                    + " guard path or a path inside one; no effect for another --user, whose file permissions apply")
    List<Path> writable;

    @Parameters(arity = "1..*", paramLabel = "CMD", description = "command and arguments (put them after --)")
    List<String> command;

    @Override
    public Integer call() throws Exception {
        List<String> keep = new ArrayList<>();
        for (String c : keepCaps == null ? List.<String>of() : keepCaps) {
            try {
                keep.add(Capabilities.name(Capabilities.parse(c)));
            } catch (IllegalArgumentException e) {
                System.err.println("agentguard sandbox: --keep-cap: " + e.getMessage());
                return 2;
            }
        }
        AgentConfig config = configFile != null ? AgentConfigLoader.load(configFile) : AgentConfigLoader.embeddedDefault();
        String relative = cgroup != null ? cgroup : config.agentCgroups().getFirst();
        if (io.agentguard.scope.CgroupPattern.isPattern(relative)) {
            // a glob is no directory to create or enter: the sandbox needs one cgroup by name
            System.err.println("agentguard sandbox: cgroup '" + relative + "' is a pattern" + (cgroup == null
                    ? " (the first agent_cgroups entry)" : "") + "; name one cgroup with --cgroup PATH (one that matches"
                    + " the pattern, e.g. '" + relative.replace("*", "1").replace('?', '1') + "', is in scope as soon as"
                    + " it is made). CMD did not run.");
            return 2;
        }
        Path mount = Cgroup2Mount.find();
        AgentCgroups.Root root = AgentCgroups.resolve(mount, List.of(relative), true).roots().getFirst();
        Path launcher = NativeTools.directory().resolve("sandbox_exec");
        if (!Files.isExecutable(launcher)) {
            // never run the command without the drop: that would hand it every key silently
            System.err.println("agentguard sandbox: the launcher " + launcher + " is missing; it is built with the"
                    + " native tools (make -C native) and packaged in /usr/lib/agentguard/native. CMD did not run.");
            return 126;
        }
        List<String> argv = new ArrayList<>(List.of(launcher.toString(),
                "--cgroup-procs", root.directory().resolve("cgroup.procs").toString(),
                "--label", "cgroup " + root.relativePath()));
        Set<Path> guards = guardPaths(config, mount);
        for (Path w : writable == null ? List.<Path>of() : writable) {
            // the launcher refuses it too (for existing paths, as the kernel resolves them); said here for every
            // guard path, existing or not, in the user's own words
            Path abs = w.toAbsolutePath().normalize();
            for (Path g : guards) {
                if (abs.startsWith(g.toAbsolutePath().normalize())) {
                    System.err.println("agentguard sandbox: --writable " + w + ": " + (abs.equals(g) ? "is" : "is inside")
                            + " the guard path " + g + ", which stays read-only. CMD did not run.");
                    return 2;
                }
            }
        }
        for (Path p : guards) {
            if (Files.exists(p)) {
                argv.add("--ro");
                argv.add(p.toString());
            }
        }
        for (Path w : writable == null ? List.<Path>of() : writable) {
            argv.addAll(List.of("--writable", w.toAbsolutePath().toString()));
        }
        if (user != null) {
            argv.addAll(List.of("--user", user));
        }
        if (group != null) {
            argv.addAll(List.of("--group", group));
        }
        if (groups != null && !groups.isEmpty()) {
            argv.addAll(List.of("--groups", String.join(",", groups)));
        }
        if (!keep.isEmpty()) {
            argv.addAll(List.of("--keep", String.join(",", keep)));
        }
        argv.add("--");
        argv.addAll(command);
        Process p = new ProcessBuilder(argv).inheritIO().start();
        return p.waitFor();
    }

    /**
     * What a process without capabilities may still write when it runs as the files' owner
     * (uid 0 owns cgroupfs, bpffs and the configuration): made read-only for it, existing
     * paths or not (only existing ones are passed to the launcher); a rules or spool path is
     * protected through its directory.
     */
    private Set<Path> guardPaths(AgentConfig config, Path cgroupMount) {
        Set<Path> paths = new LinkedHashSet<>();
        paths.add(Path.of("/sys/fs/cgroup"));
        paths.add(cgroupMount);
        paths.add(Path.of("/sys/fs/bpf"));
        // kernel tunables and the SysRq trigger are root's files too (mode 0644 / 0200): uid 0 without capabilities
        // would set kernel.core_pattern to a pipe that the kernel runs as full root outside every cgroup on the next
        // crash, or reboot the host
        paths.add(Path.of("/proc/sys"));
        paths.add(Path.of("/proc/sysrq-trigger"));
        if (!config.pinPath().isEmpty()) {
            paths.add(Path.of(config.pinPath()));
        }
        paths.add(PACKAGED_CONFIG_DIR);
        if (configFile != null) {
            paths.add(configFile.toAbsolutePath().getParent());
        }
        for (String r : config.rulePaths()) {
            Path rule = Path.of(r).toAbsolutePath();
            paths.add(Files.isDirectory(rule) ? rule : rule.getParent());
        }
        paths.add(Path.of(config.runtimeDir()));
        if (config.report() != null && config.report().spoolDir() != null && !config.report().spoolDir().isEmpty()) {
            paths.add(Path.of(config.report().spoolDir()));
        }
        paths.remove(null);
        return paths;
    }
}
