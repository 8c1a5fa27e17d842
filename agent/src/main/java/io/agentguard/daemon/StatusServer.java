package io.agentguard.daemon;

import io.agentguard.log.Log;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.function.Supplier;

/**
 * Answers `agentguard status` on a Unix socket only root can open (mode 0600): each
 * connection gets the status as one JSON document, then the connection closes.
 */
final class StatusServer implements AutoCloseable {
    private final Path socket;
    private final ServerSocketChannel server;
    private final Thread thread;

    StatusServer(Path socket, Supplier<String> statusJson, Log log) {
        this.socket = socket;
        try {
            Files.createDirectories(socket.getParent());
            Files.deleteIfExists(socket);   // the lock says no other agent runs: a leftover from a crash
            server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(socket));
            Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the status socket " + socket + ": " + e.getMessage(), e);
        }
        thread = Thread.ofPlatform().name("agentguard-status").daemon(true).start(() -> {
            while (server.isOpen()) {
                try (SocketChannel c = server.accept()) {
                    ByteBuffer b = ByteBuffer.wrap(statusJson.get().getBytes(StandardCharsets.UTF_8));
                    while (b.hasRemaining()) {
                        c.write(b);
                    }
                } catch (IOException e) {
                    if (server.isOpen()) {
                        log.warn("status socket: " + e.getMessage());
                    }
                } catch (RuntimeException e) {
                    log.warn("status failed: " + e);
                }
            }
        });
    }

    Path path() {
        return socket;
    }

    @Override
    public void close() {
        try {
            server.close();
            Files.deleteIfExists(socket);
        } catch (IOException ignored) {
            // shutting down
        }
    }
}
