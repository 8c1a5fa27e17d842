package io.agentguard.bpf;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * A libbpf bpf_object opened from the BPF ELF embedded in the agent jar. Owns the ELF
 * bytes (libbpf reads them until load) and every link made from its programs.
 */
public final class BpfObject implements AutoCloseable {
    /** Classpath location of the object the Maven build compiles from bpf/. */
    public static final String EMBEDDED_OBJECT = "/io/agentguard/bpf/agentguard.bpf.o";

    private final Arena arena = Arena.ofShared();
    private final MemorySegment object;
    private final List<BpfLink> links = new ArrayList<>();
    private boolean closed;

    private BpfObject(byte[] elf) {
        MemorySegment buffer = arena.allocate(elf.length, 8);
        MemorySegment.copy(elf, 0, buffer, ValueLayout.JAVA_BYTE, 0, elf.length);
        try {
            this.object = Libbpf.objectOpenMem(buffer, "agentguard");
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    public static BpfObject openEmbedded() {
        return open(embeddedElf());
    }

    public static BpfObject open(byte[] elf) {
        return new BpfObject(elf);
    }

    public static byte[] embeddedElf() {
        try (InputStream in = BpfObject.class.getResourceAsStream(EMBEDDED_OBJECT)) {
            if (in == null) {
                throw new IllegalStateException("BPF object " + EMBEDDED_OBJECT
                        + " is missing from the classpath: build the agent with Maven (it compiles bpf/)");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public BpfProgram program(String name) {
        MemorySegment prog = Libbpf.findProgram(object, name);
        if (prog.equals(MemorySegment.NULL)) {
            throw new IllegalArgumentException("no BPF program '" + name + "' in the object");
        }
        return new BpfProgram(this, prog, name);
    }

    public List<String> programNames() {
        List<String> names = new ArrayList<>();
        MemorySegment prog = Libbpf.nextProgram(object, MemorySegment.NULL);
        while (!prog.equals(MemorySegment.NULL)) {
            names.add(Libbpf.programName(prog));
            prog = Libbpf.nextProgram(object, prog);
        }
        return names;
    }

    /** Names of the object's maps. */
    public List<String> mapNames() {
        List<String> names = new ArrayList<>();
        MemorySegment map = Libbpf.nextMap(object, MemorySegment.NULL);
        while (!map.equals(MemorySegment.NULL)) {
            names.add(Libbpf.mapName(map));
            map = Libbpf.nextMap(object, map);
        }
        return names;
    }

    public BpfMap map(String name) {
        MemorySegment map = Libbpf.findMap(object, name);
        if (map.equals(MemorySegment.NULL)) {
            throw new IllegalArgumentException("no BPF map '" + name + "' in the object");
        }
        return new BpfMap(map, name);
    }

    /** Loads every program whose autoload is on, and creates the maps. */
    public void load() {
        Libbpf.checkInt("bpf_object__load", null, Libbpf.objectLoad(object));
    }

    synchronized BpfLink register(BpfLink link) {
        links.add(link);
        return link;
    }

    synchronized void unregister(BpfLink link) {
        links.remove(link);
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (BpfLink link : List.copyOf(links)) {
            link.close();
        }
        Libbpf.objectClose(object);
        arena.close();
    }
}
