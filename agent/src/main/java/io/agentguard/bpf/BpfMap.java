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
