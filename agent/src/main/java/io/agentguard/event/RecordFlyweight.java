package io.agentguard.event;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;
import static io.agentguard.event.RecordLayout.*;

/** Base of the flyweights over ring records: wrap a position, read the ag_header. */
public abstract class RecordFlyweight<T extends RecordFlyweight<T>> {
    protected MemorySegment buffer;
    protected long offset;

    @SuppressWarnings("unchecked")
    public T wrap(MemorySegment buffer, long offset) {
        this.buffer = buffer;
        this.offset = offset;
        return (T) this;
    }

    public int type() { return u16(HEADER_TYPE); }
    public int size() { return u16(HEADER_SIZE_FIELD); }
    public int cpu() { return i32(HEADER_CPU); }
    public long ktimeNs() { return i64(HEADER_KTIME_NS); }
    public long cgroupId() { return i64(HEADER_CGROUP_ID); }
    public int pid() { return i32(HEADER_PID); }
    public int tid() { return i32(HEADER_TID); }
    public int ppid() { return i32(HEADER_PPID); }
    public int uid() { return i32(HEADER_UID); }
    public int gid() { return i32(HEADER_GID); }
    public String comm() { return cString(HEADER_COMM, COMM_LEN); }

    /** comm as a String (allocates: for output and for processes the table does not know). */
    public String commString() { return comm(); }

    /** Raw little-endian reads at a record offset, for callers that decode fields themselves. */
    public int rawInt(long field) { return i32(field); }

    public long rawLong(long field) { return i64(field); }

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

    /** A NUL-terminated string of at most maxBytes (allocates: only for emitted events). */
    protected final String cString(long field, int maxBytes) {
        int n = 0;
        while (n < maxBytes && buffer.get(JAVA_BYTE, offset + field + n) != 0) {
            n++;
        }
        return string(field, n);
    }

    protected final String string(long field, int length) {
        byte[] bytes = new byte[length];
        MemorySegment.copy(buffer, JAVA_BYTE, offset + field, bytes, 0, length);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    protected final byte[] bytes(long field, int length) {
        byte[] bytes = new byte[length];
        MemorySegment.copy(buffer, JAVA_BYTE, offset + field, bytes, 0, length);
        return bytes;
    }
}
