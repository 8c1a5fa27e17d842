package io.agentguard.bpf;

import java.lang.foreign.MemorySegment;

/** A map of a {@link BpfObject}. Element access is by fd, valid after load. */
public final class BpfMap {
    public static final long BPF_ANY = 0;

    private final MemorySegment map;
    private final String name;

    BpfMap(MemorySegment map, String name) {
        this.map = map;
        this.name = name;
    }

    public String name() {
        return name;
    }

    public int fd() {
        int fd = Libbpf.mapFd(map);
        if (fd < 0) {
            throw new IllegalStateException("map " + name + " has no fd: the object is not loaded");
        }
        return fd;
    }

    public int maxEntries() {
        return Libbpf.mapMaxEntries(map);
    }

    /**
     * Before load: pin the map at path; load reuses a compatible map already pinned there
     * (a restarted agent adopts its predecessor's maps) or creates and pins a new one.
     */
    public void pinPath(String path) {
        Libbpf.checkInt("bpf_map__set_pin_path", name + " -> " + path, Libbpf.mapSetPinPath(map, path));
    }

    /** Before load only. */
    public void maxEntries(int entries) {
        Libbpf.checkInt("bpf_map__set_max_entries", name + "=" + entries, Libbpf.mapSetMaxEntries(map, entries));
    }

    public void update(MemorySegment key, MemorySegment value) {
        Libbpf.checkInt("bpf_map_update_elem", name, Libbpf.mapUpdateElem(fd(), key, value, BPF_ANY));
    }

    /** True when found; value filled. */
    public boolean lookup(MemorySegment key, MemorySegment value) {
        int rc = Libbpf.mapLookupElem(fd(), key, value);
        if (rc == -Errno.ENOENT) {
            return false;
        }
        Libbpf.checkInt("bpf_map_lookup_elem", name, rc);
        return true;
    }

    /** Visits every key (copying each into key, keySize bytes); the visitor may delete the key it gets. */
    public void forEachKey(long keySize, java.util.function.Consumer<MemorySegment> visitor) {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment current = arena.allocate(keySize, 8);
            MemorySegment next = arena.allocate(keySize, 8);
            java.util.List<byte[]> keys = new java.util.ArrayList<>();
            int rc = Libbpf.mapGetNextKey(fd(), MemorySegment.NULL, next);
            while (rc == 0 && keys.size() < 1_000_000) {
                keys.add(next.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
                MemorySegment.copy(next, 0, current, 0, keySize);
                rc = Libbpf.mapGetNextKey(fd(), current, next);
            }
            for (byte[] k : keys) {   // collected first: deleting while walking restarts the walk
                MemorySegment key = arena.allocate(keySize, 8);
                MemorySegment.copy(k, 0, key, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, k.length);
                visitor.accept(key);
            }
        }
    }

    /** True when an element was deleted. */
    public boolean delete(MemorySegment key) {
        int rc = Libbpf.mapDeleteElem(fd(), key);
        if (rc == -Errno.ENOENT) {
            return false;
        }
        Libbpf.checkInt("bpf_map_delete_elem", name, rc);
        return true;
    }
}
