package io.agentguard.bpf;

import java.lang.foreign.MemorySegment;

/** An attachment of a program; closing it detaches. */
public final class BpfLink implements AutoCloseable {
    private final BpfObject owner;
    private final MemorySegment link;
    private final String description;
    private boolean closed;

    BpfLink(BpfObject owner, MemorySegment link, String description) {
        this.owner = owner;
        this.link = link;
        this.description = description;
    }

    public String description() {
        return description;
    }

    /** The link's fd (valid until close). */
    public int fd() {
        return Libbpf.linkFd(link);
    }

    /** Pins the link: it stays attached after this process exits, until the pin is removed. */
    public void pin(String path) {
        Libbpf.checkInt("bpf_link__pin", description + " -> " + path, Libbpf.linkPin(link, path));
    }

    /** For an iterator link: runs the iterator once and returns all it wrote. */
    public byte[] readIterator() {
        int fd = Libbpf.checkInt("bpf_iter_create", description, Libbpf.iterCreate(Libbpf.linkFd(link)));
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.MemorySegment buffer = arena.allocate(64 * 1024);
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            while (true) {
                long n = Libc.read(fd, buffer);
                if (n == 0) {
                    return out.toByteArray();
                }
                if (n < 0) {
                    int errno = Libc.errno();
                    if (errno == Errno.EINTR) {
                        continue;
                    }
                    throw new BpfException("read", errno, description + " (iterator)", java.util.List.of());
                }
                out.write(buffer.asSlice(0, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), 0, (int) n);
            }
        } finally {
            Libc.close(fd);
        }
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            Libbpf.linkDestroy(link);
            owner.unregister(this);
        }
    }
}
