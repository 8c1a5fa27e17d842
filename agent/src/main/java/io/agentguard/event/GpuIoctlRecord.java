package io.agentguard.event;

import static io.agentguard.event.RecordLayout.*;

/** Flyweight over struct ag_gpu_ioctl; arg holds the copied parameter struct. */
public final class GpuIoctlRecord extends RecordFlyweight<GpuIoctlRecord> {
    public int fd() { return i32(GPU_IOCTL_FD); }
    public int cmd() { return i32(GPU_IOCTL_CMD); }
    public int major() { return i32(GPU_IOCTL_MAJOR); }
    public int minor() { return i32(GPU_IOCTL_MINOR); }
    public int role() { return u16(GPU_IOCTL_ROLE); }
    public int index() { return u16(GPU_IOCTL_INDEX); }
    public int argLength() { return Math.min(u16(GPU_IOCTL_ARG_LEN), IOCTL_ARG_MAX); }
    public int flags() { return u16(GPU_IOCTL_FLAGS); }
    public int innerCmd() { return i32(GPU_IOCTL_INNER_CMD); }
    public int verdict() { return i32(GPU_IOCTL_VERDICT); }
    public long argPtr() { return i64(GPU_IOCTL_ARG_PTR); }
    public long aux0() { return i64(GPU_IOCTL_AUX0); }
    public long aux1() { return i64(GPU_IOCTL_AUX1); }

    /** u32 at a byte offset of the copied struct, or -1 when not copied that far. */
    public long argU32(int at) {
        return at + 4 <= argLength() ? Integer.toUnsignedLong(i32(GPU_IOCTL_ARG + at)) : -1;
    }

    /** u64 at a byte offset of the copied struct, or -1 when not copied that far. */
    public long argU64(int at) {
        return at + 8 <= argLength() ? i64(GPU_IOCTL_ARG + at) : -1;
    }
}
