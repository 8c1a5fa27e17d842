package io.agentguard.event;

import io.agentguard.abi.KernelAbi.Header;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ProcessInfo;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

import static io.agentguard.abi.KernelAbi.AG_COMM_LEN;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * Base of the flyweights over ring records: wraps a position, reads and writes the
 * ag_header every record starts with. Offsets come from {@link io.agentguard.abi.KernelAbi},
 * generated from bpf/agentguard.h; the flyweights are the only code that uses them for
 * records. Reads allocate nothing except the String accessors. Writers serve recorded
 * events (replay), tests and benchmarks, so that those go through the live decoding path.
 */
public abstract class RecordFlyweight<T extends RecordFlyweight<T>> {
    protected MemorySegment buffer;
    protected long offset;

    @SuppressWarnings("unchecked")
    public T wrap(MemorySegment buffer, long offset) {
        this.buffer = buffer;
        this.offset = offset;
        return (T) this;
    }

    public int type() { return u16(Header.TYPE); }
    /** Bytes of the record that are meaningful (exec records are variable). */
    public int size() { return u16(Header.SIZE); }
    public int cpu() { return i32(Header.CPU); }
    public long ktimeNs() { return i64(Header.KTIME_NS); }
    public long cgroupId() { return i64(Header.CGROUP_ID); }
    public int pid() { return i32(Header.PID); }
    public int tid() { return i32(Header.TID); }
    public int ppid() { return i32(Header.PPID); }
    public int uid() { return i32(Header.UID); }
    public int gid() { return i32(Header.GID); }
    /** comm as a String (allocates: for output, and for processes the table does not know). */
    public String comm() { return cString(Header.COMM, AG_COMM_LEN); }

    /**
     * Zeroes sizeBytes at the wrapped position and writes the header of a record of this
     * type from an event's process and times, as the kernel would have.
     */
    protected final void writeHeader(Event e, int recordType, long sizeBytes) {
        buffer.asSlice(offset, sizeBytes).fill((byte) 0);
        ProcessInfo p = e.getProcess();
        putU16(Header.TYPE, recordType);
        putU16(Header.SIZE, (int) sizeBytes);
        putI32(Header.CPU, e.getCpu());
        putI64(Header.KTIME_NS, e.getMonotonicNs());
        putI64(Header.CGROUP_ID, p.getCgroupId());
        putI32(Header.PID, p.getPid());
        putI32(Header.TID, p.getTid() != 0 ? p.getTid() : p.getPid());
        putI32(Header.PPID, p.getPpid());
        putI32(Header.UID, p.getUid());
        putI32(Header.GID, p.getGid());
        putString(Header.COMM, p.getComm(), AG_COMM_LEN - 1);
    }

    protected final int u16(long field) {
        return Short.toUnsignedInt(buffer.get(JAVA_SHORT_UNALIGNED, offset + field));
    }

    protected final int i32(long field) {
        return buffer.get(JAVA_INT_UNALIGNED, offset + field);
    }

    protected final long i64(long field) {
        return buffer.get(JAVA_LONG_UNALIGNED, offset + field);
    }

    protected final byte i8(long field) {
        return buffer.get(JAVA_BYTE, offset + field);
    }

    protected final void putU16(long field, int value) {
        buffer.set(JAVA_SHORT_UNALIGNED, offset + field, (short) value);
    }

    protected final void putI32(long field, int value) {
        buffer.set(JAVA_INT_UNALIGNED, offset + field, value);
    }

    protected final void putI64(long field, long value) {
        buffer.set(JAVA_LONG_UNALIGNED, offset + field, value);
    }

    /** Writes at most maxBytes of the UTF-8 text (the rest stays as zeroed); returns the bytes written. */
    protected final int putString(long field, String text, int maxBytes) {
        return putBytes(field, text.getBytes(StandardCharsets.UTF_8), maxBytes);
    }

    protected final int putBytes(long field, byte[] bytes, int maxBytes) {
        int n = Math.min(bytes.length, maxBytes);
        MemorySegment.copy(bytes, 0, buffer, JAVA_BYTE, offset + field, n);
        return n;
    }

    /** A NUL-terminated string of at most maxBytes (allocates: only for emitted events). */
    protected final String cString(long field, int maxBytes) {
        int n = 0;
        while (n < maxBytes && buffer.get(JAVA_BYTE, offset + field + n) != 0) {
            n++;
        }
        return string(field, n);
    }

    protected final String string(long field, int length) {
        return new String(bytes(field, length), StandardCharsets.UTF_8);
    }

    protected final byte[] bytes(long field, int length) {
        byte[] bytes = new byte[length];
        MemorySegment.copy(buffer, JAVA_BYTE, offset + field, bytes, 0, length);
        return bytes;
    }
}
