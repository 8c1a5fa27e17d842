package io.agentguard.collector.cli;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * sd_notify(3) without libsystemd, as the agent does it: a datagram to $NOTIFY_SOCKET ("@" =
 * an abstract name). Java has no Unix datagram channel, so socket/sendto through FFM (the
 * collector does not depend on the agent module). Does nothing outside Type=notify.
 */
final class SystemdNotify {
    private static final int AF_UNIX = 1;
    private static final int SOCK_DGRAM_CLOEXEC = 2 | 0x80000;
    private static final int SUN_PATH_MAX = 108;

    private SystemdNotify() {
    }

    /** Sends the state ("READY=1", "STOPPING=1", ...) when started by systemd; true when sent. */
    static boolean send(String state) {
        String socket = System.getenv("NOTIFY_SOCKET");
        return socket != null && !socket.isEmpty() && send(socket, state) == 0;
    }

    /** Returns 0, or -1 when the datagram could not be sent. */
    static int send(String path, String state) {
        byte[] name = path.getBytes(StandardCharsets.UTF_8);
        if (name.length >= SUN_PATH_MAX) {
            return -1;
        }
        try (Arena arena = Arena.ofConfined()) {
            int fd = (int) Native.SOCKET.invokeExact(AF_UNIX, SOCK_DGRAM_CLOEXEC, 0);
            if (fd < 0) {
                return -1;
            }
            try {
                MemorySegment addr = arena.allocate(2 + SUN_PATH_MAX, 2);
                addr.set(ValueLayout.JAVA_SHORT, 0, (short) AF_UNIX);
                MemorySegment.copy(name, 0, addr, ValueLayout.JAVA_BYTE, 2, name.length);
                boolean abstractName = name[0] == '@';
                if (abstractName) {
                    addr.set(ValueLayout.JAVA_BYTE, 2, (byte) 0);
                }
                int addrLen = 2 + name.length + (abstractName ? 0 : 1);
                byte[] text = state.getBytes(StandardCharsets.UTF_8);
                MemorySegment buf = arena.allocateFrom(ValueLayout.JAVA_BYTE, text);
                long n = (long) Native.SENDTO.invokeExact(fd, buf, (long) text.length, 0, addr, addrLen);
                return n < 0 ? -1 : 0;
            } finally {
                int ignored = (int) Native.CLOSE.invokeExact(fd);
            }
        } catch (Throwable t) {
            return -1;
        }
    }

    /** Looked up on first use: a collector outside systemd never links them. */
    private static final class Native {
        private static final Linker LINKER = Linker.nativeLinker();
        static final MethodHandle SOCKET = fn("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        static final MethodHandle SENDTO = fn("sendto",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
        static final MethodHandle CLOSE = fn("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));

        private static MethodHandle fn(String name, FunctionDescriptor d) {
            return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), d);
        }
    }
}
