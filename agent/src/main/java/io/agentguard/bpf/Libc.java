package io.agentguard.bpf;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The libc calls the agent needs. Calls that report failure through errno capture it
 * in a per-thread state segment; {@link #errno()} reads the value of the last such call
 * made by the current thread.
 */
public final class Libc {
    public static final int PROT_READ = 0x1;
    public static final int PROT_WRITE = 0x2;
    public static final int MAP_SHARED = 0x01;
    public static final long MAP_FAILED = -1L;
    public static final int O_RDONLY = 0;
    public static final int O_DIRECTORY = 0x10000;
    public static final int O_CLOEXEC = 0x80000;
    public static final int EPOLL_CLOEXEC = 0x80000;
    public static final int EPOLL_CTL_ADD = 1;
    public static final int EPOLLIN = 0x001;
    public static final int EINTR = 4;
    public static final int CLOCK_REALTIME = 0;
    public static final int CLOCK_MONOTONIC = 1;

    /** struct epoll_event is packed on x86-64: u32 events, u64 data = 12 bytes. */
    public static final long EPOLL_EVENT_SIZE = 12;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");
    private static final ThreadLocal<MemorySegment> CAPTURE =
            ThreadLocal.withInitial(() -> Arena.global().allocate(CAPTURE_LAYOUT));

    private static final MethodHandle MMAP = errnoCall("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = call("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle OPEN = errnoCall("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle CLOSE = call("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle READ = errnoCall("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle EPOLL_CREATE1 = errnoCall("epoll_create1", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle EPOLL_CTL = errnoCall("epoll_ctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle EPOLL_WAIT = errnoCall("epoll_wait",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle CLOCK_GETTIME = call("clock_gettime", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle GETPAGESIZE = call("getpagesize", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle STRERROR = call("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    private static final MethodHandle VSNPRINTF = call("vsnprintf",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS));
    private static final MethodHandle GETEUID = call("geteuid", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle KILL = errnoCall("kill", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle OPEN_BY_HANDLE_AT = errnoCall("open_by_handle_at",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    /** prctl(2) is variadic: option, then up to four unsigned longs. */
    private static final MethodHandle PRCTL = LINKER.downcallHandle(LIBC.find("prctl").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
            CAPTURE_ERRNO, Linker.Option.firstVariadicArg(1));
    private static final MethodHandle PIDFD_OPEN = errnoCall("pidfd_open", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle SOCKET = errnoCall("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle SENDTO = errnoCall("sendto",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle MOUNT = errnoCall("mount",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));

    private Libc() {
    }

    static MethodHandle call(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError(name)), descriptor);
    }

    private static MethodHandle errnoCall(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError(name)),
                descriptor, CAPTURE_ERRNO);
    }

    /** This thread's capture segment, passed first to every errno-capturing downcall. */
    static MemorySegment captureSegment() {
        return CAPTURE.get();
    }

    /** errno of the last errno-capturing call made by this thread. */
    public static int errno() {
        return (int) ERRNO.get(CAPTURE.get(), 0L);
    }

    public static MemorySegment mmap(long length, int prot, int flags, int fd, long offset) {
        try {
            return (MemorySegment) MMAP.invokeExact(CAPTURE.get(), MemorySegment.NULL, length, prot, flags, fd, offset);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static int munmap(MemorySegment address, long length) {
        try {
            return (int) MUNMAP.invokeExact(address, length);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static int open(String path, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            return (int) OPEN.invokeExact(CAPTURE.get(), arena.allocateFrom(path), flags);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** read(2): bytes read, 0 at the end, -1 with {@link #errno()} set. */
    public static long read(int fd, MemorySegment buffer) {
        try {
            return (long) READ.invokeExact(CAPTURE.get(), fd, buffer, buffer.byteSize());
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static int close(int fd) {
        try {
            return (int) CLOSE.invokeExact(fd);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static int epollCreate1(int flags) {
        try {
            return (int) EPOLL_CREATE1.invokeExact(CAPTURE.get(), flags);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static int epollCtl(int epfd, int op, int fd, MemorySegment event) {
        try {
            return (int) EPOLL_CTL.invokeExact(CAPTURE.get(), epfd, op, fd, event);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Blocks up to timeoutMs; never called with Linker.Option.critical. */
    public static int epollWait(int epfd, MemorySegment events, int maxEvents, int timeoutMs) {
        try {
            return (int) EPOLL_WAIT.invokeExact(CAPTURE.get(), epfd, events, maxEvents, timeoutMs);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Nanoseconds of the given clock; the timespec is allocated by the caller once. */
    public static long clockGettimeNs(int clock, MemorySegment timespec) {
        try {
            int rc = (int) CLOCK_GETTIME.invokeExact(clock, timespec);
            if (rc != 0) {
                throw new IllegalStateException("clock_gettime(" + clock + ") failed");
            }
            return timespec.get(JAVA_LONG, 0) * 1_000_000_000L + timespec.get(JAVA_LONG, 8);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static int pageSize() {
        try {
            return (int) GETPAGESIZE.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** kill(2); returns 0 or -errno. */
    public static int kill(int pid, int signal) {
        try {
            int rc = (int) KILL.invokeExact(CAPTURE.get(), pid, signal);
            return rc == 0 ? 0 : -errno();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** FILEID_KERNFS: a cgroup2 file handle is its 8-byte kernfs id (what bpf_get_current_cgroup_id returns). */
    private static final int FILEID_KERNFS = 0xfe;

    /**
     * The path of a cgroup v2 directory from its id, relative to nothing: open_by_handle_at(2)
     * on the cgroup2 mount (needs CAP_DAC_READ_SEARCH), then /proc/self/fd. Null if it is gone.
     */
    public static String cgroupPathById(String mount, long id) {
        int mountFd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (mountFd < 0) {
            return null;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment handle = arena.allocate(16, 8);
            handle.set(JAVA_INT, 0, 8);
            handle.set(JAVA_INT, 4, FILEID_KERNFS);
            handle.set(JAVA_LONG, 8, id);
            int fd = (int) OPEN_BY_HANDLE_AT.invokeExact(CAPTURE.get(), mountFd, handle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd < 0) {
                return null;
            }
            try {
                return java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/fd/" + fd)).toString();
            } catch (java.io.IOException e) {
                return null;
            } finally {
                close(fd);
            }
        } catch (Throwable t) {
            throw new AssertionError(t);
        } finally {
            close(mountFd);
        }
    }

    public static final int PR_SET_DUMPABLE = 4;
    public static final int PR_GET_DUMPABLE = 3;

    /** prctl(2) with one argument; returns its result or -errno. */
    public static int prctl(int option, long arg) {
        try {
            int rc = (int) PRCTL.invokeExact(CAPTURE.get(), option, arg, 0L, 0L, 0L);
            return rc >= 0 ? rc : -errno();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** pidfd_open(2) flag: a pidfd for a thread, not only a thread-group leader (Linux 6.9). */
    public static final int PIDFD_THREAD = 0x80;

    /** pidfd_open(2) (glibc 2.36); returns the fd or -errno. */
    public static int pidfdOpen(int pid, int flags) {
        try {
            int fd = (int) PIDFD_OPEN.invokeExact(CAPTURE.get(), pid, flags);
            return fd >= 0 ? fd : -errno();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    private static final int AF_UNIX = 1;
    private static final int SOCK_DGRAM_CLOEXEC = 2 | 0x80000;
    private static final int SUN_PATH_MAX = 108;

    /** One datagram to a Unix socket path ("@name": abstract); 0 or -errno. */
    public static int sendUnixDatagram(String path, String message) {
        try (Arena arena = Arena.ofConfined()) {
            int fd = (int) SOCKET.invokeExact(CAPTURE.get(), AF_UNIX, SOCK_DGRAM_CLOEXEC, 0);
            if (fd < 0) {
                return -errno();
            }
            try {
                byte[] name = path.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                if (name.length >= SUN_PATH_MAX) {
                    return -22;
                }
                MemorySegment addr = arena.allocate(2 + SUN_PATH_MAX, 2);
                addr.set(java.lang.foreign.ValueLayout.JAVA_SHORT, 0, (short) AF_UNIX);
                MemorySegment.copy(name, 0, addr, java.lang.foreign.ValueLayout.JAVA_BYTE, 2, name.length);
                if (name.length > 0 && name[0] == '@') {
                    addr.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 2, (byte) 0);   // abstract namespace
                }
                int addrLen = 2 + name.length + (name[0] == '@' ? 0 : 1);
                byte[] text = message.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                MemorySegment buf = arena.allocateFrom(java.lang.foreign.ValueLayout.JAVA_BYTE, text);
                long n = (long) SENDTO.invokeExact(CAPTURE.get(), fd, buf, (long) text.length, 0, addr, addrLen);
                return n < 0 ? -errno() : 0;
            } finally {
                close(fd);
            }
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static int geteuid() {
        try {
            return (int) GETEUID.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** mount(2); returns 0 or -errno. */
    public static int mount(String source, String target, String fsType) {
        try (Arena arena = Arena.ofConfined()) {
            int rc = (int) MOUNT.invokeExact(CAPTURE.get(), arena.allocateFrom(source), arena.allocateFrom(target),
                    arena.allocateFrom(fsType), 0L, MemorySegment.NULL);
            return rc == 0 ? 0 : -errno();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
            return s.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Formats a printf format with a va_list (x86-64 and arm64 pass va_list by pointer). */
    static String vformat(MemorySegment format, MemorySegment vaList, MemorySegment buffer) {
        try {
            int n = (int) VSNPRINTF.invokeExact(buffer, buffer.byteSize(), format, vaList);
            return n < 0 ? "" : buffer.getString(0);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
