package io.agentguard.demo;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A loopback TCP listener standing in for a host the demo's workload talks to (mining pool,
 * sshd, model registry): it counts connections, so the demo can prove a blocked connection
 * never arrived, and answers each with a fixed greeting.
 */
final class MockServer implements AutoCloseable {
    final String name;
    private final ServerSocket socket;
    private final byte[] greeting;
    private final AtomicInteger connections = new AtomicInteger();

    MockServer(String name, String address, int port, String greeting) throws IOException {
        this.name = name;
        this.greeting = greeting.getBytes(StandardCharsets.US_ASCII);
        this.socket = new ServerSocket();
        socket.setReuseAddress(true);
        try {
            socket.bind(new InetSocketAddress(InetAddress.getByName(address), port));
        } catch (IOException e) {
            socket.close();
            throw new IOException("cannot listen on " + address + ":" + port + " for the mock " + name + ": "
                    + e.getMessage(), e);
        }
        Thread.ofVirtual().name("demo-" + name).start(this::acceptLoop);
    }

    String address() {
        return socket.getInetAddress().getHostAddress() + ":" + socket.getLocalPort();
    }

    int connections() {
        return connections.get();
    }

    private void acceptLoop() {
        while (!socket.isClosed()) {
            try {
                Socket s = socket.accept();
                connections.incrementAndGet();
                Thread.ofVirtual().start(() -> serve(s));
            } catch (IOException closed) {
                return;
            }
        }
    }

    private void serve(Socket s) {
        try (s; InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
            s.setSoTimeout(5000);
            out.write(greeting);
            out.flush();
            in.read(new byte[512]);   // the client's first words (login, banner), then hang up
        } catch (IOException ignored) {
            // a client that goes away is part of the show
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
