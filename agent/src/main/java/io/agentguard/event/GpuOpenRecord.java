package io.agentguard.event;

import static io.agentguard.event.RecordLayout.*;

/** Flyweight over struct ag_gpu_open (cgroup/dev). */
public final class GpuOpenRecord extends RecordFlyweight<GpuOpenRecord> {
    public static final int ACCESS_MKNOD = 1;
    public static final int ACCESS_READ = 2;
    public static final int ACCESS_WRITE = 4;

    public int major() { return i32(GPU_OPEN_MAJOR); }
    public int minor() { return i32(GPU_OPEN_MINOR); }
    public int role() { return u16(GPU_OPEN_ROLE); }
    public int index() { return u16(GPU_OPEN_INDEX); }
    public int access() { return u16(GPU_OPEN_ACCESS); }
    public int verdict() { return u16(GPU_OPEN_VERDICT); }
}
