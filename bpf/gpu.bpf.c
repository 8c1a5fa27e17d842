// SPDX-License-Identifier: GPL-2.0-only
/*
 * NVIDIA devices used by agent tasks: one record per device open and per driver call
 * (ioctl), and the GPU policies. Devices are known by number from ag_devices (the agent
 * fills it from /proc/devices and the declared stand-ins). cgroup/dev runs only for tasks of
 * the agent cgroups it is attached to and can refuse an open (EPERM). Ioctls have no cgroup
 * hook: lsm/file_ioctl sees and refuses them where the kernel accepts LSM programs; elsewhere
 * the sys_enter_ioctl tracepoint, which costs every task a syscall slow path (so the agent
 * attaches it only when NVIDIA devices or stand-ins exist) and can only kill the caller.
 * The compute policy judges the creation of a GPU compute context (RM_ALLOC of a compute class).
 */
#include "hooks.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* NVIDIA device numbers and declared stand-ins -> role; written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct ag_device_key);
	__type(value, struct ag_device_role_value);
} ag_devices SEC(".maps");

/* Scratch for a GPU ioctl record: built, and judged, before any ring space is asked for. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ag_gpu_ioctl);
} ag_ioctl_scratch SEC(".maps");

/* Executables (file system, inode) allowed to create GPU compute contexts, per policy slot. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct ag_exe_key);
	__type(value, __u8);
} ag_compute_exes SEC(".maps");

static __always_inline bool device_role(__u32 major, __u32 minor, struct ag_device_role_value *out)
{
	struct ag_device_key key = { .major = major, .minor = minor };
	struct ag_device_role_value *v = bpf_map_lookup_elem(&ag_devices, &key);
	if (v) {
		*out = *v;
		return true;
	}
	key.minor = AG_DEV_ANY_MINOR;
	v = bpf_map_lookup_elem(&ag_devices, &key);
	if (!v)
		return false;
	out->index = 0;
	if (v->role == AG_DEV_NVIDIA_MAJOR) {
		if (minor == NV_MINOR_CTL)
			out->role = AG_DEV_CONTROL;
		else if (minor == NV_MINOR_MODESET)
			out->role = AG_DEV_MODESET;
		else if (minor <= NV_MINOR_GPU_MAX)
			out->role = AG_DEV_GPU, out->index = minor;
		else
			return false;
	} else if (v->role == AG_DEV_UVM_MAJOR) {
		out->role = minor == NV_UVM_TOOLS_MINOR ? AG_DEV_UVM_TOOLS : AG_DEV_UVM;
	} else {
		out->role = v->role;
		out->index = v->index;
	}
	return true;
}

/* Attached to each agent cgroup root, so the subtree is the scope. Returns 0 (EPERM) when the
 * GPU policy denies the device in enforce mode. */
SEC("cgroup/dev")
int ag_dev(struct bpf_cgroup_dev_ctx *ctx)
{
	if (cgroup_prog_outside())
		return 1;
	struct ag_device_role_value role = { .role = AG_DEV_BLOCK, .index = 0 };
	__u32 type = ctx->access_type & 0xffff;
	if (type == BPF_DEVCG_DEV_CHAR) {
		if (!device_role(ctx->major, ctx->minor, &role))
			return 1;
	} else if (type != BPF_DEVCG_DEV_BLOCK) {
		return 1;
	}
	__u32 verdict = AG_VERDICT_ALLOWED;
	struct ag_config *cfg = ag_cfg();
	struct ag_policy *pol = cfg ? policy_of(policy_slot(cfg)) : NULL;
	if (role.role == AG_DEV_BLOCK) {
		/* a disk opened raw (or made by mknod) writes under every read-only mount: never an agent's.
		 * Device nodes ignore mount flags, so this is what keeps uid 0 in the sandbox off the disks. */
		if (pol)
			verdict = objection(pol);
	} else if (pol && !(pol->flags & AG_POLICY_GPU_ALL)) {
		/* control, uvm and other shared nodes: allowed when some GPU is granted */
		bool granted = role.role == AG_DEV_GPU ? role.index < 64 && (pol->gpu_allowed >> role.index) & 1
						       : pol->gpu_allowed != 0;
		if (!granted)
			verdict = objection(pol);
	}
	struct ag_gpu_open *o = reserve(sizeof(*o), cgroup_scope_key(),
					  verdict != AG_VERDICT_ALLOWED ? AG_RECORD_PRIORITY : AG_RECORD_ORDINARY);
	if (o) {
		fill_header(&o->h, AG_REC_GPU_OPEN, sizeof(*o));
		o->major = ctx->major;
		o->minor = ctx->minor;
		o->role = role.role;
		o->index = role.index;
		o->access = ctx->access_type >> 16;
		o->verdict = verdict;
		submit(o);
	}
	return verdict == AG_VERDICT_DENIED ? 0 : 1;
}

static __always_inline void read_ioctl_args(struct ag_gpu_ioctl *g, __u32 cmd, __u64 arg)
{
	__u64 len;
	g->inner_cmd = cmd;
	if (g->role == AG_DEV_UVM || g->role == AG_DEV_UVM_TOOLS) {
		len = AG_UVM_ARG_BYTES;          /* plain integers: no size in cmd */
	} else {
		if (AG_IOC_TYPE(cmd) != NV_IOCTL_MAGIC) {
			g->arg_len = 0;
			return;
		}
		if (AG_IOC_NR(cmd) == NV_ESC_IOCTL_XFER_CMD) {
			/* { u32 cmd; u32 size; u64 ptr }: decode the wrapped call instead */
			struct nv_ioctl_xfer xfer;
			if (bpf_probe_read_user(&xfer, sizeof(xfer), (void *)arg) == 0) {
				g->inner_cmd = xfer.cmd;
				g->flags |= AG_IOCTL_XFER_UNWRAPPED;
				arg = xfer.ptr;
				cmd = xfer.cmd;
				len = xfer.size;
				goto copy;
			}
		}
		len = AG_IOC_SIZE(cmd);
	}
copy:
	if (len > AG_IOCTL_ARG_MAX)
		len = AG_IOCTL_ARG_MAX;
	barrier_var(len);
	if (len == 0 || bpf_probe_read_user(g->arg, len, (void *)arg) != 0) {
		if (len)
			g->flags |= AG_IOCTL_ARG_UNREADABLE;
		len = 0;
	}
	g->arg_len = len;

	/* RM_ALLOC: the class alone says what is being created; memory classes carry a
	 * size and NV01_DEVICE_0 the GPU index in the params struct behind pAllocParms. */
	if (len >= sizeof(struct nv_rm_alloc) && AG_IOC_NR(cmd) == NV_ESC_RM_ALLOC &&
	    g->role != AG_DEV_UVM && g->role != AG_DEV_UVM_TOOLS) {
		struct nv_rm_alloc *alloc = (struct nv_rm_alloc *)g->arg;
		__u32 hclass = alloc->h_class;
		__u64 params = alloc->p_alloc_parms;
		if (params && bpf_probe_read_user(&g->aux0, sizeof(g->aux0), (void *)params) == 0) {
			g->flags |= AG_IOCTL_PARAMS_READ;
			if (hclass == NV01_MEMORY_LOCAL_USER || hclass == NV01_MEMORY_SYSTEM)
				bpf_probe_read_user(&g->aux1, sizeof(g->aux1),
						    (void *)(params + NV_MEMORY_PARAMS_SIZE_OFFSET));
		}
	}
}

/* Compute policy: may current create a GPU compute context? By policy, or by being one of
 * the policy's allowed executables (identified by file system and inode, not by name). */
static __always_inline __u32 compute_verdict(void)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg)
		return AG_VERDICT_ALLOWED;
	__u32 slot = policy_slot(cfg);
	struct ag_policy *pol = policy_of(slot);
	if (!pol || (pol->flags & AG_POLICY_COMPUTE_ALLOWED))
		return AG_VERDICT_ALLOWED;
	struct task_struct *task = bpf_get_current_task_btf();
	struct inode *exe = BPF_CORE_READ(task, mm, exe_file, f_inode);
	struct ag_exe_key key = {
		.policy = slot,
		.dev = BPF_CORE_READ(exe, i_sb, s_dev),
		.ino = BPF_CORE_READ(exe, i_ino),
	};
	if (bpf_map_lookup_elem(&ag_compute_exes, &key))
		return AG_VERDICT_ALLOWED;
	return objection(pol);
}

static __always_inline bool is_compute_class(__u32 hclass)
{
	return (hclass & 0xff) == NV_COMPUTE_CLASS_LOW_BYTE && hclass >= NV_COMPUTE_CLASS_MIN && hclass <= 0xffff;
}

/* Returns the compute verdict (DENIED: the caller must stop the ioctl). The record is built
 * in scratch memory and judged there, so that a full ring cannot let a call through. */
static __always_inline __u32 on_gpu_ioctl(struct file *file, __u32 fd, __u32 cmd, __u64 arg, __u64 key)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	if ((BPF_CORE_READ(inode, i_mode) & S_IFMT) != S_IFCHR)
		return AG_VERDICT_ALLOWED;
	dev_t rdev = BPF_CORE_READ(inode, i_rdev);
	struct ag_device_role_value role;
	if (!device_role(rdev >> 20, rdev & 0xfffff, &role))
		return AG_VERDICT_ALLOWED;
	/* Only an RM_ALLOC, maybe wrapped in IOCTL_XFER_CMD, is judged; any other call over its
	 * cgroup's budget is dropped (counted) before it is built. */
	bool judged = role.role != AG_DEV_UVM && role.role != AG_DEV_UVM_TOOLS && AG_IOC_TYPE(cmd) == NV_IOCTL_MAGIC &&
		      (AG_IOC_NR(cmd) == NV_ESC_RM_ALLOC || AG_IOC_NR(cmd) == NV_ESC_IOCTL_XFER_CMD);
	struct ag_cgroup_budget *b = budget_of(key);
	if (!judged && !admit(b, sizeof(struct ag_gpu_ioctl), AG_RECORD_ORDINARY))
		return AG_VERDICT_ALLOWED;
	__u32 zero = 0;
	struct ag_gpu_ioctl *g = bpf_map_lookup_elem(&ag_ioctl_scratch, &zero);
	if (!g)
		return AG_VERDICT_ALLOWED;   /* cannot happen: a one-entry per-CPU array */
	fill_header(&g->h, AG_REC_GPU_IOCTL, sizeof(*g));
	g->fd = fd;
	g->cmd = cmd;
	g->major = rdev >> 20;
	g->minor = rdev & 0xfffff;
	g->role = role.role;
	g->index = role.index;
	g->flags = 0;
	g->verdict = AG_VERDICT_ALLOWED;
	g->arg_ptr = arg;
	g->aux0 = 0;
	g->aux1 = 0;
	read_ioctl_args(g, cmd, arg);
	if (AG_IOC_NR(g->inner_cmd) == NV_ESC_RM_ALLOC && g->role != AG_DEV_UVM && g->role != AG_DEV_UVM_TOOLS &&
	    g->arg_len >= offsetof(struct nv_rm_alloc, h_class) + sizeof(__u32) &&
	    is_compute_class(((struct nv_rm_alloc *)g->arg)->h_class))
		g->verdict = compute_verdict();
	__u32 verdict = g->verdict;
	__u32 class = verdict == AG_VERDICT_DENIED ? AG_RECORD_KILL
		    : verdict == AG_VERDICT_WOULD_BLOCK ? AG_RECORD_PRIORITY : AG_RECORD_ORDINARY;
	if (!judged || admit(b, sizeof(*g), class))
		emit(g, sizeof(*g), b);
	return verdict;
}

/* Fallback where LSM programs are refused: costs every task a syscall slow path, so the
 * agent attaches it only when NVIDIA devices or stand-ins exist. */
SEC("tracepoint/syscalls/sys_enter_ioctl")
int ag_ioctl_tp(struct trace_event_raw_sys_enter *ctx)
{
	__u64 key = task_scope_key();
	if (!key)
		return 0;
	__u32 fd = ctx->args[0];
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	if (!file)
		return 0;
	/* No way to fail the syscall from here: SIGKILL before the driver runs the ioctl. */
	if (on_gpu_ioctl(file, fd, ctx->args[1], ctx->args[2], key) == AG_VERDICT_DENIED)
		bpf_send_signal(SIGKILL);
	return 0;
}

SEC("lsm/file_ioctl")
int BPF_PROG(ag_ioctl_lsm, struct file *file, unsigned int cmd, unsigned long arg)
{
	__u64 key = task_scope_key();
	if (key && on_gpu_ioctl(file, (__u32)-1, cmd, arg, key) == AG_VERDICT_DENIED)
		return -EPERM;
	return 0;
}
