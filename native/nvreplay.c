// SPDX-License-Identifier: MIT
/*
 * nvreplay - issue the NVIDIA driver ioctls of a CUDA program (cuInit,
 * context creation, cuMemAlloc) or of nvidia-smi on given device paths,
 * with the real ioctl numbers and argument layouts. On stand-in nodes
 * (mknod'ed /dev/null and friends) every ioctl fails with ENOTTY, but a
 * tracer at sys_enter_ioctl still sees each call and its argument struct.
 * One table, calls[], drives both --list and a real run.
 * Facts: docs/EVENTS.md (GpuIoctl) and the NVIDIA numbers of bpf/agentguard.h.
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

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nvreplay --ctl PATH --gpu PATH --uvm PATH [--arch hopper|ampere]\n"
		"                [--mode cuda|smi] [--alloc-bytes N] [--gpu-index N] [-v]\n"
		"       nvreplay --list [--arch ...] [--mode ...] [--alloc-bytes N] [--gpu-index N]\n"
		"Issue the NVIDIA driver ioctls of a CUDA program (cuda, default) or of\n"
		"nvidia-smi (smi; --uvm optional). ioctl errors are ignored. --list prints\n"
		"the calls a run would issue, one per line, and opens nothing.\n");
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .arch = &arches[0], .mode = M_CUDA, .alloc_bytes = DEFAULT_ALLOC_BYTES };
	uint64_t v;
	size_t a;
	int ch;

	while ((ch = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o.path[DEV_CTL] = optarg; break;
		case 'g': o.path[DEV_GPU] = optarg; break;
		case 'u': o.path[DEV_UVM] = optarg; break;
		case 'v': o.verbose = 1; break;
		case 'l': o.list = 1; break;
		case 'h': usage(stdout); return 0;
		case 'a':
			for (a = 0; a < N_ARCHES && strcmp(optarg, arches[a].name); a++)
				;
			if (a == N_ARCHES)
				return bad_usage("--arch", optarg);
			o.arch = &arches[a];
			break;
		case 'm':
			if (strcmp(optarg, "cuda") && strcmp(optarg, "smi"))
				return bad_usage("--mode", optarg);
			o.mode = strcmp(optarg, "smi") ? M_CUDA : M_SMI;
			break;
		case 'b':
			if (parse_u64(optarg, &v) || !v)
				return bad_usage("--alloc-bytes", optarg);
			o.alloc_bytes = v;
			break;
		case 'i':
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
	if (!o.list && (!o.path[DEV_CTL] || !o.path[DEV_GPU] ||
			(o.mode == M_CUDA && !o.path[DEV_UVM]))) {
		fprintf(stderr, "nvreplay: --ctl, --gpu%s are required\n",
			o.mode == M_CUDA ? " and --uvm" : "");
		return bad_usage(NULL, NULL);
	}
	return run(&o);
}
