package io.agentguard.bpf;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.Arena;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * libbpf 1.1 functions used by the agent (Debian's libbpf.so.1). Int results are -errno;
 * pointer results are NULL with errno set, captured per thread by {@link Libc#errno()}'s
 * mechanism. Failures become {@link BpfException} carrying libbpf's log lines.
 */
public final class Libbpf {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBBPF = SymbolLookup.libraryLookup(libraryName(), Arena.global());
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    private static final MethodHandle SET_PRINT = call("libbpf_set_print", FunctionDescriptor.of(ADDRESS, ADDRESS));
    private static final MethodHandle OBJECT_OPEN_MEM = errnoCall("bpf_object__open_mem",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
    private static final MethodHandle OBJECT_LOAD = call("bpf_object__load", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle OBJECT_CLOSE = call("bpf_object__close", FunctionDescriptor.ofVoid(ADDRESS));
    private static final MethodHandle FIND_PROGRAM = call("bpf_object__find_program_by_name",
            FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle FIND_MAP = call("bpf_object__find_map_by_name",
            FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle NEXT_PROGRAM = call("bpf_object__next_program",
            FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle PROGRAM_NAME = call("bpf_program__name", FunctionDescriptor.of(ADDRESS, ADDRESS));
    private static final MethodHandle PROGRAM_SET_AUTOLOAD = call("bpf_program__set_autoload",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_BOOLEAN));
    private static final MethodHandle PROGRAM_SET_TYPE = call("bpf_program__set_type",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle PROGRAM_SET_ATTACH_TYPE = call("bpf_program__set_expected_attach_type",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle PROGRAM_FD = call("bpf_program__fd", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle PROGRAM_ATTACH = errnoCall("bpf_program__attach",
            FunctionDescriptor.of(ADDRESS, ADDRESS));
    private static final MethodHandle PROGRAM_ATTACH_CGROUP = errnoCall("bpf_program__attach_cgroup",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
    private static final MethodHandle LINK_DESTROY = call("bpf_link__destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle MAP_FD = call("bpf_map__fd", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle MAP_MAX_ENTRIES = call("bpf_map__max_entries", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle MAP_SET_MAX_ENTRIES = call("bpf_map__set_max_entries",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle MAP_UPDATE_ELEM = call("bpf_map_update_elem",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
    private static final MethodHandle MAP_LOOKUP_ELEM = call("bpf_map_lookup_elem",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle MAP_DELETE_ELEM = call("bpf_map_delete_elem",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle MAP_GET_NEXT_KEY = call("bpf_map_get_next_key",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle NUM_POSSIBLE_CPUS = call("libbpf_num_possible_cpus", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle MAP_SET_PIN_PATH = call("bpf_map__set_pin_path",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle MAP_NAME = call("bpf_map__name", FunctionDescriptor.of(ADDRESS, ADDRESS));
    private static final MethodHandle NEXT_MAP = call("bpf_object__next_map", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle LINK_FD = call("bpf_link__fd", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle ITER_CREATE = call("bpf_iter_create", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle LINK_PIN = call("bpf_link__pin", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    // the kernel's own view of objects (state verification): int results are an fd or -errno
    private static final MethodHandle OBJ_GET = call("bpf_obj_get", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle OBJ_PIN = call("bpf_obj_pin", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle OBJ_GET_INFO_BY_FD = call("bpf_obj_get_info_by_fd",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle PROG_GET_FD_BY_ID = call("bpf_prog_get_fd_by_id", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle PROG_QUERY = call("bpf_prog_query",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));

    static {
        try {
            MemorySegment previous = (MemorySegment) SET_PRINT.invokeExact(LibbpfLog.upcallStub());
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    private Libbpf() {
    }

    private static String libraryName() {
        String override = System.getProperty("agentguard.libbpf");
        return override != null ? override : "libbpf.so.1";
    }

    private static MethodHandle call(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(LIBBPF.find(name).orElseThrow(() -> new UnsatisfiedLinkError(name)), descriptor);
    }

    private static MethodHandle errnoCall(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(LIBBPF.find(name).orElseThrow(() -> new UnsatisfiedLinkError(name)),
                descriptor, CAPTURE_ERRNO);
    }

    /** Echo every libbpf log line to stderr (for --verbose). */
    public static void echoLog(boolean on) {
        LibbpfLog.setEcho(on);
    }

    static MemorySegment checkPointer(String function, String detail, MemorySegment result) {
        if (result.equals(MemorySegment.NULL)) {
            throw new BpfException(function, Libc.errno(), detail, LibbpfLog.lines());
        }
        return result;
    }

    static int checkInt(String function, String detail, int result) {
        if (result < 0) {
            throw new BpfException(function, -result, detail, LibbpfLog.lines());
        }
        return result;
    }

    /**
     * struct bpf_object_open_opts (libbpf 1.1): size_t sz at 0, const char *object_name at 8.
     * Passing sz = 16 tells libbpf that later fields are absent (zero).
     */
    private static final long OPEN_OPTS_SIZE = 16;

    static MemorySegment objectOpenMem(MemorySegment buffer, String objectName) {
        LibbpfLog.mark();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment opts = arena.allocate(OPEN_OPTS_SIZE, 8);
            opts.set(JAVA_LONG, 0, OPEN_OPTS_SIZE);
            opts.set(ADDRESS, 8, arena.allocateFrom(objectName));
            MemorySegment obj = (MemorySegment) OBJECT_OPEN_MEM.invokeExact(Libc.captureSegment(), buffer,
                    buffer.byteSize(), opts);
            return checkPointer("bpf_object__open_mem", null, obj);
        } catch (BpfException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static int objectLoad(MemorySegment obj) {
        LibbpfLog.mark();
        try {
            return (int) OBJECT_LOAD.invokeExact(obj);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static void objectClose(MemorySegment obj) {
        try {
            OBJECT_CLOSE.invokeExact(obj);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static MemorySegment findProgram(MemorySegment obj, String name) {
        try (Arena arena = Arena.ofConfined()) {
            return (MemorySegment) FIND_PROGRAM.invokeExact(obj, arena.allocateFrom(name));
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static MemorySegment findMap(MemorySegment obj, String name) {
        try (Arena arena = Arena.ofConfined()) {
            return (MemorySegment) FIND_MAP.invokeExact(obj, arena.allocateFrom(name));
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static MemorySegment nextProgram(MemorySegment obj, MemorySegment previous) {
        try {
            return (MemorySegment) NEXT_PROGRAM.invokeExact(obj, previous);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static String programName(MemorySegment prog) {
        try {
            return ((MemorySegment) PROGRAM_NAME.invokeExact(prog)).reinterpret(256).getString(0);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static int programSetAutoload(MemorySegment prog, boolean autoload) {
        try {
            return (int) PROGRAM_SET_AUTOLOAD.invokeExact(prog, autoload);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static int programSetType(MemorySegment prog, int type) {
        try {
            return (int) PROGRAM_SET_TYPE.invokeExact(prog, type);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static int programSetExpectedAttachType(MemorySegment prog, int attachType) {
        try {
            return (int) PROGRAM_SET_ATTACH_TYPE.invokeExact(prog, attachType);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static int programFd(MemorySegment prog) {
        try {
            return (int) PROGRAM_FD.invokeExact(prog);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static MemorySegment programAttach(MemorySegment prog, String detail) {
        LibbpfLog.mark();
        try {
            MemorySegment link = (MemorySegment) PROGRAM_ATTACH.invokeExact(Libc.captureSegment(), prog);
            return checkPointer("bpf_program__attach", detail, link);
        } catch (BpfException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static MemorySegment programAttachCgroup(MemorySegment prog, int cgroupFd, String detail) {
        LibbpfLog.mark();
        try {
            MemorySegment link = (MemorySegment) PROGRAM_ATTACH_CGROUP.invokeExact(Libc.captureSegment(), prog, cgroupFd);
            return checkPointer("bpf_program__attach_cgroup", detail, link);
        } catch (BpfException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static int linkFd(MemorySegment link) {
        try {
            return (int) LINK_FD.invokeExact(link);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** A new read of an iterator link: a file descriptor (the program runs as it is read), or -errno. */
    static int iterCreate(int linkFd) {
        try {
            return (int) ITER_CREATE.invokeExact(linkFd);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static int linkDestroy(MemorySegment link) {
        try {
            return (int) LINK_DESTROY.invokeExact(link);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static int mapFd(MemorySegment map) {
        try {
            return (int) MAP_FD.invokeExact(map);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static int mapMaxEntries(MemorySegment map) {
        try {
            return (int) MAP_MAX_ENTRIES.invokeExact(map);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static int mapSetMaxEntries(MemorySegment map, int maxEntries) {
        try {
            return (int) MAP_SET_MAX_ENTRIES.invokeExact(map, maxEntries);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Low-level bpf() wrappers: return 0 or -errno. */
    public static int mapUpdateElem(int fd, MemorySegment key, MemorySegment value, long flags) {
        try {
            return (int) MAP_UPDATE_ELEM.invokeExact(fd, key, value, flags);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static int mapLookupElem(int fd, MemorySegment key, MemorySegment value) {
        try {
            return (int) MAP_LOOKUP_ELEM.invokeExact(fd, key, value);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static int mapDeleteElem(int fd, MemorySegment key) {
        try {
            return (int) MAP_DELETE_ELEM.invokeExact(fd, key);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static int mapGetNextKey(int fd, MemorySegment key, MemorySegment nextKey) {
        try {
            return (int) MAP_GET_NEXT_KEY.invokeExact(fd, key, nextKey);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static int mapSetPinPath(MemorySegment map, String path) {
        try (Arena arena = Arena.ofConfined()) {
            return (int) MAP_SET_PIN_PATH.invokeExact(map, arena.allocateFrom(path));
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static String mapName(MemorySegment map) {
        try {
            return ((MemorySegment) MAP_NAME.invokeExact(map)).reinterpret(256).getString(0);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static MemorySegment nextMap(MemorySegment obj, MemorySegment previous) {
        try {
            return (MemorySegment) NEXT_MAP.invokeExact(obj, previous);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static int linkPin(MemorySegment link, String path) {
        LibbpfLog.mark();
        try (Arena arena = Arena.ofConfined()) {
            return (int) LINK_PIN.invokeExact(link, arena.allocateFrom(path));
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** An fd for the object pinned at path, or -errno (ENOENT: no pin). */
    static int objGet(String path) {
        try (Arena arena = Arena.ofConfined()) {
            return (int) OBJ_GET.invokeExact(arena.allocateFrom(path));
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Pins the object behind fd at path: 0 or -errno. */
    static int objPin(int fd, String path) {
        try (Arena arena = Arena.ofConfined()) {
            return (int) OBJ_PIN.invokeExact(fd, arena.allocateFrom(path));
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** BPF_OBJ_GET_INFO_BY_FD: info holds *infoLen bytes in, the kernel's length out; 0 or -errno. */
    static int objGetInfoByFd(int fd, MemorySegment info, MemorySegment infoLen) {
        try {
            return (int) OBJ_GET_INFO_BY_FD.invokeExact(fd, info, infoLen);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static int progGetFdById(int id) {
        try {
            return (int) PROG_GET_FD_BY_ID.invokeExact(id);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** BPF_PROG_QUERY: the programs attached to a cgroup for one attach type; 0 or -errno. */
    static int progQuery(int targetFd, int attachType, int queryFlags, MemorySegment attachFlags, MemorySegment progIds,
                         MemorySegment progCount) {
        try {
            return (int) PROG_QUERY.invokeExact(targetFd, attachType, queryFlags, attachFlags, progIds, progCount);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static int numPossibleCpus() {
        try {
            return checkInt("libbpf_num_possible_cpus", null, (int) NUM_POSSIBLE_CPUS.invokeExact());
        } catch (BpfException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
