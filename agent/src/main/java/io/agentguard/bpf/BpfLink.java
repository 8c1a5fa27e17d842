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

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            Libbpf.linkDestroy(link);
            owner.unregister(this);
        }
    }
}
