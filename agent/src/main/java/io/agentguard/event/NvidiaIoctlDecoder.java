package io.agentguard.event;

import io.agentguard.proto.v1.ClassKind;
import io.agentguard.proto.v1.GpuIoctl;

import static io.agentguard.event.RecordLayout.*;

/**
 * Decodes NVIDIA driver ioctls (shared/reference/nvidia.md): the escape name from the
 * cmd's nr (type 'F'), UVM names (plain integers), RM_ALLOC's class into a kind,
 * RM_CONTROL's control id, and allocation sizes.
 */
public final class NvidiaIoctlDecoder {
    static final int NV_IOCTL_MAGIC = 0x46;
    static final int NV_ESC_RM_ALLOC_MEMORY = 0x27;
    static final int NV_ESC_RM_FREE = 0x29;
    static final int NV_ESC_RM_CONTROL = 0x2a;
    static final int NV_ESC_RM_ALLOC = 0x2b;
    static final int NV_ESC_RM_VID_HEAP_CONTROL = 0x4a;
    static final int NVOS32_FUNCTION_ALLOC_SIZE = 2;

    // struct offsets (nvidia.md "Parameter structs")
    static final int NVOS21_H_ROOT = 0;
    static final int NVOS21_H_PARENT = 4;
    static final int NVOS21_H_NEW = 8;
    static final int NVOS21_H_CLASS = 12;
    static final int NVOS54_H_CLIENT = 0;
    static final int NVOS54_H_OBJECT = 4;
    static final int NVOS54_CMD = 8;
    static final int NVOS00_H_ROOT = 0;
    static final int NVOS00_H_PARENT = 4;
    static final int NVOS00_H_OLD = 8;
    static final int NVOS32_FUNCTION = 8;
    static final int NVOS32_ALLOC_SIZE = 88;

    private static final String[] ESCAPE_NAMES = new String[256];
    private static final String[] UVM_NAMES = new String[128];

    static {
        ESCAPE_NAMES[0x27] = "RM_ALLOC_MEMORY";
        ESCAPE_NAMES[0x29] = "RM_FREE";
        ESCAPE_NAMES[0x2a] = "RM_CONTROL";
        ESCAPE_NAMES[0x2b] = "RM_ALLOC";
        ESCAPE_NAMES[0x34] = "RM_DUP_OBJECT";
        ESCAPE_NAMES[0x4a] = "RM_VID_HEAP_CONTROL";
        ESCAPE_NAMES[0x4e] = "RM_MAP_MEMORY";
        ESCAPE_NAMES[0x4f] = "RM_UNMAP_MEMORY";
        ESCAPE_NAMES[0x52] = "RM_GET_EVENT_DATA";
        ESCAPE_NAMES[0x57] = "RM_MAP_MEMORY_DMA";
        ESCAPE_NAMES[0xc8] = "CARD_INFO";
        ESCAPE_NAMES[0xc9] = "REGISTER_FD";
        ESCAPE_NAMES[0xce] = "ALLOC_OS_EVENT";
        ESCAPE_NAMES[0xcf] = "FREE_OS_EVENT";
        ESCAPE_NAMES[0xd2] = "CHECK_VERSION_STR";
        ESCAPE_NAMES[0xd3] = "IOCTL_XFER_CMD";
        ESCAPE_NAMES[0xd4] = "ATTACH_GPUS_TO_FD";
        ESCAPE_NAMES[0xd6] = "SYS_PARAMS";
        ESCAPE_NAMES[0xd7] = "NUMA_INFO";
        ESCAPE_NAMES[0xda] = "WAIT_OPEN_COMPLETE";

        UVM_NAMES[0x17] = "UVM_CREATE_RANGE_GROUP";
        UVM_NAMES[0x19] = "UVM_REGISTER_GPU_VASPACE";
        UVM_NAMES[0x1b] = "UVM_REGISTER_CHANNEL";
        UVM_NAMES[0x21] = "UVM_MAP_EXTERNAL_ALLOCATION";
        UVM_NAMES[0x22] = "UVM_FREE";
        UVM_NAMES[0x25] = "UVM_REGISTER_GPU";
        UVM_NAMES[0x27] = "UVM_PAGEABLE_MEM_ACCESS";
        UVM_NAMES[0x33] = "UVM_MIGRATE";
        UVM_NAMES[0x44] = "UVM_ALLOC_SEMAPHORE_POOL";
        UVM_NAMES[0x48] = "UVM_VALIDATE_VA_RANGE";
        UVM_NAMES[0x49] = "UVM_CREATE_EXTERNAL_RANGE";
        UVM_NAMES[0x4b] = "UVM_MM_INITIALIZE";
    }

    private NvidiaIoctlDecoder() {
    }

    /** Name of an ioctl cmd on a device of the given role. */
    public static String name(int role, int cmd) {
        if (role == ROLE_UVM || role == ROLE_UVM_TOOLS) {
            if (cmd == 0x30000001) {
                return "UVM_INITIALIZE";
            }
            if (cmd == 0x30000002) {
                return "UVM_DEINITIALIZE";
            }
            String name = cmd >= 0 && cmd < UVM_NAMES.length ? UVM_NAMES[cmd] : null;
            return name != null ? name : String.format("UVM_0x%x", cmd);
        }
        if (role == ROLE_MODESET) {
            return "MODESET";
        }
        if (((cmd >>> 8) & 0xff) != NV_IOCTL_MAGIC) {
            return String.format("IOCTL_0x%08x", cmd);
        }
        String name = ESCAPE_NAMES[cmd & 0xff];
        return name != null ? name : String.format("NV_ESC_0x%02x", cmd & 0xff);
    }

    /** Kind of object an RM_ALLOC of hClass creates. */
    public static ClassKind classKind(int hClass) {
        switch (hClass) {
            case 0x41: return ClassKind.CLASS_KIND_CLIENT;
            case 0x80: return ClassKind.CLASS_KIND_DEVICE;
            case 0x2080: return ClassKind.CLASS_KIND_SUBDEVICE;
            case 0x40, 0x3e: return ClassKind.CLASS_KIND_MEMORY;
            case 0x90f1: return ClassKind.CLASS_KIND_VASPACE;
            case 0xa06c: return ClassKind.CLASS_KIND_CHANNEL_GROUP;
            case 0x9067: return ClassKind.CLASS_KIND_SUBCONTEXT;
            case 0x79: return ClassKind.CLASS_KIND_EVENT;
            case 0x900e: return ClassKind.CLASS_KIND_MPS;
            case 0xc461, 0xc661, 0xc761: return ClassKind.CLASS_KIND_USERMODE;
            default: break;
        }
        int low = hClass & 0xff;
        if (hClass >= 0xa000 && hClass <= 0xffff) {
            // Engine classes are arch << 8 | engine: c0 compute, b5 copy, 97 3D, 6f GPFIFO.
            if (low == 0xc0 && hClass >= 0xa0c0) {
                return ClassKind.CLASS_KIND_COMPUTE;
            }
            if (low == 0xb5) {
                return ClassKind.CLASS_KIND_COPY;
            }
            if (low == 0x97) {
                return ClassKind.CLASS_KIND_GRAPHICS;
            }
            if (low == 0x6f) {
                return ClassKind.CLASS_KIND_CHANNEL;
            }
        }
        return ClassKind.CLASS_KIND_OTHER;
    }

    /** A readable class name where one is well known. */
    public static String className(int hClass) {
        return switch (hClass) {
            case 0x41 -> "NV01_ROOT_CLIENT";
            case 0x80 -> "NV01_DEVICE_0";
            case 0x2080 -> "NV20_SUBDEVICE_0";
            case 0x40 -> "NV01_MEMORY_LOCAL_USER";
            case 0x3e -> "NV01_MEMORY_SYSTEM";
            case 0x90f1 -> "FERMI_VASPACE_A";
            case 0xa06c -> "KEPLER_CHANNEL_GROUP_A";
            case 0x9067 -> "FERMI_CONTEXT_SHARE_A";
            case 0x79 -> "NV01_EVENT_OS_EVENT";
            case 0x900e -> "MPS_COMPUTE";
            case 0xc461 -> "TURING_USERMODE_A";
            case 0xc661 -> "HOPPER_USERMODE_A";
            case 0xc761 -> "BLACKWELL_USERMODE_A";
            case 0xc46f -> "TURING_CHANNEL_GPFIFO_A";
            case 0xc56f -> "AMPERE_CHANNEL_GPFIFO_A";
            case 0xc86f -> "HOPPER_CHANNEL_GPFIFO_A";
            case 0xc96f -> "BLACKWELL_CHANNEL_GPFIFO_A";
            case 0xca6f -> "BLACKWELL_CHANNEL_GPFIFO_B";
            case 0xc5c0 -> "TURING_COMPUTE_A";
            case 0xc6c0 -> "AMPERE_COMPUTE_A";
            case 0xc7c0 -> "AMPERE_COMPUTE_B";
            case 0xc9c0 -> "ADA_COMPUTE_A";
            case 0xcbc0 -> "HOPPER_COMPUTE_A";
            case 0xcdc0 -> "BLACKWELL_COMPUTE_A";
            case 0xcec0 -> "BLACKWELL_COMPUTE_B";
            case 0xc5b5 -> "TURING_DMA_COPY_A";
            case 0xc6b5 -> "AMPERE_DMA_COPY_A";
            case 0xc7b5 -> "AMPERE_DMA_COPY_B";
            case 0xc8b5 -> "HOPPER_DMA_COPY_A";
            case 0xc9b5 -> "BLACKWELL_DMA_COPY_A";
            case 0xcab5 -> "BLACKWELL_DMA_COPY_B";
            default -> String.format("0x%04x", hClass);
        };
    }

    /** Fills the ioctl part of a GPU event from the record. */
    public static GpuIoctl.Builder decode(GpuIoctlRecord r, GpuIoctl.Builder out) {
        int cmd = r.cmd();
        int inner = r.innerCmd();
        boolean xfer = (r.flags() & IOCTL_XFER_UNWRAPPED) != 0;
        int effective = xfer ? inner : cmd;
        out.setFd(r.fd())
                .setCmd(cmd)
                .setInnerCmd(inner)
                .setViaXfer(xfer)
                .setName(name(r.role(), effective))
                .setArgUnreadable((r.flags() & IOCTL_ARG_UNREADABLE) != 0)
                .setVerdict(EventDecoder.verdict(r.verdict()));
        if (r.role() == ROLE_UVM || r.role() == ROLE_UVM_TOOLS || ((effective >>> 8) & 0xff) != NV_IOCTL_MAGIC) {
            return out;
        }
        switch (effective & 0xff) {
            case NV_ESC_RM_ALLOC -> {
                long hClass = r.argU32(NVOS21_H_CLASS);
                if (hClass < 0) {
                    break;
                }
                ClassKind kind = classKind((int) hClass);
                out.setAllocClass((int) hClass)
                        .setClassKind(kind)
                        .setClassName(className((int) hClass))
                        .setComputeContext(kind == ClassKind.CLASS_KIND_COMPUTE)
                        .setHClient((int) r.argU32(NVOS21_H_ROOT))
                        .setHParent((int) r.argU32(NVOS21_H_PARENT))
                        .setHObject((int) r.argU32(NVOS21_H_NEW));
                if ((r.flags() & IOCTL_PARAMS_READ) != 0) {
                    if (kind == ClassKind.CLASS_KIND_DEVICE) {
                        out.setDeviceId((int) r.aux0());
                    } else if (kind == ClassKind.CLASS_KIND_MEMORY) {
                        out.setAllocSizeBytes(r.aux1());
                    }
                }
            }
            case NV_ESC_RM_CONTROL -> {
                long control = r.argU32(NVOS54_CMD);
                if (control >= 0) {
                    out.setControlId((int) control)
                            .setHClient((int) r.argU32(NVOS54_H_CLIENT))
                            .setHObject((int) r.argU32(NVOS54_H_OBJECT));
                }
            }
            case NV_ESC_RM_FREE -> {
                if (r.argU32(NVOS00_H_OLD) >= 0) {
                    out.setHClient((int) r.argU32(NVOS00_H_ROOT))
                            .setHParent((int) r.argU32(NVOS00_H_PARENT))
                            .setHObject((int) r.argU32(NVOS00_H_OLD));
                }
            }
            case NV_ESC_RM_VID_HEAP_CONTROL -> {
                long function = r.argU32(NVOS32_FUNCTION);
                if (function >= 0) {
                    out.setHeapFunction((int) function);
                    long size = r.argU64(NVOS32_ALLOC_SIZE);
                    if (function == NVOS32_FUNCTION_ALLOC_SIZE && size >= 0) {
                        out.setAllocSizeBytes(size);
                    }
                }
            }
            default -> {
            }
        }
        return out;
    }
}
