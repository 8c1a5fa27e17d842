package io.agentguard.daemon;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A datagram socket standing in for systemd's NOTIFY_SOCKET (Java has no Unix datagram channels). Shared test
 * support: the agent's service tests and the packaging tests both compile this directory.
 */
public final class NotifySocket implements AutoCloseable {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle SOCKET = fn("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle BIND = fn("bind", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle RECV = fn("recv", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle CLOSE = fn("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle SETSOCKOPT = fn("setsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));

    private static MethodHandle fn(String name, FunctionDescriptor d) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), d);
    }

    private final Arena arena = Arena.ofShared();
    private final int fd;
    public final Path path;

    public NotifySocket(Path path) throws Throwable {
        this.path = path;
        fd = (int) SOCKET.invokeExact(1, 2, 0);   // AF_UNIX, SOCK_DGRAM
        MemorySegment addr = arena.allocate(110, 2);
        addr.set(ValueLayout.JAVA_SHORT, 0, (short) 1);
        byte[] p = path.toString().getBytes(StandardCharsets.UTF_8);
        MemorySegment.copy(p, 0, addr, ValueLayout.JAVA_BYTE, 2, p.length);
        if ((int) BIND.invokeExact(fd, addr, 2 + p.length + 1) != 0) {
            throw new IllegalStateException("bind " + path);
        }
        MemorySegment tv = arena.allocate(16, 8);   // SO_RCVTIMEO 1 s so a missing message fails the test
        tv.set(JAVA_LONG, 0, 1L);
        int rc = (int) SETSOCKOPT.invokeExact(fd, 1, 20, tv, 16);   // SOL_SOCKET, SO_RCVTIMEO
        if (rc != 0) {
            throw new IllegalStateException("setsockopt");
        }
    }

    /** The next datagram, or null after a 1 s timeout. */
    public String receive() throws Throwable {
        MemorySegment buf = arena.allocate(4096);
        long n = (long) RECV.invokeExact(fd, buf, 4096L, 0);
        return n < 0 ? null : new String(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
    }

    /** Waits up to seconds for a datagram containing the text; returns it or null. */
    public String await(String text, int seconds) throws Throwable {
        for (int i = 0; i < seconds; i++) {
            String m = receive();
            if (m != null && m.contains(text)) {
                return m;
            }
        }
        return null;
    }

    @Override
    public void close() throws Exception {
        try {
            int rc = (int) CLOSE.invokeExact(fd);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        arena.close();
    }
}
