package io.agentguard.bpf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Predicate;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * A map that agentguard alone writes, together with what it wrote: every write goes through
 * here, so that {@link #verify} can find and undo what anyone else changed (an entry removed,
 * rewritten or added by root with bpftool). Exact images hold every entry the map should have
 * (the scope roots, the policy hash maps): an entry agentguard did not write is drift too.
 * Other images check only the entries written (arrays, whose slots cannot be removed; device
 * numbers, where a stale entry only denies more). Thread-safe: writers and the verifier
 * serialise on the image.
 */
public final class MapImage {
    private final BpfMap map;
    private final boolean exact;
    private final int keySize;
    private final int valueSize;
    private final Function<MemorySegment, String> describeKey;
    private final Map<ByteBuffer, byte[]> entries = new LinkedHashMap<>();
    /** Values of entries the kernel adds and removes itself (scope by pattern): not drift. */
    private Predicate<MemorySegment> kernelWritten = v -> false;

    /** Entries whose value matches are the programs' own (written and deleted in the kernel): never drift. */
    public synchronized MapImage kernelWrites(Predicate<MemorySegment> value) {
        this.kernelWritten = value;
        return this;
    }

    /** @param describeKey names a key in drift reports ("cgroup id 11729"); null: hex bytes */
    public MapImage(BpfMap map, boolean exact, Function<MemorySegment, String> describeKey) {
        this.map = map;
        this.exact = exact;
        BpfInfo.Map info = BpfInfo.map(map.fd());
        this.keySize = info.keySize();
        this.valueSize = info.valueSize();
        this.describeKey = describeKey != null ? describeKey : k -> HexFormat.of().formatHex(k.toArray(JAVA_BYTE));
    }

    public String name() {
        return map.name();
    }

    public synchronized void update(MemorySegment key, MemorySegment value) {
        map.update(key, value);
        entries.put(ByteBuffer.wrap(bytes(key, keySize)), bytes(value, valueSize));
    }

    /** True when an element was deleted. */
    public synchronized boolean delete(MemorySegment key) {
        entries.remove(ByteBuffer.wrap(bytes(key, keySize)));
        return map.delete(key);
    }

    /** Deletes every entry of the map (written here or not) whose key matches. */
    public synchronized void deleteIf(Predicate<MemorySegment> key) {
        map.forEachKey(keySize, k -> {
            if (key.test(k)) {
                delete(k);
            }
        });
    }

    /** The map's value for key (not the image's); true when found. */
    public boolean lookupRaw(MemorySegment key, MemorySegment value) {
        return map.lookup(key, value);
    }

    /** How many entries agentguard put in the map (what an exact image expects it to hold). */
    public synchronized int size() {
        return entries.size();
    }

    /**
     * Compares the map with what was written and puts it back: entries removed or changed are
     * written again, entries nobody here wrote are deleted (exact images). Null when the map is
     * as written.
     */
    public synchronized StateDrift verify() {
        List<byte[]> extra = new ArrayList<>();
        List<ByteBuffer> missing = new ArrayList<>();
        List<ByteBuffer> changed = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment key = arena.allocate(keySize, 8);
            MemorySegment value = arena.allocate(valueSize, 8);
            java.util.Set<ByteBuffer> seen = new java.util.HashSet<>();
            if (exact) {
                List<byte[]> present = keys(arena);
                for (byte[] k : present) {
                    ByteBuffer kb = ByteBuffer.wrap(k);
                    seen.add(kb);
                    if (!entries.containsKey(kb)) {
                        MemorySegment.copy(k, 0, key, JAVA_BYTE, 0, keySize);
                        // gone since the key walk: removed by the kernel (rmdir), nothing to repair
                        if (map.lookup(key, value) && !kernelWritten.test(value)) {
                            extra.add(k);
                        }
                    }
                }
                for (ByteBuffer k : entries.keySet()) {
                    if (!seen.contains(k)) {
                        missing.add(k);
                    }
                }
            }
            for (Map.Entry<ByteBuffer, byte[]> e : entries.entrySet()) {
                if (exact && !seen.contains(e.getKey())) {
                    continue;   // missing: found by the walk above
                }
                MemorySegment.copy(e.getKey().array(), 0, key, JAVA_BYTE, 0, keySize);
                if (!map.lookup(key, value)) {
                    missing.add(e.getKey());
                } else if (!java.util.Arrays.equals(bytes(value, valueSize), e.getValue())) {
                    changed.add(e.getKey());
                }
            }
            if (extra.isEmpty() && missing.isEmpty() && changed.isEmpty()) {
                return null;
            }
            String drift = describe(arena, missing, "removed") + describe(arena, changed, "changed")
                    + describeExtra(arena, extra);
            drift = drift.substring(0, drift.length() - 2);
            try {
                for (byte[] k : extra) {   // first: a map filled up by someone else must take ours again
                    MemorySegment.copy(k, 0, key, JAVA_BYTE, 0, keySize);
                    map.delete(key);
                }
                for (ByteBuffer k : missing) {
                    rewrite(k, key, value);
                }
                for (ByteBuffer k : changed) {
                    rewrite(k, key, value);
                }
            } catch (RuntimeException e) {
                return StateDrift.unrepaired("map", map.name(), drift, e.getMessage());
            }
            return StateDrift.repaired("map", map.name(), drift, "entries written again as agentguard wrote them"
                    + (extra.isEmpty() ? "" : ", the others deleted"));
        }
    }

    private void rewrite(ByteBuffer k, MemorySegment key, MemorySegment value) {
        MemorySegment.copy(k.array(), 0, key, JAVA_BYTE, 0, keySize);
        MemorySegment.copy(entries.get(k), 0, value, JAVA_BYTE, 0, valueSize);
        map.update(key, value);
    }

    private List<byte[]> keys(Arena arena) {
        List<byte[]> keys = new ArrayList<>();
        MemorySegment current = arena.allocate(keySize, 8);
        MemorySegment next = arena.allocate(keySize, 8);
        int rc = Libbpf.mapGetNextKey(map.fd(), MemorySegment.NULL, next);
        while (rc == 0 && keys.size() < 1_000_000) {
            keys.add(next.toArray(JAVA_BYTE));
            MemorySegment.copy(next, 0, current, 0, keySize);
            rc = Libbpf.mapGetNextKey(map.fd(), current, next);
        }
        return keys;
    }

    private String describe(Arena arena, List<ByteBuffer> keys, String what) {
        if (keys.isEmpty()) {
            return "";
        }
        List<byte[]> raw = keys.stream().map(ByteBuffer::array).toList();
        return keys.size() + (keys.size() == 1 ? " entry " : " entries ") + what + " (" + names(arena, raw) + "), ";
    }

    private String describeExtra(Arena arena, List<byte[]> keys) {
        if (keys.isEmpty()) {
            return "";
        }
        return keys.size() + (keys.size() == 1 ? " entry" : " entries") + " added by someone else (" + names(arena, keys)
                + "), ";
    }

    /** The first three keys, named. */
    private String names(Arena arena, List<byte[]> keys) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(3, keys.size()); i++) {
            MemorySegment k = arena.allocate(keySize, 8);
            MemorySegment.copy(keys.get(i), 0, k, JAVA_BYTE, 0, keySize);
            sb.append(i > 0 ? ", " : "").append(describeKey.apply(k));
        }
        return keys.size() > 3 ? sb.append(", ...").toString() : sb.toString();
    }

    private static byte[] bytes(MemorySegment segment, int size) {
        return segment.asSlice(0, size).toArray(JAVA_BYTE);
    }
}
