package io.agentguard.daemon;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A TCP server in the test JVM that kernel tests aim programs at (an attacker's listener, an SSH
 * server, a mining pool): it keeps what each connection sent, may send a greeting first, and may
 * hang up once what it got contains a given text. Reads time out after 20 s; a reset from a
 * killed peer ends a connection quietly.
 */
final class TcpTestListener implements AutoCloseable {
    private final ServerSocket server;
    private final List<ByteArrayOutputStream> received = new ArrayList<>();
    private final String threadName;
    private final byte[] greeting;
    private final String hangUpOn;

    /** A server that only reads. */
    TcpTestListener(String host, String threadName) throws IOException {
        this(host, threadName, null, null);
    }

    /**
     * greeting: sent on each connection before reading (null: none); hangUpOn: the connection is
     * closed once what it sent contains this (null: read to the end).
     */
    TcpTestListener(String host, String threadName, byte[] greeting, String hangUpOn) throws IOException {
        this.threadName = threadName;
        this.greeting = greeting;
        this.hangUpOn = hangUpOn;
        server = new ServerSocket();
        server.bind(new InetSocketAddress(InetAddress.getByName(host), 0));
        Thread acceptor = new Thread(this::acceptLoop, threadName + "-listener");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    int port() {
        return server.getLocalPort();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                ByteArrayOutputStream got = new ByteArrayOutputStream();
                synchronized (this) {
                    received.add(got);
                }
                Thread t = new Thread(() -> serve(s, got), threadName + "-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket s, ByteArrayOutputStream got) {
        try (s) {
            s.setSoTimeout(20_000);
            if (greeting != null) {
                OutputStream out = s.getOutputStream();
                out.write(greeting);
                out.flush();
            }
            InputStream in = s.getInputStream();
            byte[] buf = new byte[4096];
            int n;
            while ((n = in.read(buf)) > 0) {
                synchronized (this) {
                    got.write(buf, 0, n);
                    notifyAll();
                    if (hangUpOn != null && got.toString(StandardCharsets.ISO_8859_1).contains(hangUpOn)) {
                        return;
                    }
                }
            }
        } catch (IOException e) {
            // reset by a killed peer
        } finally {
            synchronized (this) {
                notifyAll();
            }
        }
    }

    /** What all connections sent, connection after connection. */
    synchronized String received() {
        StringBuilder b = new StringBuilder();
        received.forEach(r -> b.append(r.toString(StandardCharsets.ISO_8859_1)));
        return b.toString();
    }

    synchronized int connections() {
        return received.size();
    }

    /** Waits until what was received contains text; whether it did before the timeout. */
    synchronized boolean await(String text, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!received().contains(text)) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        }
        return true;
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
