package io.agentguard.event;

import io.agentguard.abi.KernelAbi.GpuIoctl;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.GpuEvent;

import static io.agentguard.abi.KernelAbi.*;

/**
 * Flyweight over struct ag_gpu_ioctl: an ioctl on an NVIDIA device, with the first bytes of
 * its parameter struct; {@link NvidiaIoctlDecoder} says what they mean.
 */
public final class GpuIoctlRecord extends RecordFlyweight<GpuIoctlRecord> {
    public int fd() { return i32(GpuIoctl.FD); }
    public int cmd() { return i32(GpuIoctl.CMD); }
    public int major() { return i32(GpuIoctl.MAJOR); }
    public int minor() { return i32(GpuIoctl.MINOR); }
    /** enum ag_device_role */
    public int role() { return u16(GpuIoctl.ROLE); }
    public int index() { return u16(GpuIoctl.INDEX); }
    public int argLength() { return Math.min(u16(GpuIoctl.ARG_LEN), AG_IOCTL_ARG_MAX); }
    /** AG_IOCTL_* */
    public int flags() { return u16(GpuIoctl.FLAGS); }
    public int innerCmd() { return i32(GpuIoctl.INNER_CMD); }
    public int verdict() { return i32(GpuIoctl.VERDICT); }
    /** RM_ALLOC with AG_IOCTL_PARAMS_READ: the first u64 of the class's params. */
    public long aux0() { return i64(GpuIoctl.AUX0); }
    /** RM_ALLOC of a memory class with AG_IOCTL_PARAMS_READ: the params' size field. */
    public long aux1() { return i64(GpuIoctl.AUX1); }

    /** u32 at a byte offset of the copied struct, or -1 when not copied that far. */
    public long argU32(long at) {
        return at + 4 <= argLength() ? Integer.toUnsignedLong(i32(GpuIoctl.ARG + at)) : -1;
    }

    /** u64 at a byte offset of the copied struct, or -1 when not copied that far. */
    public long argU64(long at) {
        return at + 8 <= argLength() ? i64(GpuIoctl.ARG + at) : -1;
    }

    void putArgU32(long at, int value) {
        putI32(GpuIoctl.ARG + at, value);
    }

    void putArgU64(long at, long value) {
        putI64(GpuIoctl.ARG + at, value);
    }

    /** Writes the record of a recorded ioctl event, its parameter struct rebuilt from the decoded fields. */
    public int write(Event e) {
        GpuEvent g = e.getGpu();
        io.agentguard.proto.v1.GpuIoctl io = g.getIoctl();
        writeHeader(e, AG_REC_GPU_IOCTL, GpuIoctl.SIZEOF);
        int role = DeviceRoles.toKernel(g.getRole());
        putI32(GpuIoctl.FD, io.getFd());
        putI32(GpuIoctl.CMD, io.getCmd());
        putI32(GpuIoctl.MAJOR, g.getMajor());
        putI32(GpuIoctl.MINOR, g.getMinor());
        putU16(GpuIoctl.ROLE, role);
        putU16(GpuIoctl.INDEX, g.getGpuIndex());
        putI32(GpuIoctl.INNER_CMD, io.getInnerCmd() != 0 ? io.getInnerCmd() : io.getCmd());
        putI32(GpuIoctl.VERDICT, Verdicts.toKernel(io.getVerdict()));
        putU16(GpuIoctl.FLAGS, io.getViaXfer() ? AG_IOCTL_XFER_UNWRAPPED : 0);
        if (io.getArgUnreadable()) {
            putU16(GpuIoctl.FLAGS, flags() | AG_IOCTL_ARG_UNREADABLE);
        } else {
            putU16(GpuIoctl.ARG_LEN, NvidiaIoctlDecoder.writeParams(io, role, this));
        }
        return (int) GpuIoctl.SIZEOF;
    }

    /** What the kernel copies from behind RM_ALLOC's pAllocParms (AG_IOCTL_PARAMS_READ). */
    void putAllocParams(long aux0, long aux1) {
        putI64(GpuIoctl.AUX0, aux0);
        putI64(GpuIoctl.AUX1, aux1);
        putU16(GpuIoctl.FLAGS, flags() | AG_IOCTL_PARAMS_READ);
    }
}
