package io.agentguard.event;

import io.agentguard.abi.KernelAbi.GpuOpen;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.GpuEvent;

import static io.agentguard.abi.KernelAbi.*;

/** Flyweight over struct ag_gpu_open: an NVIDIA device opened (cgroup/dev), with the device policy's verdict. */
public final class GpuOpenRecord extends RecordFlyweight<GpuOpenRecord> {
    public int major() { return i32(GpuOpen.MAJOR); }
    public int minor() { return i32(GpuOpen.MINOR); }
    /** enum ag_device_role */
    public int role() { return u16(GpuOpen.ROLE); }
    public int index() { return u16(GpuOpen.INDEX); }
    /** AG_DEV_ACC_* */
    public int access() { return u16(GpuOpen.ACCESS); }
    public int verdict() { return u16(GpuOpen.VERDICT); }

    public int write(Event e) {
        GpuEvent g = e.getGpu();
        writeHeader(e, AG_REC_GPU_OPEN, GpuOpen.SIZEOF);
        putI32(GpuOpen.MAJOR, g.getMajor());
        putI32(GpuOpen.MINOR, g.getMinor());
        putU16(GpuOpen.ROLE, DeviceRoles.toKernel(g.getRole()));
        putU16(GpuOpen.INDEX, g.getGpuIndex());
        putU16(GpuOpen.ACCESS, (g.getOpen().getRead() ? AG_DEV_ACC_READ : 0)
                | (g.getOpen().getWrite() ? AG_DEV_ACC_WRITE : 0) | (g.getOpen().getMknod() ? AG_DEV_ACC_MKNOD : 0));
        putU16(GpuOpen.VERDICT, Verdicts.toKernel(g.getOpen().getVerdict()));
        return (int) GpuOpen.SIZEOF;
    }
}
