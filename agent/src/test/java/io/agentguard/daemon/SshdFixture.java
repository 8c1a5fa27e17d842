package io.agentguard.daemon;

import io.agentguard.bpf.Libc;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real OpenSSH server (the distribution's {@code /usr/sbin/sshd}) on a loopback address, for
 * tests that play an attacker opening tunnels: what the agent must stop is what this server
 * would do (bind a remote forward, open a session), so it is tested against the real thing.
 *
 * <p>Everything lives in a temporary directory made by {@link #start}: a host key and a user key
 * made with ssh-keygen (never committed), authorized_keys, sshd_config. The server runs in the
 * test JVM's own cgroup, outside every agent cgroup (started before or after the agent, it is
 * never watched). Root logs in with the key only; TCP forwarding is on, so {@code ssh -R} binds
 * unless something stops the client. {@link #close} stops it and removes the directory.
 */
public final class SshdFixture implements AutoCloseable {
    public static final String DEFAULT_HOST = "127.66.0.22";
    private static final Path SSHD = Path.of("/usr/sbin/sshd");

    private final String host;
    private final int port;
    private final Path dir;
    private final Path userKey;
    private final Path log;
    private final Process process;

    private SshdFixture(String host, int port, Path dir, Path userKey, Path log, Process process) {
        this.host = host;
        this.port = port;
        this.dir = dir;
        this.userKey = userKey;
        this.log = log;
        this.process = process;
    }

    /** sshd on 127.66.0.22 and a free port. */
    public static SshdFixture start() throws IOException, InterruptedException {
        return start(DEFAULT_HOST, 0);
    }

    /** sshd on host:port (port 0: a free one), listening when this returns. */
    public static SshdFixture start(String host, int port) throws IOException, InterruptedException {
        if (!Files.isExecutable(SSHD)) {
            throw new IllegalStateException(SSHD + " is missing: install openssh-server (scripts/bootstrap.sh --deps-only)");
        }
        if (Libc.geteuid() != 0) {
            throw new IllegalStateException("sshd tests need root (root logs in with the test's key)");
        }
        Files.createDirectories(Path.of("/run/sshd"));   // sshd's privilege separation directory
        Path dir = Files.createTempDirectory("agentguard-sshd");
        try {
            Path hostKey = dir.resolve("host_ed25519");
            Path userKey = dir.resolve("id_ed25519");
            keygen(hostKey);
            keygen(userKey);
            Path authorized = dir.resolve("authorized_keys");
            Files.copy(dir.resolve("id_ed25519.pub"), authorized);
            Files.setPosixFilePermissions(authorized, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            IOException last = null;
            for (int attempt = 0; attempt < 5; attempt++) {
                int chosen = port != 0 ? port : freePort(host);
                Path config = dir.resolve("sshd_config");
                Files.writeString(config, config(host, chosen, hostKey, authorized, dir.resolve("sshd.pid")));
                Path log = dir.resolve("sshd-" + attempt + ".log");
                Process p = new ProcessBuilder(SSHD.toString(), "-D", "-e", "-f", config.toString())
                        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
                if (awaitListening(p, host, chosen)) {
                    return new SshdFixture(host, chosen, dir, userKey, log, p);
                }
                p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                last = new IOException("sshd did not listen on " + host + ":" + chosen + ": "
                        + Files.readString(log, StandardCharsets.UTF_8).strip());
                if (port != 0) {
                    break;   // a fixed port: trying again changes nothing
                }
            }
            throw last;
        } catch (IOException | InterruptedException | RuntimeException e) {
            delete(dir);
            throw e;
        }
    }

    private static String config(String host, int port, Path hostKey, Path authorized, Path pid) {
        return String.join("\n",
                "ListenAddress " + host,
                "Port " + port,
                "HostKey " + hostKey,
                "AuthorizedKeysFile " + authorized,
                "PidFile " + pid,
                "UsePAM no",
                "StrictModes no",              // the temp directory's modes are not sshd's business here
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "PermitRootLogin prohibit-password",
                "AllowTcpForwarding yes",
                "GatewayPorts no",             // a remote forward binds loopback only
                "X11Forwarding no",
                "PrintMotd no",
                "UseDNS no",
                "Subsystem sftp /usr/lib/openssh/sftp-server",   // scp (OpenSSH 9) speaks SFTP
                "LogLevel VERBOSE",
                "");
    }

    private static void keygen(Path key) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "agentguard-test",
                "-f", key.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("ssh-keygen for " + key + " failed: " + out);
        }
    }

    private static int freePort(String host) throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getByName(host), 0));
            return s.getLocalPort();
        }
    }

    private static boolean awaitListening(Process p, String host, int port) throws IOException, InterruptedException {
        for (int i = 0; i < 200; i++) {
            if (isListening(host, port)) {
                return true;
            }
            if (!p.isAlive()) {
                return false;
            }
            Thread.sleep(25);
        }
        return false;
    }

    /** The address sshd listens on. */
    public String host() {
        return host;
    }

    public int port() {
        return port;
    }

    /** root@host: the login the user key is authorized for. */
    public String destination() {
        return "root@" + host;
    }

    /** The private key root logs in with. */
    public Path userKey() {
        return userKey;
    }

    /** The fixture's temporary directory (keys, config, log); scenario files may go here too. */
    public Path directory() {
        return dir;
    }

    /**
     * ssh/scp options for this server: {@code -i KEY -o StrictHostKeyChecking=no
     * -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR -p PORT} (scp takes
     * {@code -P}: use {@link #clientOptions()} and add it).
     */
    public List<String> clientArgs() {
        List<String> args = new ArrayList<>(clientOptions());
        args.add("-p");
        args.add(String.valueOf(port));
        return args;
    }

    /** The options of {@link #clientArgs()} without the port (scp, sftp, ssh -F files). */
    public List<String> clientOptions() {
        return List.of("-i", userKey.toString(), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "BatchMode=yes", "-o", "LogLevel=ERROR");
    }

    /** {@link #clientArgs()} as one shell-quoted string, for sh -c scenarios. */
    public String clientArgsShell() {
        StringBuilder b = new StringBuilder();
        for (String a : clientArgs()) {
            b.append(b.isEmpty() ? "" : " ").append('\'').append(a.replace("'", "'\\''")).append('\'');
        }
        return b.toString();
    }

    /** What sshd logged so far (LogLevel VERBOSE: logins, forwarding requests). */
    public String log() throws IOException {
        return Files.readString(log, StandardCharsets.UTF_8);
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /**
     * Whether a TCP socket listens on host:port in this network namespace (read from
     * /proc/net/tcp and tcp6, so checking connects to nothing). A wildcard listener counts for
     * every host. Used to see whether a remote forward got bound ({@code GatewayPorts no}: on
     * 127.0.0.1 or ::1).
     */
    public static boolean isListening(String host, int port) throws IOException {
        byte[] want = InetAddress.getByName(host).getAddress();
        return listening(Path.of("/proc/net/tcp"), want, port) || listening(Path.of("/proc/net/tcp6"), want, port);
    }

    /** Whether a TCP socket listens on the port on any address. */
    public static boolean isListening(int port) throws IOException {
        return listening(Path.of("/proc/net/tcp"), null, port) || listening(Path.of("/proc/net/tcp6"), null, port);
    }

    private static boolean listening(Path table, byte[] want, int port) throws IOException {
        if (!Files.exists(table)) {
            return false;
        }
        List<String> lines = Files.readAllLines(table);
        for (int i = 1; i < lines.size(); i++) {
            String[] f = lines.get(i).trim().split("\\s+");
            if (f.length < 4 || !f[3].equals("0A")) {   // 0A = TCP_LISTEN
                continue;
            }
            int colon = f[1].indexOf(':');
            if (Integer.parseInt(f[1].substring(colon + 1), 16) != port) {
                continue;
            }
            byte[] local = procAddress(f[1].substring(0, colon));
            if (want == null || isWildcard(local) || java.util.Arrays.equals(local, want)
                    || (local.length == 16 && want.length == 4 && isMapped(local, want))) {
                return true;
            }
        }
        return false;
    }

    /** /proc/net/tcp{,6} addresses: 32-bit words in hex, each in host (little-endian) order. */
    private static byte[] procAddress(String hex) {
        byte[] out = new byte[hex.length() / 2];
        for (int word = 0; word < out.length / 4; word++) {
            for (int b = 0; b < 4; b++) {
                int at = word * 8 + (3 - b) * 2;
                out[word * 4 + b] = (byte) Integer.parseInt(hex.substring(at, at + 2).toLowerCase(Locale.ROOT), 16);
            }
        }
        return out;
    }

    private static boolean isWildcard(byte[] a) {
        for (byte b : a) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }

    private static boolean isMapped(byte[] v6, byte[] v4) {
        for (int i = 0; i < 10; i++) {
            if (v6[i] != 0) {
                return false;
            }
        }
        return v6[10] == (byte) 0xff && v6[11] == (byte) 0xff && v6[12] == v4[0] && v6[13] == v4[1]
                && v6[14] == v4[2] && v6[15] == v4[3];
    }

    @Override
    public void close() throws IOException {
        try {
            // sshd -D: the listener is this process; sessions still open are its children (gone from
            // the tree once it exits, so collected first)
            List<ProcessHandle> sessions = process.descendants().toList();
            process.destroy();
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
            for (ProcessHandle child : sessions) {
                child.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            delete(dir);
        }
    }

    private static void delete(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(f);
            }
        }
    }
}
