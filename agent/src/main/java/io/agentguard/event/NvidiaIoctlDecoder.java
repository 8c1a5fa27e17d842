package io.agentguard.event;

import io.agentguard.abi.KernelAbi.NvRmAlloc;
import io.agentguard.abi.KernelAbi.NvRmAllocMemory;
import io.agentguard.abi.KernelAbi.NvRmControl;
import io.agentguard.abi.KernelAbi.NvRmFree;
import io.agentguard.proto.v1.ClassKind;
import io.agentguard.proto.v1.GpuIoctl;

import static io.agentguard.abi.KernelAbi.*;

/**
 * The one NVIDIA ioctl decoder (docs/EVENTS.md, "GPU ioctls"): the call's name, what an
 * RM_ALLOC creates (class, kind, compute context, GPU index, memory size), RM_CONTROL's
 * control id, and handles, from a {@link GpuIoctlRecord} and the parameter struct layouts
 * of bpf/agentguard.h. The consumer thread decodes each ioctl record once; the process
 * table (compute, memory), the rule fields and the event all read the same decoded view.
 * Reads allocate nothing, except {@link #name()} for calls outside the name tables.
 */
public final class NvidiaIoctlDecoder {
    private static final String[] ESCAPE_NAMES = new String[256];
    private static final String[] UVM_NAMES = new String[128];

    static {
        ESCAPE_NAMES[NV_ESC_RM_ALLOC_MEMORY] = "RM_ALLOC_MEMORY";
        ESCAPE_NAMES[NV_ESC_RM_FREE] = "RM_FREE";
        ESCAPE_NAMES[NV_ESC_RM_CONTROL] = "RM_CONTROL";
        ESCAPE_NAMES[NV_ESC_RM_ALLOC] = "RM_ALLOC";
        ESCAPE_NAMES[0x34] = "RM_DUP_OBJECT";
        ESCAPE_NAMES[NV_ESC_RM_VID_HEAP_CONTROL] = "RM_VID_HEAP_CONTROL";
        ESCAPE_NAMES[0x4e] = "RM_MAP_MEMORY";
        ESCAPE_NAMES[0x4f] = "RM_UNMAP_MEMORY";
        ESCAPE_NAMES[0x52] = "RM_GET_EVENT_DATA";
        ESCAPE_NAMES[0x57] = "RM_MAP_MEMORY_DMA";
        ESCAPE_NAMES[NV_ESC_RM_UPDATE_DEVICE_MAPPING_INFO] = "RM_UPDATE_DEVICE_MAPPING_INFO";
        ESCAPE_NAMES[0xc8] = "CARD_INFO";
        ESCAPE_NAMES[0xc9] = "REGISTER_FD";
        ESCAPE_NAMES[0xce] = "ALLOC_OS_EVENT";
        ESCAPE_NAMES[0xcf] = "FREE_OS_EVENT";
        ESCAPE_NAMES[0xd2] = "CHECK_VERSION_STR";
        ESCAPE_NAMES[NV_ESC_IOCTL_XFER_CMD] = "IOCTL_XFER_CMD";
        ESCAPE_NAMES[0xd4] = "ATTACH_GPUS_TO_FD";
        ESCAPE_NAMES[0xd6] = "SYS_PARAMS";
        ESCAPE_NAMES[0xd7] = "NUMA_INFO";
        ESCAPE_NAMES[0xda] = "WAIT_OPEN_COMPLETE";

        UVM_NAMES[0x17] = "UVM_CREATE_RANGE_GROUP";
        UVM_NAMES[0x18] = "UVM_DESTROY_RANGE_GROUP";
        UVM_NAMES[0x19] = "UVM_REGISTER_GPU_VASPACE";
        UVM_NAMES[0x1b] = "UVM_REGISTER_CHANNEL";
        UVM_NAMES[0x21] = "UVM_MAP_EXTERNAL_ALLOCATION";
        UVM_NAMES[0x22] = "UVM_FREE";
        UVM_NAMES[0x25] = "UVM_REGISTER_GPU";
        UVM_NAMES[0x27] = "UVM_PAGEABLE_MEM_ACCESS";
        UVM_NAMES[0x33] = "UVM_MIGRATE";
        UVM_NAMES[0x41] = "UVM_MAP_DYNAMIC_PARALLELISM_REGION";   // uvm_ioctl.h UVM_IOCTL_BASE(65)
        UVM_NAMES[0x44] = "UVM_ALLOC_SEMAPHORE_POOL";
        UVM_NAMES[0x48] = "UVM_VALIDATE_VA_RANGE";
        UVM_NAMES[0x49] = "UVM_CREATE_EXTERNAL_RANGE";
        UVM_NAMES[0x4b] = "UVM_MM_INITIALIZE";
    }

    private GpuIoctlRecord record;
    private int effectiveCmd;
    private int escape;          // nr of a resource-manager call on nvidiactl/nvidiaN, else -1
    // the u32 fields as unsigned longs, -1 when absent
    private long allocClass;     // RM_ALLOC hClass
    private ClassKind classKind;
    private boolean hasAllocBytes;
    private long allocBytes;     // bytes an allocation asks for (a u64 the caller chose; RM_ALLOC_MEMORY: limit + 1)
    private long deviceId;       // RM_ALLOC of NV01_DEVICE_0: the GPU index
    private long controlId;      // RM_CONTROL cmd
    private long heapFunction;   // RM_VID_HEAP_CONTROL function
    private long hClient;
    private long hParent;
    private long hObject;
    private String name;

    /** Decodes the record the flyweight points at (kept until the next call). */
    public NvidiaIoctlDecoder decode(GpuIoctlRecord r) {
        record = r;
        boolean xfer = (r.flags() & AG_IOCTL_XFER_UNWRAPPED) != 0;
        effectiveCmd = xfer ? r.innerCmd() : r.cmd();
        escape = isResourceManager(r.role(), effectiveCmd) ? effectiveCmd & 0xff : -1;
        allocClass = -1;
        classKind = ClassKind.CLASS_KIND_UNSPECIFIED;
        hasAllocBytes = false;
        allocBytes = 0;
        deviceId = -1;
        controlId = -1;
        heapFunction = -1;
        hClient = -1;
        hParent = -1;
        hObject = -1;
        name = null;
        switch (escape) {
            case NV_ESC_RM_ALLOC -> {
                allocClass = r.argU32(NvRmAlloc.H_CLASS);
                if (allocClass < 0) {
                    break;
                }
                classKind = allocClass <= 0xffff ? classKind((int) allocClass) : ClassKind.CLASS_KIND_OTHER;
                hClient = r.argU32(NvRmAlloc.H_ROOT);
                hParent = r.argU32(NvRmAlloc.H_OBJECT_PARENT);
                hObject = r.argU32(NvRmAlloc.H_OBJECT_NEW);
                if ((r.flags() & AG_IOCTL_PARAMS_READ) != 0) {
                    if (classKind == ClassKind.CLASS_KIND_DEVICE) {
                        deviceId = r.aux0() & 0xffff_ffffL;
                    } else if (classKind == ClassKind.CLASS_KIND_MEMORY) {
                        hasAllocBytes = true;
                        allocBytes = r.aux1();
                    }
                }
            }
            case NV_ESC_RM_CONTROL -> {
                controlId = r.argU32(NvRmControl.CMD);
                if (controlId >= 0) {
                    hClient = r.argU32(NvRmControl.H_CLIENT);
                    hObject = r.argU32(NvRmControl.H_OBJECT);
                }
            }
            case NV_ESC_RM_FREE -> {
                if (r.argU32(NvRmFree.H_OBJECT_OLD) >= 0) {
                    hClient = r.argU32(NvRmFree.H_ROOT);
                    hParent = r.argU32(NvRmFree.H_OBJECT_PARENT);
                    hObject = r.argU32(NvRmFree.H_OBJECT_OLD);
                }
            }
            case NV_ESC_RM_ALLOC_MEMORY -> {
                // Driver 580 never uses RM_VID_HEAP_CONTROL: CUDA's memory comes from RM_ALLOC of
                // the memory classes and from here (NVOS02 + fd), whose limit is the last byte.
                if (NvRmAllocMemory.LIMIT + 8 <= r.argLength()) {
                    hasAllocBytes = true;
                    allocBytes = r.argU64(NvRmAllocMemory.LIMIT) + 1;   // u64: a limit of 2^64-1 asks for nothing
                    hClient = r.argU32(NvRmAllocMemory.H_ROOT);
                    hParent = r.argU32(NvRmAllocMemory.H_OBJECT_PARENT);
                    hObject = r.argU32(NvRmAllocMemory.H_OBJECT_NEW);
                }
            }
            case NV_ESC_RM_VID_HEAP_CONTROL -> {
                heapFunction = r.argU32(NVOS32_FUNCTION_OFFSET);
                if (heapFunction == NVOS32_FUNCTION_ALLOC_SIZE && NVOS32_ALLOC_SIZE_OFFSET + 8 <= r.argLength()) {
                    hasAllocBytes = true;
                    allocBytes = r.argU64(NVOS32_ALLOC_SIZE_OFFSET);
                }
            }
            default -> {
            }
        }
        return this;
    }

    /** The call as the driver dispatches it: IOCTL_XFER_CMD unwrapped. */
    public int effectiveCmd() { return effectiveCmd; }
    public boolean hasClass() { return allocClass >= 0; }
    /** RM_ALLOC's hClass, unsigned (valid when {@link #hasClass()}). */
    public long allocClass() { return allocClass; }
    public ClassKind classKind() { return classKind; }
    /** An RM_ALLOC of a compute class: a CUDA (or other compute) context now exists on the GPU. */
    public boolean computeContext() { return classKind == ClassKind.CLASS_KIND_COMPUTE; }
    /** Whether the call asks for memory: RM_ALLOC of a memory class, RM_ALLOC_MEMORY, RM_VID_HEAP_CONTROL ALLOC_SIZE. */
    public boolean hasAllocBytes() { return hasAllocBytes; }
    /** The bytes asked for, as the caller wrote them (a u64: negative as a long when absurdly large). */
    public long allocBytes() { return allocBytes; }
    /** RM_CONTROL's control id (class << 16 | category << 8 | index), or -1. */
    public long controlId() { return controlId; }

    /** The call's name: RM_ALLOC, UVM_REGISTER_CHANNEL, ... (computed on first use). */
    public String name() {
        if (name == null) {
            name = name(record.role(), effectiveCmd);
        }
        return name;
    }

    /** Fills the ioctl part of a GPU event. */
    public GpuIoctl.Builder toProto(GpuIoctl.Builder out) {
        GpuIoctlRecord r = record;
        out.setFd(r.fd())
                .setCmd(r.cmd())
                .setInnerCmd(r.innerCmd())
                .setViaXfer((r.flags() & AG_IOCTL_XFER_UNWRAPPED) != 0)
                .setName(name())
                .setArgUnreadable((r.flags() & AG_IOCTL_ARG_UNREADABLE) != 0)
                .setVerdict(Verdicts.toProto(r.verdict()));
        if (hasClass()) {
            out.setAllocClass((int) allocClass).setClassKind(classKind).setClassName(className((int) allocClass))
                    .setComputeContext(computeContext());
        }
        if (controlId >= 0) {
            out.setControlId((int) controlId);
        }
        if (heapFunction >= 0) {
            out.setHeapFunction((int) heapFunction);
        }
        if (deviceId >= 0) {
            out.setDeviceId((int) deviceId);
        }
        if (hasAllocBytes) {
            out.setAllocSizeBytes(allocBytes);
        }
        if (hClient >= 0) {
            out.setHClient((int) hClient);
        }
        if (hParent >= 0) {
            out.setHParent((int) hParent);
        }
        if (hObject >= 0) {
            out.setHObject((int) hObject);
        }
        return out;
    }

    /** A call on nvidiactl or nvidiaN of type 'F' (uvm commands are plain integers). */
    private static boolean isResourceManager(int role, int cmd) {
        return role != AG_DEV_UVM && role != AG_DEV_UVM_TOOLS && ((cmd >>> 8) & 0xff) == NV_IOCTL_MAGIC;
    }

    /** Name of an ioctl cmd on a device of the given role. */
    public static String name(int role, int cmd) {
        if (role == AG_DEV_UVM || role == AG_DEV_UVM_TOOLS) {
            if (cmd == NV_UVM_INITIALIZE) {
                return "UVM_INITIALIZE";
            }
            if (cmd == NV_UVM_DEINITIALIZE) {
                return "UVM_DEINITIALIZE";
            }
            String name = cmd >= 0 && cmd < UVM_NAMES.length ? UVM_NAMES[cmd] : null;
            return name != null ? name : String.format("UVM_0x%x", cmd);
        }
        if (role == AG_DEV_MODESET) {
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
            // NV01_ROOT (0): how CUDA 13 and NVML allocate their client on driver 580; 0x41 elsewhere
            case 0x0, 0x1, 0x41: return ClassKind.CLASS_KIND_CLIENT;
            case 0x80: return ClassKind.CLASS_KIND_DEVICE;
            case 0x2080: return ClassKind.CLASS_KIND_SUBDEVICE;
            case NV01_MEMORY_LOCAL_USER, NV01_MEMORY_SYSTEM: return ClassKind.CLASS_KIND_MEMORY;
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
            if (low == NV_COMPUTE_CLASS_LOW_BYTE && hClass >= NV_COMPUTE_CLASS_MIN) {
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
            case 0x0 -> "NV01_ROOT";
            case 0x1 -> "NV01_ROOT_NON_PRIV";
            case 0x41 -> "NV01_ROOT_CLIENT";
            case 0x71 -> "NV01_MEMORY_SYSTEM_OS_DESCRIPTOR";
            case 0xde -> "RM_USER_SHARED_DATA";
            case 0x2081 -> "NV2081_BINAPI";
            case 0x503c -> "NV50_THIRD_PARTY_P2P";
            case 0x50a0 -> "NV50_MEMORY_VIRTUAL";
            case 0x83de -> "GT200_DEBUGGER";
            case 0x90e6 -> "GF100_SUBDEVICE_MASTER";
            case 0xc639 -> "AMPERE_SMC_CONFIG_SESSION";
            case 0xc640 -> "AMPERE_SMC_MONITOR_SESSION";
            case 0xcb33 -> "NV_CONFIDENTIAL_COMPUTE";
            case 0x80 -> "NV01_DEVICE_0";
            case 0x2080 -> "NV20_SUBDEVICE_0";
            case NV01_MEMORY_LOCAL_USER -> "NV01_MEMORY_LOCAL_USER";
            case NV01_MEMORY_SYSTEM -> "NV01_MEMORY_SYSTEM";
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

    /**
     * The inverse of decoding, for recorded events: writes the parameter struct a call's
     * decoded fields came from into the record's arg (and RM_ALLOC's params into aux0/aux1);
     * returns the bytes of arg it covers.
     */
    static int writeParams(GpuIoctl io, int role, GpuIoctlRecord r) {
        int cmd = io.getViaXfer() ? io.getInnerCmd() : io.getCmd();
        if (!isResourceManager(role, cmd)) {
            return 0;
        }
        switch (cmd & 0xff) {
            case NV_ESC_RM_ALLOC -> {
                r.putArgU32(NvRmAlloc.H_ROOT, io.getHClient());
                r.putArgU32(NvRmAlloc.H_OBJECT_PARENT, io.getHParent());
                r.putArgU32(NvRmAlloc.H_OBJECT_NEW, io.getHObject());
                r.putArgU32(NvRmAlloc.H_CLASS, io.getAllocClass());
                r.putArgU64(NvRmAlloc.P_ALLOC_PARMS, 0x7000_0000L);   // a plausible user pointer
                r.putAllocParams(io.getDeviceId(), io.getAllocSizeBytes());
                return 48;   // NVOS64 on drivers >= 535
            }
            case NV_ESC_RM_CONTROL -> {
                r.putArgU32(NvRmControl.H_CLIENT, io.getHClient());
                r.putArgU32(NvRmControl.H_OBJECT, io.getHObject());
                r.putArgU32(NvRmControl.CMD, io.getControlId());
                return (int) NvRmControl.SIZEOF;
            }
            case NV_ESC_RM_FREE -> {
                r.putArgU32(NvRmFree.H_ROOT, io.getHClient());
                r.putArgU32(NvRmFree.H_OBJECT_PARENT, io.getHParent());
                r.putArgU32(NvRmFree.H_OBJECT_OLD, io.getHObject());
                return (int) NvRmFree.SIZEOF;
            }
            case NV_ESC_RM_ALLOC_MEMORY -> {
                r.putArgU32(NvRmAllocMemory.H_ROOT, io.getHClient());
                r.putArgU32(NvRmAllocMemory.H_OBJECT_PARENT, io.getHParent());
                r.putArgU32(NvRmAllocMemory.H_OBJECT_NEW, io.getHObject());
                r.putArgU64(NvRmAllocMemory.LIMIT, io.getAllocSizeBytes() - 1);
                return (int) NvRmAllocMemory.SIZEOF;
            }
            case NV_ESC_RM_VID_HEAP_CONTROL -> {
                r.putArgU32(NVOS32_FUNCTION_OFFSET, io.getHeapFunction());
                r.putArgU64(NVOS32_ALLOC_SIZE_OFFSET, io.getAllocSizeBytes());
                return 184;   // sizeof(NVOS32_PARAMETERS)
            }
            default -> {
                return 0;
            }
        }
    }
}
