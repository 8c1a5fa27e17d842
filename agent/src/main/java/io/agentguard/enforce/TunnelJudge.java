package io.agentguard.enforce;

import io.agentguard.event.ExecRecord;
import io.agentguard.log.Log;
import io.agentguard.pipeline.ConsumerPipeline;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ExecEvent;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import static io.agentguard.abi.KernelAbi.*;

/**
 * Judges the execs of tunnel programs that the kernel held (docs/ENFORCEMENT.md, "Tunnels"):
 * while the process is stopped at its first instruction it cannot change what is read here,
 * and it has connected nowhere yet.
 * <ul>
 *   <li>ssh (by identity: a file tunnels.programs resolved as ssh, whatever its name now): its
 *       full command line from /proc/PID/cmdline (up to 64 KiB) as ssh parses it (combined
 *       flags, options after the destination, {@code -o Key=value} and {@code -oKey value} in any
 *       case), and the configuration files it would read: {@code -F file}, else
 *       {@code ~/.ssh/config} of the process's HOME (its environment, else the passwd entry of
 *       its uid) and {@code /etc/ssh/ssh_config}, with their {@code Include}s (depth 4, 64 KiB a
 *       file, paths in the process's root). Any forwarding in any of them counts, whatever
 *       {@code Host}/{@code Match} block it is in: the judge never runs {@code ssh -G}
 *       ({@code Match exec} would run code). FORWARDING: -R -L -D -w -J -W -M, RemoteForward,
 *       LocalForward, DynamicForward, Tunnel, ProxyCommand, ProxyJump, ControlMaster,
 *       PermitRemoteOpen; else PLAIN;</li>
 *   <li>any other tunnel program (and a file named ssh that is not a known ssh): TOOL.</li>
 * </ul>
 * The verdict goes to the kernel ({@link HeldProcesses#settle}) before the process resumes.
 * One thread, {@code agentguard-tunnel-judge}; the consumer thread only queues.
 */
public final class TunnelJudge implements ConsumerPipeline.ExecFollowUp, AutoCloseable {
    static final int QUEUE = 256;
    static final int MAX_CMDLINE = 64 * 1024;
    static final int MAX_CONFIG = 64 * 1024;
    static final int MAX_DEPTH = 4;
    /** ssh's options that take an argument (ssh.c getopt string). */
    private static final String SSH_ARG_OPTIONS = "BbcDEeFIiJLlmOoPpQRSWw";
    private static final String SSH_FLAGS = "1246afgknqstvxACGKMNTVXYy";
    /** ssh_config keywords that carry a tunnel, lower case. */
    private static final Set<String> FORWARDING_KEYWORDS = Set.of("remoteforward", "localforward", "dynamicforward",
            "permitremoteopen", "proxycommand", "proxyjump", "tunnel", "controlmaster");
    /** Of those, the ones whose value "no"/"none" means off. */
    private static final Set<String> OFF_VALUES = Set.of("no", "none");

    private final HeldProcesses held;
    private final Path proc;
    private final FollowUpWorker worker;

    public TunnelJudge(HeldProcesses held, Path proc, Log log) {
        this.held = held;
        this.proc = proc;
        // a judge that fails leaves the process held: the sweep resumes it at the timeout, marked a tunnel
        this.worker = new FollowUpWorker("agentguard-tunnel-judge", QUEUE, "tunnel judge", log, this::judge);
    }

    @Override
    public boolean wants(ExecRecord exec) {
        return exec.tunnelJudge() && !exec.failed() && exec.verdict() == AG_VERDICT_ALLOWED;
    }

    @Override
    public void accept(Event exec) {
        worker.offer(exec);   // dropped: held, the sweep resumes it at the timeout, still marked a tunnel
    }

    public long dropped() {
        return worker.dropped();
    }

    @Override
    public void close() {
        worker.close();
    }

    /** Judges one exec and settles it with the kernel; package-private for tests. */
    void judge(Event e) {
        ExecEvent x = e.getExec();
        int pid = e.getProcess().getPid();
        long dev = ((long) x.getDevMajor() << 20) | x.getDevMinor();
        int verdict = verdict(pid, dev, x.getInode(), x.getLoader());
        held.settle(pid, verdict, x.getHeld(), dev, x.getInode(), proc);
    }

    private int verdict(int pid, long dev, long ino, boolean loader) {
        Path dir = proc.resolve(String.valueOf(pid));
        String program = held.programOf(dev, ino);
        List<String> argv = null;
        if (loader) {
            // ld.so [options] PROGRAM args: judged as PROGRAM with its own argv
            argv = nulSeparated(readProc(dir.resolve("cmdline"), MAX_CMDLINE));
            String file = ExecFileChecker.loaderProgram(argv);
            if (file == null) {
                return AG_TUNNEL_NONE;   // --list, --verify: runs nothing
            }
            Path path = dir.resolve(file.startsWith("/") ? "root" : "cwd").resolve(file.replaceAll("^/+", ""));
            FileIdentity id = FileIdentity.of(path);
            program = id == null ? "unknown" : held.programOf(id.dev(), id.ino());
            if (program == null) {
                String base = file.substring(file.lastIndexOf('/') + 1);
                return held.isProgramName(base) ? AG_TUNNEL_TOOL : AG_TUNNEL_NONE;
            }
            argv = argv.subList(argv.indexOf(file), argv.size());
        }
        if (!"ssh".equals(program)) {
            return AG_TUNNEL_TOOL;
        }
        if (argv == null) {
            argv = nulSeparated(readProc(dir.resolve("cmdline"), MAX_CMDLINE));
        }
        if (argv.isEmpty()) {
            return AG_TUNNEL_TOOL;   // gone or unreadable: its mark stays (fail closed)
        }
        SshCommandLine cmd = SshCommandLine.parse(argv);
        if (cmd.forwarding()) {
            return AG_TUNNEL_FORWARDING;
        }
        Path root = dir.resolve("root");
        List<Path> configs = new ArrayList<>();
        String home = null;
        if (cmd.configFile() != null) {
            if (!cmd.configFile().equals("none")) {
                String f = cmd.configFile();
                if (readsAnotherProcessesStream(f)) {
                    return AG_TUNNEL_FORWARDING;   // -F /dev/stdin: what it holds is ssh's to read, not ours
                }
                configs.add(f.startsWith("/") ? inRoot(root, f) : dir.resolve("cwd").resolve(f));
            }
        } else {
            home = home(dir, root);
            if (home != null) {
                configs.add(inRoot(root, home + "/.ssh/config"));
            }
            configs.add(inRoot(root, "/etc/ssh/ssh_config"));
        }
        for (Path c : configs) {
            boolean user = !c.equals(inRoot(root, "/etc/ssh/ssh_config"));
            if (configForwards(c, root, home, user, cmd.clearAllForwardings(), 0)) {
                return AG_TUNNEL_FORWARDING;
            }
        }
        return AG_TUNNEL_NONE;
    }

    /** What an ssh command line asks for: forwarding options, the -F file, ClearAllForwardings. */
    record SshCommandLine(boolean forwarding, String configFile, boolean clearAllForwardings) {
        /**
         * Parses argv as ssh does: options up to the destination, options again after it (OpenSSH
         * re-runs getopt there), then the remote command; "--" ends the options.
         */
        static SshCommandLine parse(List<String> argv) {
            boolean forwarding = false;
            boolean forwardOptions = false;   // -L/-R/-D/RemoteForward...: ClearAllForwardings drops them
            boolean clear = false;
            String configFile = null;
            boolean host = false;
            int i = 1;
            while (i < argv.size()) {
                String a = argv.get(i);
                if (a.equals("--")) {
                    i++;
                    if (!host && i < argv.size()) {
                        host = true;   // the destination; what follows is the command
                    }
                    break;
                }
                if (!a.startsWith("-") || a.length() < 2) {
                    if (host) {
                        break;   // the remote command
                    }
                    host = true;
                    i++;
                    continue;
                }
                int j = 1;
                while (j < a.length()) {
                    char c = a.charAt(j);
                    if (SSH_ARG_OPTIONS.indexOf(c) >= 0) {
                        String value;
                        if (j + 1 < a.length()) {
                            value = a.substring(j + 1);
                        } else if (i + 1 < argv.size()) {
                            value = argv.get(++i);
                        } else {
                            value = "";
                        }
                        switch (c) {
                            case 'R', 'L', 'D' -> forwardOptions = true;
                            case 'w', 'J', 'W' -> forwarding = true;
                            case 'F' -> configFile = value;
                            case 'o' -> {
                                String[] kv = keyValue(value);
                                if (kv != null) {
                                    String k = kv[0];
                                    if (k.equals("clearallforwardings")) {
                                        clear = kv[1].equalsIgnoreCase("yes");
                                    } else if (FORWARDING_KEYWORDS.contains(k)
                                            && !OFF_VALUES.contains(kv[1].toLowerCase(Locale.ROOT))) {
                                        if (k.endsWith("forward")) {
                                            forwardOptions = true;
                                        } else {
                                            forwarding = true;
                                        }
                                    }
                                }
                            }
                            default -> {
                            }
                        }
                        break;   // the rest of this word was the argument
                    }
                    if (c == 'M') {
                        forwarding = true;   // a control master: a later `ssh -O forward` adds forwards to it
                    } else if (SSH_FLAGS.indexOf(c) < 0) {
                        break;   // unknown option: ssh would exit with its usage
                    }
                    j++;
                }
                i++;
            }
            return new SshCommandLine(forwarding || forwardOptions && !clear, configFile, clear);
        }
    }

    /** "Key=value", "Key value", "Key = value" -> {lower-case key, value}; null when there is no key. */
    static String[] keyValue(String line) {
        String s = line.strip();
        int k = 0;
        while (k < s.length() && !Character.isWhitespace(s.charAt(k)) && s.charAt(k) != '=') {
            k++;
        }
        if (k == 0) {
            return null;
        }
        String key = s.substring(0, k).toLowerCase(Locale.ROOT);
        String rest = s.substring(k).strip();
        if (rest.startsWith("=")) {
            rest = rest.substring(1).strip();
        }
        if (rest.length() >= 2 && rest.startsWith("\"") && rest.endsWith("\"")) {
            rest = rest.substring(1, rest.length() - 1);
        }
        return new String[] {key, rest};
    }

    /**
     * Whether an ssh_config file (and what it includes) has a forwarding keyword anywhere: every
     * Host and Match block counts, since which ones apply would need `ssh -G`.
     */
    static boolean configForwards(Path file, Path root, String home, boolean user, boolean clearForwards, int depth) {
        if (depth > MAX_DEPTH) {
            return false;
        }
        if (unreadable(file)) {
            return true;   // a FIFO, socket or device (but /dev/null): judged as forwarding, fail closed
        }
        byte[] bytes = read(file, MAX_CONFIG);
        if (bytes.length == 0) {
            return false;
        }
        for (String line : new String(bytes, StandardCharsets.UTF_8).split("\n")) {
            String[] kv = keyValue(line);
            if (kv == null || kv[0].startsWith("#")) {
                continue;
            }
            String k = kv[0];
            if (FORWARDING_KEYWORDS.contains(k) && !OFF_VALUES.contains(kv[1].toLowerCase(Locale.ROOT))) {
                if (!(clearForwards && k.endsWith("forward"))) {
                    return true;
                }
            } else if (k.equals("match") && MATCH_EXEC.matcher(kv[1]).find()) {
                // ssh runs the command before it reads on: it can write the forwarding into a file
                // included after it, which the judge read before it existed (fail closed)
                return true;
            } else if (k.equals("include")) {
                for (String pattern : kv[1].split("\\s+")) {
                    for (Path included : includes(pattern, root, home, user)) {
                        if (configForwards(included, root, home, user, clearForwards, depth + 1)) {
                            return true;
                        }
                    }
                }
            }
        }
        return false;
    }

    /** An Include's files: ~ is HOME; relative paths are in ~/.ssh (user file) or /etc/ssh; a glob in the last part. */
    private static List<Path> includes(String pattern, Path root, String home, boolean user) {
        String p = pattern;
        if (p.startsWith("~/")) {
            if (home == null) {
                return List.of();
            }
            p = home + p.substring(1);
        } else if (!p.startsWith("/")) {
            if (user && home == null) {
                return List.of();
            }
            p = (user ? home + "/.ssh/" : "/etc/ssh/") + p;
        }
        int slash = p.lastIndexOf('/');
        String dirPart = p.substring(0, Math.max(slash, 1));
        String name = p.substring(slash + 1);
        Path dir = inRoot(root, dirPart);
        if (!name.contains("*") && !name.contains("?") && !name.contains("[")) {
            return List.of(dir.resolve(name));
        }
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, name)) {
            for (Path f : ds) {
                if (out.size() >= 64) {
                    break;
                }
                out.add(f);
            }
        } catch (IOException | RuntimeException e) {
            return out;
        }
        out.sort(null);
        return out;
    }

    /** An absolute path inside the process's root (/proc/PID/root). */
    static Path inRoot(Path root, String absolute) {
        String rel = absolute.replaceAll("^/+", "");
        return rel.isEmpty() ? root : root.resolve(rel);
    }

    /** HOME from the process's environment, else its uid's home in its root's /etc/passwd. */
    private static String home(Path dir, Path root) {
        for (String kv : nulSeparated(readProc(dir.resolve("environ"), MAX_CMDLINE))) {
            if (kv.startsWith("HOME=") && kv.length() > 5) {
                return kv.substring(5);
            }
        }
        String uid = null;
        for (String line : new String(readProc(dir.resolve("status"), 8192), StandardCharsets.UTF_8).split("\n")) {
            if (line.startsWith("Uid:")) {
                String[] f = line.substring(4).strip().split("\\s+");
                uid = f.length > 0 ? f[0] : null;
            }
        }
        if (uid == null) {
            return null;
        }
        for (String line : new String(read(inRoot(root, "/etc/passwd"), 1 << 20), StandardCharsets.UTF_8).split("\n")) {
            String[] f = line.split(":");
            if (f.length >= 6 && f[2].equals(uid)) {
                return f[5];
            }
        }
        return null;
    }

    static List<String> nulSeparated(byte[] bytes) {
        List<String> out = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == 0) {
                out.add(new String(bytes, start, i - start, StandardCharsets.UTF_8));
                start = i + 1;
            }
        }
        if (start < bytes.length) {
            out.add(new String(bytes, start, bytes.length - start, StandardCharsets.UTF_8));
        }
        return out;
    }

    private static final java.util.regex.Pattern MATCH_EXEC = java.util.regex.Pattern.compile(
            "(?i)(^|[\\s!])exec(\\s|=|$)");

    /** A -F path that is a stream of the process itself (its stdin, a descriptor): reading it would take ssh's data. */
    static boolean readsAnotherProcessesStream(String path) {
        return path.equals("-") || path.startsWith("/dev/stdin") || path.startsWith("/dev/fd/")
                || path.startsWith("/proc/self/") || path.startsWith("/proc/thread-self/") || path.matches("/proc/\\d+/fd/.*");
    }

    /**
     * A configuration file that exists but is not a regular file (a FIFO, a socket, a device):
     * ssh reads it, the judge cannot without blocking or consuming it. /dev/null (char 1:3) is empty.
     */
    static boolean unreadable(Path file) {
        try {
            java.util.Map<String, Object> a = Files.readAttributes(file, "unix:mode,rdev");
            int type = (Integer) a.get("mode") & 0170000;
            boolean devNull = type == 0020000 && (Long) a.get("rdev") == ((1L << 8) | 3);
            return type != 0100000 && type != 0040000 && !devNull;
        } catch (IOException | RuntimeException e) {
            return false;   // absent: ssh finds nothing there either
        }
    }

    /** Up to max bytes of a regular file (not a FIFO or a device: a read must not block the judge); empty if none. */
    static byte[] read(Path file, int max) {
        return Files.isRegularFile(file) ? readProc(file, max) : new byte[0];
    }

    /** Up to max bytes of a file of /proc/PID (cmdline, environ, status: not regular files to stat). */
    static byte[] readProc(Path file, int max) {
        try {
            try (InputStream in = Files.newInputStream(file)) {
                return in.readNBytes(max);
            }
        } catch (IOException | RuntimeException e) {
            return new byte[0];
        }
    }
}
