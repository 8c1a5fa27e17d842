package io.agentguard.corpus;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP server a scenario talks to, run by the test JVM outside every agent cgroup; it counts
 * the bytes it receives (did anything get through?).
 * <ul>
 *   <li>listener: an attacker's shell listener: sends a shell command on accept ("echo ..."), reads
 *       until 1 s of silence, hangs up;</li>
 *   <li>http: a package mirror / model server: answers one HTTP request with 200 and a small body;</li>
 *   <li>banner: an SSH server's first line ("SSH-2.0-..."), then reads (a library SSH client's target).</li>
 * </ul>
 */
final class CorpusListener implements AutoCloseable {
    private final String kind;
    private final ServerSocket server;
    private final AtomicLong received = new AtomicLong();
    private final Thread acceptor;

    private CorpusListener(String kind, ServerSocket server) {
        this.kind = kind;
        this.server = server;
        this.acceptor = Thread.ofVirtual().name("corpus-" + kind).start(this::acceptLoop);
    }

    /** kind H:P, e.g. "listener 127.66.0.45:4444"; binding retried for 3 s (another test may hold the port). */
    static CorpusListener start(String spec) throws IOException, InterruptedException {
        String[] parts = spec.split(" ", 2);
        int colon = parts[1].lastIndexOf(':');
        InetSocketAddress at = new InetSocketAddress(InetAddress.getByName(parts[1].substring(0, colon)),
                Integer.parseInt(parts[1].substring(colon + 1)));
        for (int attempt = 0; ; attempt++) {
            ServerSocket s = new ServerSocket();
            s.setReuseAddress(true);
            try {
                s.bind(at);
                return new CorpusListener(parts[0], s);
            } catch (BindException e) {
                s.close();
                if (attempt >= 30) {
                    throw new IOException("corpus " + spec + ": " + e.getMessage(), e);
                }
                Thread.sleep(100);
            }
        }
    }

    long received() {
        return received.get();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket c = server.accept();
                Thread.ofVirtual().start(() -> serve(c));
            } catch (IOException e) {
                return;   // closed
            }
        }
    }

    private void serve(Socket c) {
        try (c; InputStream in = c.getInputStream(); OutputStream out = c.getOutputStream()) {
            // a shell that got through answers at once; after 1 s of silence the listener hangs
            // up, so a working reverse shell ends instead of holding the scenario to its timeout
            c.setSoTimeout(kind.equals("http") ? 5000 : 1000);
            switch (kind) {
                case "listener" -> out.write("echo corpus-shell-$((6*7))\n".getBytes(StandardCharsets.US_ASCII));
                case "banner" -> out.write("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n".getBytes(StandardCharsets.US_ASCII));
                default -> { }
            }
            out.flush();
            byte[] buf = new byte[4096];
            StringBuilder request = new StringBuilder();
            int n;
            while ((n = in.read(buf)) > 0) {
                received.addAndGet(n);
                if (kind.equals("http")) {
                    request.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
                    if (request.indexOf("\r\n\r\n") >= 0) {
                        byte[] body = "corpus-mirror-ok\n".getBytes(StandardCharsets.US_ASCII);
                        out.write(("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + body.length
                                + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                        out.write(body);
                        out.flush();
                        return;
                    }
                }
            }
        } catch (IOException e) {
            // the client went away (or was killed): what it sent is counted
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        acceptor.interrupt();
    }
}
