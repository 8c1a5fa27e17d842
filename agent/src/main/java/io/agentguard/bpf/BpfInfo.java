package io.agentguard.bpf;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The kernel's own account of a BPF link, program or map (BPF_OBJ_GET_INFO_BY_FD), which the
 * daemon checks its objects against: a link may have been detached or pinned over, a pin may
 * name another object. Layouts are the UAPI's ({@code include/uapi/linux/bpf.h}); the UAPI
 * only ever appends, and the kernel fills at most the length asked for, so reading a prefix of
 * each struct stays right on newer kernels. A kernel test compares these readings with bpftool's.
 */
public final class BpfInfo {
    /** enum bpf_link_type */
    public static final int LINK_TYPE_CGROUP = 3;
    /** enum bpf_attach_type values of agentguard's cgroup hooks. */
    public static final int ATTACH_CGROUP_INET_EGRESS = 1;
    public static final int ATTACH_CGROUP_INET_SOCK_CREATE = 2;
    public static final int ATTACH_CGROUP_DEVICE = 6;
    public static final int ATTACH_CGROUP_INET4_CONNECT = 10;
    public static final int ATTACH_CGROUP_INET6_CONNECT = 11;
    public static final int ATTACH_CGROUP_UDP4_SENDMSG = 14;
    public static final int ATTACH_CGROUP_UDP6_SENDMSG = 15;

    // struct bpf_link_info: type u32 @0, id u32 @4, prog_id u32 @8, then a union; cgroup: cgroup_id u64 @16,
    // attach_type u32 @24. 48 bytes in all (the largest union member).
    private static final long LINK_INFO_SIZE = 48;
    private static final long LINK_TYPE = 0;
    private static final long LINK_ID = 4;
    private static final long LINK_PROG_ID = 8;
    private static final long LINK_CGROUP_ID = 16;
    private static final long LINK_CGROUP_ATTACH_TYPE = 24;
    // struct bpf_prog_info, up to name: type u32 @0, id u32 @4, tag u8[8] @8, nr_map_ids u32 @52,
    // map_ids u64 (user pointer) @56, name char[16] @64.
    private static final long PROG_INFO_SIZE = 80;
    private static final long PROG_TYPE = 0;
    private static final long PROG_ID = 4;
    private static final long PROG_TAG = 8;
    private static final long PROG_NR_MAP_IDS = 52;
    private static final long PROG_MAP_IDS = 56;
    private static final long PROG_NAME = 64;
    private static final int MAX_MAP_IDS = 64;
    // struct bpf_map_info, up to name: type @0, id @4, key_size @8, value_size @12, max_entries @16,
    // map_flags @20, name char[16] @24.
    private static final long MAP_INFO_SIZE = 40;
    private static final long MAP_TYPE = 0;
    private static final long MAP_ID = 4;
    private static final long MAP_KEY_SIZE = 8;
    private static final long MAP_VALUE_SIZE = 12;
    private static final long MAP_NAME = 24;
    private static final int NAME_LEN = 16;

    private BpfInfo() {
    }

    /** A link as the kernel sees it; a cgroup link detached by BPF_LINK_DETACH reports cgroup id 0. */
    public record Link(int id, int type, int progId, long cgroupId, int attachType) {
    }

    /** A program: its tag is a hash of its instructions (map references left out), equal for equal loads. */
    public record Program(int id, int type, String tag, String name, int[] mapIds) {
    }

    public record Map(int id, int type, int keySize, int valueSize, String name) {
    }

    /**
     * Which kind of BPF object an fd is: "bpf-link", "bpf-map", "bpf-prog", or what else it is.
     * (The kernel names a link's inode "bpf_link" when it is made, "bpf-link" when opened from a pin.)
     */
    public static String kind(int fd) {
        try {
            String target = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
            return target.startsWith("anon_inode:") ? target.substring("anon_inode:".length()).replace('_', '-') : target;
        } catch (IOException e) {
            return "unknown";
        }
    }

    public static Link link(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = query(arena, fd, LINK_INFO_SIZE, "link");
            boolean cgroup = info.get(JAVA_INT, LINK_TYPE) == LINK_TYPE_CGROUP;
            return new Link(info.get(JAVA_INT, LINK_ID), info.get(JAVA_INT, LINK_TYPE), info.get(JAVA_INT, LINK_PROG_ID),
                    cgroup ? info.get(JAVA_LONG, LINK_CGROUP_ID) : 0, cgroup ? info.get(JAVA_INT, LINK_CGROUP_ATTACH_TYPE) : 0);
        }
    }

    public static Program program(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ids = arena.allocate(4L * MAX_MAP_IDS, 8);
            MemorySegment info = arena.allocate(PROG_INFO_SIZE, 8);
            info.set(JAVA_INT, PROG_NR_MAP_IDS, MAX_MAP_IDS);
            info.set(JAVA_LONG, PROG_MAP_IDS, ids.address());
            fill(arena, fd, info, "program");
            int count = Math.min(info.get(JAVA_INT, PROG_NR_MAP_IDS), MAX_MAP_IDS);
            int[] mapIds = new int[count];
            for (int i = 0; i < count; i++) {
                mapIds[i] = ids.getAtIndex(JAVA_INT, i);
            }
            return new Program(info.get(JAVA_INT, PROG_ID), info.get(JAVA_INT, PROG_TYPE),
                    HexFormat.of().formatHex(info.asSlice(PROG_TAG, 8).toArray(JAVA_BYTE)), string(info, PROG_NAME), mapIds);
        }
    }

    /** The program with this id, or null when it no longer exists. */
    public static Program programById(int id) {
        int fd = Libbpf.progGetFdById(id);
        if (fd < 0) {
            return null;
        }
        try {
            return program(fd);
        } finally {
            Libc.close(fd);
        }
    }

    public static Map map(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = query(arena, fd, MAP_INFO_SIZE, "map");
            return new Map(info.get(JAVA_INT, MAP_ID), info.get(JAVA_INT, MAP_TYPE), info.get(JAVA_INT, MAP_KEY_SIZE),
                    info.get(JAVA_INT, MAP_VALUE_SIZE), string(info, MAP_NAME));
        }
    }

    /** An fd for what is pinned at path, or -errno (-ENOENT: nothing pinned there). The caller closes it. */
    public static int pinned(String path) {
        return Libbpf.objGet(path);
    }

    /** Pins the object behind fd at path; 0 or -errno. */
    public static int pin(int fd, String path) {
        return Libbpf.objPin(fd, path);
    }

    /**
     * The ids of the programs attached directly to a cgroup for one attach type (BPF_PROG_QUERY
     * without BPF_F_QUERY_EFFECTIVE: not those inherited from ancestors).
     */
    public static int[] cgroupPrograms(int cgroupFd, int attachType) {
        try (Arena arena = Arena.ofConfined()) {
            int capacity = 64;
            MemorySegment flags = arena.allocate(JAVA_INT);
            MemorySegment ids = arena.allocate(4L * capacity, 4);
            MemorySegment count = arena.allocate(JAVA_INT);
            count.set(JAVA_INT, 0, capacity);
            int rc = Libbpf.progQuery(cgroupFd, attachType, 0, flags, ids, count);
            if (rc != -Errno.ENOSPC) {   // ENOSPC: more than capacity; the first ones are enough to report
                Libbpf.checkInt("bpf_prog_query", "attach type " + attachType, rc);
            }
            int n = Math.min(count.get(JAVA_INT, 0), capacity);
            int[] result = new int[n];
            for (int i = 0; i < n; i++) {
                result[i] = ids.getAtIndex(JAVA_INT, i);
            }
            return result;
        }
    }

    private static MemorySegment query(Arena arena, int fd, long size, String what) {
        MemorySegment info = arena.allocate(size, 8);
        fill(arena, fd, info, what);
        return info;
    }

    private static void fill(Arena arena, int fd, MemorySegment info, String what) {
        MemorySegment length = arena.allocate(JAVA_INT);
        length.set(JAVA_INT, 0, (int) info.byteSize());
        Libbpf.checkInt("bpf_obj_get_info_by_fd", what + " fd " + fd, Libbpf.objGetInfoByFd(fd, info, length));
    }

    private static String string(MemorySegment info, long offset) {
        byte[] b = info.asSlice(offset, NAME_LEN).toArray(JAVA_BYTE);
        int n = 0;
        while (n < b.length && b[n] != 0) {
            n++;
        }
        return new String(b, 0, n, java.nio.charset.StandardCharsets.UTF_8);
    }
}
