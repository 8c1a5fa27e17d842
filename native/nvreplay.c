// SPDX-License-Identifier: MIT
/*
 * nvreplay - issue the NVIDIA driver ioctls of a CUDA program (cuInit,
 * context creation, cuMemAlloc) or of nvidia-smi on given device paths,
 * with the real ioctl numbers and argument layouts. On stand-in nodes
 * (mknod'ed /dev/null and friends) every ioctl fails with ENOTTY, but a
 * tracer at sys_enter_ioctl still sees each call and its argument struct.
 * One table, calls[], drives both --list and a real run.
 * Facts: docs/EVENTS.md (GpuIoctl) and the NVIDIA numbers of bpf/agentguard.h.
 *
 * --trace FILE replays a recorded trace instead (the LD_PRELOAD tracer's format,
 * one ioctl a line: PID FD MAJOR:MINOR REQUEST RET ERRNO HEX): every call the
 * real program made, with its recorded parameter bytes, on the stand-in nodes.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* /dev/nvidiactl and /dev/nvidiaN: _IOWR('F', nr, sizeof(arg)) */
#define NV_IOCTL_MAGIC			'F'
#define NV_CMD(nr, size)		((uint32_t)_IOC(_IOC_READ | _IOC_WRITE, NV_IOCTL_MAGIC, (nr), (size)))
#define NV_ESC_RM_FREE			0x29
#define NV_ESC_RM_CONTROL		0x2a
#define NV_ESC_RM_ALLOC			0x2b
#define NV_ESC_RM_VID_HEAP_CONTROL	0x4a
#define NV_ESC_RM_MAP_MEMORY		0x4e
#define NV_ESC_CARD_INFO		0xc8
#define NV_ESC_REGISTER_FD		0xc9
#define NV_ESC_ALLOC_OS_EVENT		0xce
#define NV_ESC_CHECK_VERSION_STR	0xd2
#define NV_ESC_IOCTL_XFER_CMD		0xd3
#define NV_ESC_ATTACH_GPUS_TO_FD	0xd4
#define NV_ESC_SYS_PARAMS		0xd6
#define NV_ESC_NUMA_INFO		0xd7

/* /dev/nvidia-uvm: plain integers, not _IOC-encoded */
#define UVM_INITIALIZE			0x30000001
#define UVM_CREATE_RANGE_GROUP		0x17
#define UVM_REGISTER_GPU_VASPACE	0x19
#define UVM_REGISTER_CHANNEL		0x1b
#define UVM_MAP_EXTERNAL_ALLOCATION	0x21
#define UVM_REGISTER_GPU		0x25
#define UVM_PAGEABLE_MEM_ACCESS		0x27
#define UVM_ALLOC_SEMAPHORE_POOL	0x44
#define UVM_CREATE_EXTERNAL_RANGE	0x49
#define UVM_MM_INITIALIZE		0x4b

#define CARD_INFO_ENTRY_SIZE	72
#define CARD_INFO_ENTRIES	32	/* CUDA asks about up to 32 GPUs at once */
/* nv_ioctl_numa_info_t: nid, status, 3 u64, use_auto_online, then 64 u64
 * offline addresses and a count, 8-aligned: 40 + 520 = 560 (0x230), as in
 * the 0xc23046d7 that CUDA 12 issues on 5xx drivers. */
#define NUMA_INFO_SIZE		560
#define NV_VERSION_STRING_LEN	64
#define NVOS32_DATA_SIZE	144	/* the data union: 40 + 144 = 184 bytes */
#define NVOS32_FUNCTION_ALLOC_SIZE 2
#define ALLOC_MEM_SIZE_OFF	64	/* NV_MEMORY_ALLOCATION_PARAMS.size */
#define UVM_UUID_SIZE		16

/* Classes (hClass) */
#define NV01_ROOT_CLIENT	0x41
#define NV01_DEVICE_0		0x80
#define NV20_SUBDEVICE_0	0x2080
#define NV01_MEMORY_SYSTEM	0x3e
#define NV01_MEMORY_LOCAL_USER	0x40	/* video memory */
#define NV01_EVENT_OS_EVENT	0x79
#define FERMI_VASPACE_A		0x90f1
#define KEPLER_CHANNEL_GROUP_A	0xa06c
#define FERMI_CONTEXT_SHARE_A	0x9067
#define TURING_USERMODE_A	0xc461
#define HOPPER_USERMODE_A	0xc661
#define AMPERE_CHANNEL_GPFIFO_A	0xc56f
#define AMPERE_COMPUTE_A	0xc6c0	/* A100 */
#define AMPERE_DMA_COPY_A	0xc6b5
#define HOPPER_CHANNEL_GPFIFO_A	0xc86f
#define HOPPER_COMPUTE_A	0xcbc0
#define HOPPER_DMA_COPY_A	0xc8b5

/* RM controls: class << 16 | category << 8 | index */
#define NV0000_CTRL_CMD_SYSTEM_GET_BUILD_VERSION	0x00000101
#define NV0000_CTRL_CMD_GPU_GET_ATTACHED_IDS		0x00000201
#define NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2		0x00000205
#define NV0000_CTRL_CMD_GPU_GET_PROBED_IDS		0x00000214
#define NV0000_CTRL_CMD_GPU_ATTACH_IDS			0x00000215
#define NV0000_CTRL_CMD_GPU_GET_PCI_INFO		0x0000021b
#define NV0080_CTRL_CMD_GPU_GET_CLASSLIST_V2		0x00800292
#define NV2080_CTRL_CMD_GPU_GET_INFO_V2			0x20800102
#define NV2080_CTRL_CMD_GPU_GET_GID_INFO		0x2080014a
#define NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN	0xc36f0108
#define NVA06C_CTRL_CMD_GPFIFO_SCHEDULE			0xa06c0101

/* What a user-mode driver would choose */
#define NV_VERSION_STRING	"580.95.05"
#define CLIENT_HANDLE		0xc1d00001u
#define OBJECT_HANDLE_BASE	0x5c000000u	/* + enum handle */
#define GPU_ID			0x100u		/* RM gpuId of the GPU on PCI bus 1 */
#define GPU_INDEX_MAX		247		/* /dev/nvidia0 .. /dev/nvidia247 */
#define RING_BYTES		0x200000ull	/* GPFIFO + pushbuffer */
#define VIDMEM_BYTES		0x200000ull	/* the 2 MiB class 0x40 alloc */
#define SEMA_POOL_BYTES		0x10000ull
#define RING_VA			0x204600000ull	/* CUDA-style device VAs */
#define SEMA_VA			0x205000000ull
#define USER_VA			0x302000000ull
#define DEFAULT_ALLOC_BYTES	67108864ull	/* 64 MiB */
#define ALLOC_PARAMS_SIZE	128	/* what pAllocParms points to */
#define CTRL_PARAMS_SIZE	64	/* what RM_CONTROL params points to */
/* UVM commands carry no size: the driver copies sizeof(its struct). The
 * arena covers any, up to NVIDIA's 16 KiB ioctl argument cap. */
#define ARG_ARENA_SIZE		16384

/* Argument layouts (NVIDIA's open kernel modules: NVOS21/NVOS64, NVOS54, NVOS00, NVOS32), checked below */
struct nvos00 { uint32_t hRoot, hObjectParent, hObjectOld, status; };
struct nvos54 { uint32_t hClient, hObject, cmd, flags; uint64_t params; uint32_t paramsSize, status; };
struct nvos64 {				/* RM_ALLOC, drivers >= 535 */
	uint32_t hRoot, hObjectParent, hObjectNew, hClass;
	uint64_t pAllocParms, pRightsRequested;
	uint32_t paramsSize, flags, status, pad;
};
struct nvos32_alloc_size {
	uint32_t owner, hMemory, type, flags, attr, format, comprCovg, zcullCovg;
	uint32_t partitionStride, width, height, pad;
	uint64_t size;
};
struct nvos32 {				/* RM_VID_HEAP_CONTROL */
	uint32_t hRoot, hObjectParent, function, hVASpace, ivcHeapNumber, status;
	uint64_t total, free;
	union { struct nvos32_alloc_size alloc_size; uint8_t raw[NVOS32_DATA_SIZE]; } data;
};
struct nvos33_fd {			/* RM_MAP_MEMORY: NVOS33 + mmap fd */
	uint32_t hClient, hDevice, hMemory, pad;
	uint64_t offset, length, pLinearAddress;
	uint32_t status, flags;
	int32_t fd, pad2;
};
struct rm_api_version { uint32_t cmd, reply; char versionString[NV_VERSION_STRING_LEN]; };
struct alloc_os_event { uint32_t hClient, hDevice, fd, status; };
struct xfer_cmd { uint32_t cmd, size; uint64_t ptr; };
struct uvm_register_gpu {
	uint8_t uuid[UVM_UUID_SIZE];
	uint32_t numaEnabled;
	int32_t numaNodeId, rmCtrlFd;
	uint32_t hClient, hSmcPartRef, rmStatus;
};
struct uvm_register_obj {		/* REGISTER_GPU_VASPACE, REGISTER_CHANNEL */
	uint8_t uuid[UVM_UUID_SIZE];
	int32_t rmCtrlFd;
	uint32_t hClient, hObject, pad;
	uint64_t base, length;		/* channel only */
};
struct uvm_range {			/* EXTERNAL_RANGE, MAP_EXTERNAL, SEMA_POOL */
	uint64_t base, length, offset;
	uint8_t uuid[UVM_UUID_SIZE];	/* MAP_EXTERNAL perGpuAttributes[0] */
};
union alloc_params {
	uint32_t hClient;		/* NV01_ROOT_CLIENT */
	uint32_t deviceId;		/* NV01_DEVICE_0 */
	struct { uint8_t pad[ALLOC_MEM_SIZE_OFF]; uint64_t size; } mem;	/* 0x40, 0x3e */
	uint8_t raw[ALLOC_PARAMS_SIZE];
};
_Static_assert(offsetof(struct nvos64, hClass) == 12 && sizeof(struct nvos64) == 48, "NVOS64");
_Static_assert(sizeof(struct nvos54) == 32 && sizeof(struct nvos00) == 16, "NVOS54, NVOS00");
_Static_assert(offsetof(struct nvos32, function) == 8 && sizeof(struct nvos32) == 184, "NVOS32");
_Static_assert(offsetof(struct nvos32, data.alloc_size.size) == 88, "NVOS32 size");
_Static_assert(sizeof(struct nvos33_fd) == 56 && sizeof(struct rm_api_version) == 72, "sizes");
_Static_assert(offsetof(struct uvm_register_gpu, rmCtrlFd) == 24, "REGISTER_GPU");
_Static_assert(offsetof(struct uvm_register_obj, hObject) == 24, "REGISTER_CHANNEL");
_Static_assert(sizeof(NV_VERSION_STRING) < NV_VERSION_STRING_LEN, "version string");

static union {
	struct nvos00 free;
	struct nvos54 ctrl;
	struct nvos64 alloc;
	struct nvos32 heap;
	struct nvos33_fd map;
	struct rm_api_version version;
	struct alloc_os_event event;
	struct xfer_cmd xfer;
	uint32_t gpu_ids[1];		/* ATTACH_GPUS_TO_FD: one GPU */
	int32_t fd;			/* REGISTER_FD, UVM_MM_INITIALIZE */
	struct uvm_register_gpu reg_gpu;
	struct uvm_register_obj reg_obj;
	struct uvm_range range;
	uint8_t raw[ARG_ARENA_SIZE];
} arg;
static union alloc_params params;
static struct nvos54 xfer_inner;
static uint8_t ctrl_params[CTRL_PARAMS_SIZE];
static const uint8_t gpu_uuid[UVM_UUID_SIZE] = "nvreplay-gpu-id";

#define RM_CONTROL_CMD	NV_CMD(NV_ESC_RM_CONTROL, sizeof(struct nvos54))

enum dev { DEV_CTL, DEV_GPU, DEV_UVM, DEV_COUNT };
#define FD_SLOTS	2	/* CUDA opens nvidia-uvm twice */
static const char *const dev_names[DEV_COUNT] = { "ctl", "gpu", "uvm" };
enum mode { M_CUDA = 1, M_SMI = 2, M_BOTH = M_CUDA | M_SMI };

/* How each call's argument is built */
enum kind {
	K_OPEN, K_CHECK_VERSION_STR, K_SYS_PARAMS, K_CARD_INFO, K_ATTACH_GPUS_TO_FD,
	K_REGISTER_FD, K_NUMA_INFO, K_RM_ALLOC, K_RM_CONTROL, K_IOCTL_XFER_CMD,
	K_RM_FREE, K_RM_VID_HEAP_CONTROL, K_RM_MAP_MEMORY, K_ALLOC_OS_EVENT,
	K_UVM_INITIALIZE, K_UVM_MM_INITIALIZE, K_UVM_PAGEABLE_MEM_ACCESS,
	K_UVM_REGISTER_GPU, K_UVM_REGISTER_GPU_VASPACE, K_UVM_CREATE_RANGE_GROUP,
	K_UVM_CREATE_EXTERNAL_RANGE, K_UVM_MAP_EXTERNAL_ALLOCATION,
	K_UVM_REGISTER_CHANNEL, K_UVM_ALLOC_SEMAPHORE_POOL,
};

/* RM objects: H_CLIENT is CLIENT_HANDLE, the others OBJECT_HANDLE_BASE + n */
enum handle {
	H_NONE, H_CLIENT, H_DEVICE, H_SUBDEV, H_USERMODE, H_VASPACE, H_CHGROUP,
	H_SUBCTX, H_RING, H_EVENT, H_CHANNEL, H_COMPUTE, H_COPY_CHANNEL, H_COPY,
	H_USER_MEM, H_VIDMEM,
};

/* Classes that change with the GPU architecture */
enum arch_class { AC_NONE, AC_USERMODE, AC_CHANNEL, AC_COMPUTE, AC_COPY, AC_COUNT };
static const struct arch { const char *name; uint32_t cls[AC_COUNT]; } arches[] = {
	{ "hopper", { 0, HOPPER_USERMODE_A, HOPPER_CHANNEL_GPFIFO_A, HOPPER_COMPUTE_A, HOPPER_DMA_COPY_A } },
	{ "ampere", { 0, TURING_USERMODE_A, AMPERE_CHANNEL_GPFIFO_A, AMPERE_COMPUTE_A, AMPERE_DMA_COPY_A } },
};
#define N_ARCHES	(sizeof(arches) / sizeof(arches[0]))
#define SIZE_USER	UINT64_MAX	/* stands for --alloc-bytes */

struct call {
	const char *name;
	uint32_t cmd;
	uint8_t kind, dev, slot, modes;
	uint8_t parent, obj;		/* enum handle */
	uint8_t acls;			/* enum arch_class; AC_NONE: cls */
	uint32_t cls, ctrl;
	uint64_t size, va;		/* memory size, UVM range base */
};

/* Name, command and builder of one call, from one token */
#define NVE(esc, sz)	.name = #esc, .cmd = NV_CMD(NV_ESC_##esc, sz), .kind = K_##esc
#define OPEN(d, s, m)		{ .kind = K_OPEN, .dev = d, .slot = s, .modes = m }
#define NVCALL(e, sz, d, m)	{ NVE(e, sz), .dev = d, .modes = m }
#define ALLOC(m, p, o, c)	{ NVE(RM_ALLOC, sizeof(struct nvos64)), .modes = m, .parent = p, .obj = o, .cls = c }
#define ALLOC_ARCH(p, o, a)	{ NVE(RM_ALLOC, sizeof(struct nvos64)), .modes = M_CUDA, .parent = p, .obj = o, .acls = a }
#define RM_CTRL(m, o, id)	{ NVE(RM_CONTROL, sizeof(struct nvos54)), .modes = m, .obj = o, .ctrl = id }
#define XFER_CTRL(m, o, id)	{ NVE(IOCTL_XFER_CMD, sizeof(struct xfer_cmd)), .modes = m, .obj = o, .ctrl = id }
#define VID_HEAP(o, s)		{ NVE(RM_VID_HEAP_CONTROL, sizeof(struct nvos32)), .modes = M_CUDA, .parent = H_DEVICE, .obj = o, .size = s }
#define MAP(p, o)		{ NVE(RM_MAP_MEMORY, sizeof(struct nvos33_fd)), .modes = M_CUDA, .parent = p, .obj = o }
#define UVM(u, s, o, sz, base)	{ .name = #u, .cmd = u, .kind = K_##u, .dev = DEV_UVM, \
				  .slot = s, .modes = M_CUDA, .obj = o, .size = sz, .va = base }

/* What a CUDA program issues, from public traces of cuInit, context creation and cuMemAlloc. RM calls go to the ctl fd
 * (DEV_CTL is 0). M_SMI marks what nvidia-smi does. */
static const struct call calls[] = {
	/* 1: control node, version handshake, GPU list */
	OPEN(DEV_CTL, 0, M_BOTH),
	NVCALL(CHECK_VERSION_STR, sizeof(struct rm_api_version), DEV_CTL, M_BOTH),
	NVCALL(SYS_PARAMS, sizeof(uint64_t), DEV_CTL, M_BOTH),	/* memblock_size */
	NVCALL(CARD_INFO, CARD_INFO_ENTRY_SIZE * CARD_INFO_ENTRIES, DEV_CTL, M_BOTH),
	/* 2: the client, and what it asks about the system */
	ALLOC(M_BOTH, H_CLIENT, H_CLIENT, NV01_ROOT_CLIENT),
	RM_CTRL(M_BOTH, H_CLIENT, NV0000_CTRL_CMD_SYSTEM_GET_BUILD_VERSION),
	RM_CTRL(M_BOTH, H_CLIENT, NV0000_CTRL_CMD_GPU_GET_PROBED_IDS),
	RM_CTRL(M_BOTH, H_CLIENT, NV0000_CTRL_CMD_GPU_GET_PCI_INFO),
	RM_CTRL(M_BOTH, H_CLIENT, NV0000_CTRL_CMD_GPU_ATTACH_IDS),
	RM_CTRL(M_BOTH, H_CLIENT, NV0000_CTRL_CMD_GPU_GET_ATTACHED_IDS),
	/* newer drivers wrap controls in XFER_CMD: exercise that path */
	XFER_CTRL(M_BOTH, H_CLIENT, NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2),
	/* bind the attached GPU to the ctl fd */
	NVCALL(ATTACH_GPUS_TO_FD, sizeof(arg.gpu_ids), DEV_CTL, M_BOTH),
	/* 3: the GPU node */
	OPEN(DEV_GPU, 0, M_BOTH),
	NVCALL(REGISTER_FD, sizeof(arg.fd), DEV_GPU, M_BOTH),
	NVCALL(NUMA_INFO, NUMA_INFO_SIZE, DEV_GPU, M_CUDA),
	/* 4: device and subdevice */
	ALLOC(M_BOTH, H_CLIENT, H_DEVICE, NV01_DEVICE_0),
	ALLOC(M_BOTH, H_DEVICE, H_SUBDEV, NV20_SUBDEVICE_0),
	RM_CTRL(M_BOTH, H_DEVICE, NV0080_CTRL_CMD_GPU_GET_CLASSLIST_V2),
	RM_CTRL(M_BOTH, H_SUBDEV, NV2080_CTRL_CMD_GPU_GET_INFO_V2),
	RM_CTRL(M_BOTH, H_SUBDEV, NV2080_CTRL_CMD_GPU_GET_GID_INFO),
	/* nvidia-smi: telemetry queries on the subdevice, then it is done */
	RM_CTRL(M_SMI, H_SUBDEV, NV2080_CTRL_CMD_GPU_GET_INFO_V2),
	RM_CTRL(M_SMI, H_SUBDEV, NV2080_CTRL_CMD_GPU_GET_GID_INFO),
	RM_CTRL(M_SMI, H_SUBDEV, NV2080_CTRL_CMD_GPU_GET_INFO_V2),
	/* 5: UVM on two fds; the second is bound to the first */
	OPEN(DEV_UVM, 0, M_CUDA), OPEN(DEV_UVM, 1, M_CUDA),
	UVM(UVM_INITIALIZE, 0, H_NONE, 0, 0),
	UVM(UVM_MM_INITIALIZE, 1, H_NONE, 0, 0),
	UVM(UVM_PAGEABLE_MEM_ACCESS, 0, H_NONE, 0, 0),
	/* 6: doorbell page */
	ALLOC_ARCH(H_SUBDEV, H_USERMODE, AC_USERMODE),
	MAP(H_SUBDEV, H_USERMODE),
	UVM(UVM_REGISTER_GPU, 0, H_NONE, 0, 0),
	/* 7: GPU address space */
	ALLOC(M_CUDA, H_DEVICE, H_VASPACE, FERMI_VASPACE_A),
	UVM(UVM_REGISTER_GPU_VASPACE, 0, H_VASPACE, 0, 0),
	UVM(UVM_CREATE_RANGE_GROUP, 0, H_NONE, 0, 0),
	/* 8: channel group, subcontext, ring memory, error event */
	ALLOC(M_CUDA, H_DEVICE, H_CHGROUP, KEPLER_CHANNEL_GROUP_A),
	ALLOC(M_CUDA, H_CHGROUP, H_SUBCTX, FERMI_CONTEXT_SHARE_A),
	VID_HEAP(H_RING, RING_BYTES),
	MAP(H_DEVICE, H_RING),
	UVM(UVM_CREATE_EXTERNAL_RANGE, 0, H_NONE, RING_BYTES, RING_VA),
	UVM(UVM_MAP_EXTERNAL_ALLOCATION, 0, H_NONE, RING_BYTES, RING_VA),
	NVCALL(ALLOC_OS_EVENT, sizeof(struct alloc_os_event), DEV_CTL, M_CUDA),
	ALLOC(M_CUDA, H_SUBDEV, H_EVENT, NV01_EVENT_OS_EVENT),
	/* 9: compute channel (the context now exists), then the copy engine */
	ALLOC_ARCH(H_CHGROUP, H_CHANNEL, AC_CHANNEL),
	ALLOC_ARCH(H_CHANNEL, H_COMPUTE, AC_COMPUTE),
	RM_CTRL(M_CUDA, H_CHANNEL, NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN),
	UVM(UVM_REGISTER_CHANNEL, 0, H_CHANNEL, RING_BYTES, RING_VA),
	ALLOC_ARCH(H_CHGROUP, H_COPY_CHANNEL, AC_CHANNEL),
	ALLOC_ARCH(H_COPY_CHANNEL, H_COPY, AC_COPY),
	RM_CTRL(M_CUDA, H_CHGROUP, NVA06C_CTRL_CMD_GPFIFO_SCHEDULE),
	UVM(UVM_ALLOC_SEMAPHORE_POOL, 0, H_NONE, SEMA_POOL_BYTES, SEMA_VA),
	/* 10: cuMemAlloc, plus one RM_ALLOC of video memory */
	VID_HEAP(H_USER_MEM, SIZE_USER),
	{ NVE(RM_ALLOC, sizeof(struct nvos64)), .modes = M_CUDA, .parent = H_DEVICE,
	  .obj = H_VIDMEM, .cls = NV01_MEMORY_LOCAL_USER, .size = VIDMEM_BYTES },
	UVM(UVM_CREATE_EXTERNAL_RANGE, 0, H_NONE, SIZE_USER, USER_VA),
	UVM(UVM_MAP_EXTERNAL_ALLOCATION, 0, H_NONE, SIZE_USER, USER_VA),
	/* 11: teardown; freeing the client frees everything under it */
	{ NVE(RM_FREE, sizeof(struct nvos00)), .modes = M_BOTH, .obj = H_CLIENT },
};

struct opts {
	const char *path[DEV_COUNT];
	const struct arch *arch;
	int mode, verbose, list;
	uint64_t alloc_bytes;
	uint32_t gpu_index;
};

static uint32_t handle(int h)
{
	if (h == H_NONE)
		return 0;
	return h == H_CLIENT ? CLIENT_HANDLE : OBJECT_HANDLE_BASE + (uint32_t)(h - H_CLIENT);
}

static uint32_t call_class(const struct call *c, const struct opts *o)
{
	return c->acls != AC_NONE ? o->arch->cls[c->acls] : c->cls;
}

static uint64_t call_size(const struct call *c, const struct opts *o)
{
	return c->size == SIZE_USER ? o->alloc_bytes : c->size;
}

static int is_mem_class(uint32_t cls)
{
	return cls == NV01_MEMORY_LOCAL_USER || cls == NV01_MEMORY_SYSTEM;
}

/* One call as key=value tokens, for --list and -v */
static void describe(FILE *f, const struct call *c, const struct opts *o)
{
	uint32_t cls = call_class(c, o);

	if (c->kind == K_OPEN) {
		fprintf(f, "open dev=%s", dev_names[c->dev]);
		return;
	}
	fprintf(f, "ioctl dev=%s fdslot=%d cmd=0x%x name=%s",
		dev_names[c->dev], c->slot, c->cmd, c->name);
	if (c->kind == K_IOCTL_XFER_CMD)
		fprintf(f, " inner=0x%x", RM_CONTROL_CMD);
	if (c->kind == K_RM_ALLOC)
		fprintf(f, " class=0x%x", cls);
	if (c->kind == K_RM_CONTROL || c->kind == K_IOCTL_XFER_CMD)
		fprintf(f, " control=0x%x", c->ctrl);
	if (c->kind == K_RM_VID_HEAP_CONTROL)
		fprintf(f, " function=%d", NVOS32_FUNCTION_ALLOC_SIZE);
	if (c->kind == K_RM_VID_HEAP_CONTROL || (c->kind == K_RM_ALLOC && is_mem_class(cls)))
		fprintf(f, " size=%llu", (unsigned long long)call_size(c, o));
}

static uint64_t ptr64(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static struct nvos54 control(const struct call *c)
{
	return (struct nvos54){ .hClient = CLIENT_HANDLE, .hObject = handle(c->obj),
		.cmd = c->ctrl, .params = ptr64(ctrl_params), .paramsSize = sizeof(ctrl_params) };
}

/* Build the argument of call c in arg; all else stays zero */
static void build(const struct call *c, const struct opts *o, int fds[DEV_COUNT][FD_SLOTS])
{
	int ctl = fds[DEV_CTL][0];
	uint32_t cls = call_class(c, o);
	uint64_t size = call_size(c, o);

	memset(&arg, 0, sizeof(arg));
	memset(&params, 0, sizeof(params));
	memset(ctrl_params, 0, sizeof(ctrl_params));
	switch (c->kind) {
	case K_CHECK_VERSION_STR:
		memcpy(arg.version.versionString, NV_VERSION_STRING, sizeof(NV_VERSION_STRING));
		break;
	case K_ATTACH_GPUS_TO_FD:
		arg.gpu_ids[0] = GPU_ID;
		break;
	case K_REGISTER_FD:
		arg.fd = ctl;
		break;
	case K_RM_ALLOC:
		arg.alloc = (struct nvos64){ .hRoot = CLIENT_HANDLE,
			.hObjectParent = handle(c->parent), .hObjectNew = handle(c->obj),
			.hClass = cls, .pAllocParms = ptr64(&params), .paramsSize = sizeof(params) };
		if (cls == NV01_ROOT_CLIENT)
			params.hClient = CLIENT_HANDLE;
		else if (cls == NV01_DEVICE_0)
			params.deviceId = o->gpu_index;
		else if (is_mem_class(cls))
			params.mem.size = size;
		break;
	case K_RM_CONTROL:
		arg.ctrl = control(c);
		break;
	case K_IOCTL_XFER_CMD:
		xfer_inner = control(c);
		arg.xfer = (struct xfer_cmd){ .cmd = RM_CONTROL_CMD,
			.size = sizeof(xfer_inner), .ptr = ptr64(&xfer_inner) };
		break;
	case K_RM_FREE:
		arg.free = (struct nvos00){ .hRoot = CLIENT_HANDLE,
			.hObjectParent = handle(c->parent), .hObjectOld = handle(c->obj) };
		break;
	case K_RM_VID_HEAP_CONTROL:
		arg.heap.hRoot = CLIENT_HANDLE;
		arg.heap.hObjectParent = handle(c->parent);
		arg.heap.function = NVOS32_FUNCTION_ALLOC_SIZE;
		arg.heap.data.alloc_size.hMemory = handle(c->obj);
		arg.heap.data.alloc_size.size = size;
		break;
	case K_RM_MAP_MEMORY:
		arg.map = (struct nvos33_fd){ .hClient = CLIENT_HANDLE,
			.hDevice = handle(c->parent), .hMemory = handle(c->obj), .fd = ctl };
		break;
	case K_ALLOC_OS_EVENT:
		arg.event = (struct alloc_os_event){ .hClient = CLIENT_HANDLE,
			.hDevice = handle(H_DEVICE), .fd = (uint32_t)ctl };
		break;
	case K_UVM_MM_INITIALIZE:
		arg.fd = fds[DEV_UVM][0];	/* UVM_MM_INITIALIZE_PARAMS.uvmFd */
		break;
	case K_UVM_REGISTER_GPU:
		memcpy(arg.reg_gpu.uuid, gpu_uuid, UVM_UUID_SIZE);
		arg.reg_gpu.rmCtrlFd = ctl;
		arg.reg_gpu.hClient = CLIENT_HANDLE;
		break;
	case K_UVM_REGISTER_GPU_VASPACE:
	case K_UVM_REGISTER_CHANNEL:
		memcpy(arg.reg_obj.uuid, gpu_uuid, UVM_UUID_SIZE);
		arg.reg_obj.rmCtrlFd = ctl;
		arg.reg_obj.hClient = CLIENT_HANDLE;
		arg.reg_obj.hObject = handle(c->obj);
		arg.reg_obj.base = c->va;
		arg.reg_obj.length = size;
		break;
	case K_UVM_MAP_EXTERNAL_ALLOCATION:
		memcpy(arg.range.uuid, gpu_uuid, UVM_UUID_SIZE);
		/* fall through */
	case K_UVM_CREATE_EXTERNAL_RANGE:
	case K_UVM_ALLOC_SEMAPHORE_POOL:
		arg.range.base = c->va;
		arg.range.length = size;
		break;
	default:	/* the caller passes a zeroed struct */
		break;
	}
}

static const char *errno_name(int e)
{
#define E(x) case x: return #x
	switch (e) {
	E(ENOTTY); E(EINVAL); E(EFAULT); E(EPERM); E(EACCES); E(ENODEV);
	E(ENXIO); E(EIO); E(ENOMEM); E(EBUSY); E(EAGAIN); E(EBADF); E(ENOENT);
	}
#undef E
	return "EOTHER";
}

static int run(const struct opts *o)
{
	int fds[DEV_COUNT][FD_SLOTS];
	int d, s, ret = 0;
	size_t i;

	memset(fds, 0xff, sizeof(fds));	/* every fd -1: not open */
	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		const struct call *c = &calls[i];
		int r, err;

		if (!(c->modes & o->mode))
			continue;
		if (o->list) {
			describe(stdout, c, o);
			putchar('\n');
			continue;
		}
		if (c->kind == K_OPEN) {
			r = fds[c->dev][c->slot] = open(o->path[c->dev], O_RDWR | O_CLOEXEC);
		} else {
			build(c, o, fds);
			r = ioctl(fds[c->dev][c->slot], (unsigned long)c->cmd, &arg);
		}
		err = errno;
		if (o->verbose) {
			describe(stderr, c, o);
			fprintf(stderr, " -> %s\n", r < 0 ? errno_name(err) : "ok");
		}
		if (c->kind == K_OPEN && r < 0) {
			fprintf(stderr, "nvreplay: cannot open %s (--%s): %s\n",
				o->path[c->dev], dev_names[c->dev], strerror(err));
			ret = 1;
			break;
		}
	}
	for (d = 0; d < DEV_COUNT; d++)
		for (s = 0; s < FD_SLOTS; s++)
			if (fds[d][s] >= 0)
				close(fds[d][s]);
	return ret;
}

/* ---- --trace: a recorded program, call for call ------------------------------- */

#define NV_MAJOR		195
#define NV_MINOR_CTL		255
#define TRACE_ARG_BYTES		256	/* parameter bytes kept a line; the tracer records at most 96 */
#define TRACE_LINE_MAX		1024
#define TRACE_ARG_MIN		4096	/* the buffer behind a replayed ioctl: at least a page */
#define TRACE_FDS_MAX		1024	/* distinct (pid, fd) pairs */
#define NV_IOC_TYPE(req)	(((req) >> 8) & 0xff)
#define NV_IOC_NR(req)		((req) & 0xff)
#define NV_IOC_SIZE(req)	(((req) >> 16) & 0x3fff)
/* Parameter fields that are pointers into the recording process; the BPF decoder reads
 * behind some of them (RM_ALLOC's pAllocParms), so they are pointed at a scratch page. */
#define RM_ALLOC_PARAMS_AT	16	/* NVOS21/NVOS64 pAllocParms */
#define RM_ALLOC_RIGHTS_AT	24	/* NVOS64 pRightsRequested */
#define RM_CONTROL_PARAMS_AT	16	/* NVOS54 params */
#define XFER_PTR_AT		8	/* IOCTL_XFER_CMD ptr */
#define NVOS64_SIZE		48

struct trace_call {
	unsigned line;
	int pid, fd, dev;		/* dev: enum dev */
	uint32_t req;
	uint16_t len;			/* recorded parameter bytes; 0: unreadable ("-") */
	uint8_t bytes[TRACE_ARG_BYTES];
};

struct trace {
	struct trace_call *calls;
	size_t n, cap;
	unsigned skipped;		/* lines on other devices (modeset, caps, uvm-tools) */
};

struct trace_opts {
	const char *file;
	const char *path[DEV_COUNT];
	long pid;			/* -1: every pid */
	long uvm_major;			/* -1: any major other than 195 */
	uint64_t repeat, delay_us;
	int keep_going, verbose;
};

static uint8_t trace_arg[ARG_ARENA_SIZE] __attribute__((aligned(4096)));
static uint8_t trace_scratch[TRACE_ARG_MIN] __attribute__((aligned(4096)));

static int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The node a recorded call went to, or -1 for devices the replay has no stand-in for. */
static int trace_dev(unsigned maj, unsigned min, const struct trace_opts *o)
{
	if (maj == NV_MAJOR)
		return min == NV_MINOR_CTL ? DEV_CTL : min <= GPU_INDEX_MAX ? DEV_GPU : -1;
	if (o->uvm_major >= 0 ? maj == (unsigned long)o->uvm_major : 1)
		return min == 0 ? DEV_UVM : -1;
	return -1;
}

/* One line: PID FD MAJOR:MINOR REQUEST RET ERRNO HEX. 1: a call, 0: skipped, -1: malformed. */
static int parse_trace_line(const char *s, const struct trace_opts *o, struct trace_call *c)
{
	char hex[TRACE_LINE_MAX];
	unsigned maj, min;
	unsigned long req;
	long ret;
	int err, end = -1;
	size_t i, n;

	if (sscanf(s, "%d %d %u:%u %lx %ld %d %1023s %n", &c->pid, &c->fd, &maj, &min, &req, &ret, &err,
		   hex, &end) != 8 || end < 0 || s[end] || req > UINT32_MAX || c->fd < 0)
		return -1;
	c->req = (uint32_t)req;
	c->len = 0;
	if (strcmp(hex, "-")) {
		n = strlen(hex);
		if (n % 2 || n / 2 > TRACE_ARG_BYTES)
			return -1;
		for (i = 0; i < n / 2; i++) {
			int hi = hex_digit((unsigned char)hex[2 * i]), lo = hex_digit((unsigned char)hex[2 * i + 1]);
			if (hi < 0 || lo < 0)
				return -1;
			c->bytes[i] = (uint8_t)(hi << 4 | lo);
		}
		c->len = (uint16_t)(n / 2);
	}
	c->dev = trace_dev(maj, min, o);
	return c->dev >= 0;
}

/* Reads the whole trace first: a malformed line fails the run before any call is made. */
static int load_trace(const struct trace_opts *o, struct trace *t)
{
	char line[TRACE_LINE_MAX];
	unsigned no = 0;
	FILE *f = fopen(o->file, "r");

	if (!f) {
		fprintf(stderr, "nvreplay: cannot read %s: %s\n", o->file, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct trace_call c;
		int r;

		no++;
		if (!strchr(line, '\n') && !feof(f)) {
			fprintf(stderr, "nvreplay: %s:%u: line longer than %d bytes\n", o->file, no, TRACE_LINE_MAX - 1);
			goto bad;
		}
		if (line[strspn(line, " \t\r\n")] == '\0')
			continue;
		r = parse_trace_line(line, o, &c);
		if (r < 0) {
			fprintf(stderr, "nvreplay: %s:%u: not PID FD MAJOR:MINOR REQUEST RET ERRNO HEX: %s",
				o->file, no, line);
			goto bad;
		}
		if (o->pid >= 0 && c.pid != o->pid)
			continue;
		if (r == 0) {
			t->skipped++;
			continue;
		}
		if (!o->path[c.dev]) {
			fprintf(stderr, "nvreplay: %s:%u: a call on the %s node, and no --%s given\n",
				o->file, no, dev_names[c.dev], dev_names[c.dev]);
			goto bad;
		}
		if (t->n == t->cap) {
			size_t cap = t->cap ? 2 * t->cap : 1024;
			struct trace_call *more = realloc(t->calls, cap * sizeof(*more));
			if (!more) {
				fprintf(stderr, "nvreplay: out of memory\n");
				goto bad;
			}
			t->calls = more;
			t->cap = cap;
		}
		c.line = no;
		t->calls[t->n++] = c;
	}
	if (ferror(f)) {
		fprintf(stderr, "nvreplay: cannot read %s: %s\n", o->file, strerror(errno));
		goto bad;
	}
	fclose(f);
	if (!t->n) {
		fprintf(stderr, "nvreplay: %s: no calls to replay%s\n", o->file, o->pid >= 0 ? " for --pid" : "");
		return -1;
	}
	return 0;
bad:
	fclose(f);
	return -1;
}

static void point_at_scratch(size_t at, size_t len)
{
	uint64_t p;

	if (at + sizeof(p) > len)
		return;
	memcpy(&p, trace_arg + at, sizeof(p));
	if (p) {	/* a null pointer stays null: the driver (and BPF) treat it as absent */
		p = ptr64(trace_scratch);
		memcpy(trace_arg + at, &p, sizeof(p));
	}
}

/* The recorded bytes in a zeroed buffer of at least max(recorded, _IOC_SIZE, a page). */
static void build_trace_arg(const struct trace_call *c)
{
	size_t size = NV_IOC_SIZE(c->req), len = c->len;

	if (size < len)
		size = len;
	if (size < TRACE_ARG_MIN)
		size = TRACE_ARG_MIN;
	memset(trace_arg, 0, size);
	memset(trace_scratch, 0, sizeof(trace_scratch));
	memcpy(trace_arg, c->bytes, len);
	if (c->dev == DEV_UVM || NV_IOC_TYPE(c->req) != NV_IOCTL_MAGIC)
		return;
	switch (NV_IOC_NR(c->req)) {
	case NV_ESC_RM_ALLOC:
		point_at_scratch(RM_ALLOC_PARAMS_AT, len);
		if (NV_IOC_SIZE(c->req) >= NVOS64_SIZE)
			point_at_scratch(RM_ALLOC_RIGHTS_AT, len);
		break;
	case NV_ESC_RM_CONTROL:
		point_at_scratch(RM_CONTROL_PARAMS_AT, len);
		break;
	case NV_ESC_IOCTL_XFER_CMD:
		point_at_scratch(XFER_PTR_AT, len);
		break;
	default:
		break;
	}
}

struct trace_fd {
	int pid, fd, real;		/* real: the replay's fd, -1 when its open failed */
};

static int replay_once(const struct trace_opts *o, const struct trace *t, int *open_failed)
{
	static struct trace_fd fds[TRACE_FDS_MAX];
	size_t nfds = 0, i, k;
	int ret = 0;

	for (i = 0; i < t->n; i++) {
		const struct trace_call *c = &t->calls[i];
		struct trace_fd *slot = NULL;
		int r, err;

		for (k = 0; k < nfds && !slot; k++)
			if (fds[k].pid == c->pid && fds[k].fd == c->fd)
				slot = &fds[k];
		if (!slot) {	/* the first call on a recorded fd opens its node, once */
			if (nfds == TRACE_FDS_MAX) {
				fprintf(stderr, "nvreplay: more than %d distinct (pid, fd) pairs\n", TRACE_FDS_MAX);
				ret = 2;
				break;
			}
			slot = &fds[nfds++];
			*slot = (struct trace_fd){ .pid = c->pid, .fd = c->fd,
				.real = open(o->path[c->dev], O_RDWR | O_CLOEXEC) };
			if (slot->real < 0) {
				fprintf(stderr, "nvreplay: line %u: cannot open %s (--%s): %s\n", c->line,
					o->path[c->dev], dev_names[c->dev], strerror(errno));
				*open_failed = 1;
				if (!o->keep_going)
					break;
			}
		}
		if (slot->real < 0)
			continue;	/* --keep-going: a node that did not open gets no calls */
		build_trace_arg(c);
		r = ioctl(slot->real, (unsigned long)c->req, trace_arg);
		err = errno;
		if (o->verbose) {
			fprintf(stderr, "line=%u pid=%d fd=%d dev=%s cmd=0x%x", c->line, c->pid, c->fd,
				dev_names[c->dev], c->req);
			if (c->dev != DEV_UVM && NV_IOC_TYPE(c->req) == NV_IOCTL_MAGIC &&
			    NV_IOC_NR(c->req) == NV_ESC_RM_ALLOC && c->len >= 16) {
				uint32_t cls;
				memcpy(&cls, c->bytes + offsetof(struct nvos64, hClass), sizeof(cls));
				fprintf(stderr, " class=0x%x", cls);
			}
			fprintf(stderr, " -> %s\n", r < 0 ? errno_name(err) : "ok");
		}
		if (o->delay_us) {
			struct timespec ts = { .tv_sec = (time_t)(o->delay_us / 1000000),
					       .tv_nsec = (long)(o->delay_us % 1000000) * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	for (k = 0; k < nfds; k++)
		if (fds[k].real >= 0)
			close(fds[k].real);
	return ret;
}

static int run_trace(const struct trace_opts *o)
{
	struct trace t = { 0 };
	int open_failed = 0, ret = 0;
	uint64_t r;

	if (load_trace(o, &t)) {
		free(t.calls);
		return 2;
	}
	for (r = 0; r < o->repeat && !ret && (!open_failed || o->keep_going); r++)
		ret = replay_once(o, &t, &open_failed);
	if (o->verbose)
		fprintf(stderr, "nvreplay: %zu calls a run, %llu run(s), %u line(s) on other devices skipped\n",
			t.n, (unsigned long long)o->repeat, t.skipped);
	free(t.calls);
	return ret ? ret : open_failed;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nvreplay --ctl PATH --gpu PATH --uvm PATH [--arch hopper|ampere]\n"
		"                [--mode cuda|smi] [--alloc-bytes N] [--gpu-index N] [-v]\n"
		"       nvreplay --list [--arch ...] [--mode ...] [--alloc-bytes N] [--gpu-index N]\n"
		"       nvreplay --trace FILE --ctl PATH --gpu PATH [--uvm PATH] [--uvm-major N]\n"
		"                [--pid N] [--repeat N] [--delay-us N] [--keep-going] [-v]\n"
		"Issue the NVIDIA driver ioctls of a CUDA program (cuda, default) or of\n"
		"nvidia-smi (smi; --uvm optional). ioctl errors are ignored. --list prints\n"
		"the calls a run would issue, one per line, and opens nothing.\n"
		"--trace replays a recorded trace (PID FD MAJOR:MINOR REQUEST RET ERRNO HEX a\n"
		"line): 195:255 on --ctl, 195:N on --gpu, minor 0 of --uvm-major (default: any\n"
		"other major) on --uvm; each recorded (pid, fd) opened once, at its first call;\n"
		"each call with its recorded bytes. --pid keeps one process's calls, --repeat\n"
		"replays N times (nodes opened anew each time), --delay-us waits after each\n"
		"call. Exit 1 when a node did not open (the run stops there, or with\n"
		"--keep-going goes on without that fd's calls), 2 for a bad trace or usage.\n");
}

/* Exit status 2; getopt has already named an unknown option */
static int bad_usage(const char *what, const char *val)
{
	if (what)
		fprintf(stderr, "nvreplay: bad %s: '%s'\n", what, val);
	usage(stderr);
	return 2;
}

/* Decimal, or hex with 0x; no sign, no blanks, no trailing junk */
static int parse_u64(const char *s, uint64_t *v)
{
	int base = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 16 : 10;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	*v = strtoull(s, &end, base);
	return errno || *end ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ctl", required_argument, NULL, 'c' },
		{ "gpu", required_argument, NULL, 'g' },
		{ "uvm", required_argument, NULL, 'u' },
		{ "arch", required_argument, NULL, 'a' },
		{ "mode", required_argument, NULL, 'm' },
		{ "alloc-bytes", required_argument, NULL, 'b' },
		{ "gpu-index", required_argument, NULL, 'i' },
		{ "list", no_argument, NULL, 'l' },
		{ "trace", required_argument, NULL, 't' },
		{ "pid", required_argument, NULL, 'p' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "delay-us", required_argument, NULL, 'd' },
		{ "uvm-major", required_argument, NULL, 'U' },
		{ "keep-going", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .arch = &arches[0], .mode = M_CUDA, .alloc_bytes = DEFAULT_ALLOC_BYTES };
	struct trace_opts t = { .pid = -1, .uvm_major = -1, .repeat = 1 };
	const char *table_only = NULL, *trace_only = NULL;	/* an option of the other mode */
	uint64_t v;
	size_t a;
	int ch, d;

	while ((ch = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o.path[DEV_CTL] = optarg; break;
		case 'g': o.path[DEV_GPU] = optarg; break;
		case 'u': o.path[DEV_UVM] = optarg; break;
		case 'v': o.verbose = 1; break;
		case 'l': o.list = 1; table_only = "--list"; break;
		case 't': t.file = optarg; break;
		case 'k': t.keep_going = 1; trace_only = "--keep-going"; break;
		case 'p':
			if (parse_u64(optarg, &v) || v > INT32_MAX)
				return bad_usage("--pid", optarg);
			t.pid = (long)v;
			trace_only = "--pid";
			break;
		case 'r':
			if (parse_u64(optarg, &v) || !v)
				return bad_usage("--repeat", optarg);
			t.repeat = v;
			trace_only = "--repeat";
			break;
		case 'd':
			if (parse_u64(optarg, &v) || v > 60000000)
				return bad_usage("--delay-us", optarg);
			t.delay_us = v;
			trace_only = "--delay-us";
			break;
		case 'U':
			if (parse_u64(optarg, &v) || v > 4095)
				return bad_usage("--uvm-major", optarg);
			t.uvm_major = (long)v;
			trace_only = "--uvm-major";
			break;
		case 'h': usage(stdout); return 0;
		case 'a':
			table_only = "--arch";
			for (a = 0; a < N_ARCHES && strcmp(optarg, arches[a].name); a++)
				;
			if (a == N_ARCHES)
				return bad_usage("--arch", optarg);
			o.arch = &arches[a];
			break;
		case 'm':
			table_only = "--mode";
			if (strcmp(optarg, "cuda") && strcmp(optarg, "smi"))
				return bad_usage("--mode", optarg);
			o.mode = strcmp(optarg, "smi") ? M_CUDA : M_SMI;
			break;
		case 'b':
			table_only = "--alloc-bytes";
			if (parse_u64(optarg, &v) || !v)
				return bad_usage("--alloc-bytes", optarg);
			o.alloc_bytes = v;
			break;
		case 'i':
			table_only = "--gpu-index";
			if (parse_u64(optarg, &v) || v > GPU_INDEX_MAX)
				return bad_usage("--gpu-index", optarg);
			o.gpu_index = (uint32_t)v;
			break;
		default:
			return bad_usage(NULL, NULL);
		}
	}
	if (optind < argc)
		return bad_usage("argument", argv[optind]);
	if (t.file && table_only) {
		fprintf(stderr, "nvreplay: %s does not go with --trace\n", table_only);
		return bad_usage(NULL, NULL);
	}
	if (!t.file && trace_only) {
		fprintf(stderr, "nvreplay: %s needs --trace\n", trace_only);
		return bad_usage(NULL, NULL);
	}
	if (t.file) {
		if (!o.path[DEV_CTL] || !o.path[DEV_GPU]) {
			fprintf(stderr, "nvreplay: --ctl and --gpu are required\n");
			return bad_usage(NULL, NULL);
		}
		for (d = 0; d < DEV_COUNT; d++)
			t.path[d] = o.path[d];
		t.verbose = o.verbose;
		return run_trace(&t);
	}
	if (!o.list && (!o.path[DEV_CTL] || !o.path[DEV_GPU] ||
			(o.mode == M_CUDA && !o.path[DEV_UVM]))) {
		fprintf(stderr, "nvreplay: --ctl, --gpu%s are required\n",
			o.mode == M_CUDA ? " and --uvm" : "");
		return bad_usage(NULL, NULL);
	}
	return run(&o);
}
