// SPDX-License-Identifier: GPL-2.0-only
/*
 * Prints "name offset" for every field and "name size" for every struct of
 * bpf/agentguard.h, so that a Java test can prove RecordLayout equal to the C header.
 */
#include <stddef.h>
#include <stdio.h>
#include "agentguard.h"

#define FIELD(s, f)  printf("%s.%s %zu\n", #s, #f, offsetof(struct s, f))
#define SIZE(s)      printf("%s %zu\n", #s, sizeof(struct s))

int main(void)
{
	SIZE(ag_header);
	FIELD(ag_header, type); FIELD(ag_header, size); FIELD(ag_header, cpu);
	FIELD(ag_header, ktime_ns); FIELD(ag_header, cgroup_id); FIELD(ag_header, pid);
	FIELD(ag_header, tid); FIELD(ag_header, ppid); FIELD(ag_header, uid);
	FIELD(ag_header, gid); FIELD(ag_header, comm);

	SIZE(ag_exec);
	FIELD(ag_exec, old_pid); FIELD(ag_exec, filename_len); FIELD(ag_exec, args_len);
	FIELD(ag_exec, args_total_len); FIELD(ag_exec, flags); FIELD(ag_exec, error); FIELD(ag_exec, filename);
	FIELD(ag_exec, args);

	SIZE(ag_fork);
	FIELD(ag_fork, child_pid);

	SIZE(ag_exit);
	FIELD(ag_exit, exit_code); FIELD(ag_exit, start_ns);

	SIZE(ag_connect);
	FIELD(ag_connect, sock_cookie); FIELD(ag_connect, family); FIELD(ag_connect, sock_type);
	FIELD(ag_connect, protocol); FIELD(ag_connect, port); FIELD(ag_connect, addr);
	FIELD(ag_connect, verdict); FIELD(ag_connect, flags); FIELD(ag_connect, unix_path);
	FIELD(ag_connect, unix_path_len);

	SIZE(ag_connect_result);
	FIELD(ag_connect_result, sock_cookie); FIELD(ag_connect_result, error);
	FIELD(ag_connect_result, old_state); FIELD(ag_connect_result, new_state);

	SIZE(ag_gpu_open);
	FIELD(ag_gpu_open, major); FIELD(ag_gpu_open, minor); FIELD(ag_gpu_open, role);
	FIELD(ag_gpu_open, index); FIELD(ag_gpu_open, access); FIELD(ag_gpu_open, verdict);

	SIZE(ag_gpu_ioctl);
	FIELD(ag_gpu_ioctl, fd); FIELD(ag_gpu_ioctl, cmd); FIELD(ag_gpu_ioctl, major);
	FIELD(ag_gpu_ioctl, minor); FIELD(ag_gpu_ioctl, role); FIELD(ag_gpu_ioctl, index);
	FIELD(ag_gpu_ioctl, arg_len); FIELD(ag_gpu_ioctl, flags); FIELD(ag_gpu_ioctl, inner_cmd);
	FIELD(ag_gpu_ioctl, arg_ptr); FIELD(ag_gpu_ioctl, aux0); FIELD(ag_gpu_ioctl, aux1);
	FIELD(ag_gpu_ioctl, arg);

	SIZE(ag_config);
	FIELD(ag_config, scope_levels); FIELD(ag_config, max_args_bytes); FIELD(ag_config, ringbuf_wakeup);
	FIELD(ag_config, syscall_outcomes);
	FIELD(ag_config, generation); FIELD(ag_config, policy_levels); FIELD(ag_config, daemon_tgid);
	FIELD(ag_config, tamper_enforce);
	FIELD(ag_gpu_ioctl, verdict);

	SIZE(ag_tamper);
	FIELD(ag_tamper, target_pid); FIELD(ag_tamper, signal); FIELD(ag_tamper, kind); FIELD(ag_tamper, verdict);

	SIZE(ag_policy);
	FIELD(ag_policy, flags); FIELD(ag_policy, gpu_allowed);
	SIZE(ag_policy_root_key);
	FIELD(ag_policy_root_key, generation); FIELD(ag_policy_root_key, cgroup_id);
	SIZE(ag_egress_key);
	FIELD(ag_egress_key, prefixlen); FIELD(ag_egress_key, policy); FIELD(ag_egress_key, addr);
	SIZE(ag_egress_value);
	FIELD(ag_egress_value, count); FIELD(ag_egress_value, rules);
	SIZE(ag_egress_rule);
	FIELD(ag_egress_rule, action); FIELD(ag_egress_rule, protocol); FIELD(ag_egress_rule, port_lo);
	FIELD(ag_egress_rule, port_hi);
	SIZE(ag_exec_name_key);
	FIELD(ag_exec_name_key, policy); FIELD(ag_exec_name_key, name);
	SIZE(ag_exec_path_key);
	FIELD(ag_exec_path_key, policy); FIELD(ag_exec_path_key, path);
	SIZE(ag_exe_key);
	FIELD(ag_exe_key, policy); FIELD(ag_exe_key, dev); FIELD(ag_exe_key, ino);

	SIZE(ag_device_key);
	FIELD(ag_device_key, major); FIELD(ag_device_key, minor);
	SIZE(ag_device_role_value);
	FIELD(ag_device_role_value, role); FIELD(ag_device_role_value, index);

	printf("enum.AG_REC_EXEC %d\nenum.AG_REC_FORK %d\nenum.AG_REC_EXIT %d\n", AG_REC_EXEC, AG_REC_FORK, AG_REC_EXIT);
	printf("enum.AG_REC_CONNECT %d\nenum.AG_REC_CONNECT_RESULT %d\n", AG_REC_CONNECT, AG_REC_CONNECT_RESULT);
	printf("enum.AG_REC_GPU_OPEN %d\nenum.AG_REC_GPU_IOCTL %d\n", AG_REC_GPU_OPEN, AG_REC_GPU_IOCTL);
	printf("enum.AG_ARGS_MAX %d\nenum.AG_PATH_MAX %d\nenum.AG_IOCTL_ARG_MAX %d\n", AG_ARGS_MAX, AG_PATH_MAX, AG_IOCTL_ARG_MAX);
	printf("enum.AG_DEV_CONTROL %d\nenum.AG_DEV_GPU %d\nenum.AG_DEV_UVM %d\n", AG_DEV_CONTROL, AG_DEV_GPU, AG_DEV_UVM);
	printf("enum.AG_DEV_NVIDIA_MAJOR %d\nenum.AG_DEV_UVM_MAJOR %d\n", AG_DEV_NVIDIA_MAJOR, AG_DEV_UVM_MAJOR);
	printf("enum.AG_CNT_EMITTED %d\nenum.AG_CNT_LOST %d\n", AG_CNT_EMITTED, AG_CNT_LOST);
	printf("enum.AG_REC_TAMPER %d\nenum.AG_MAX_POLICIES %d\nenum.AG_EGRESS_RULES %d\n", AG_REC_TAMPER,
	       AG_MAX_POLICIES, AG_EGRESS_RULES);
	printf("enum.AG_EXEC_DENIED %d\nenum.AG_EXEC_WOULD_BLOCK %d\nenum.AG_CONNECT_SENDMSG %d\n", AG_EXEC_DENIED,
	       AG_EXEC_WOULD_BLOCK, AG_CONNECT_SENDMSG);
	printf("enum.AG_POLICY_ENFORCE %d\nenum.AG_POLICY_EGRESS_DEFAULT_DENY %d\nenum.AG_POLICY_COMPUTE_ALLOWED %d\n"
	       "enum.AG_POLICY_GPU_ALL %d\n", AG_POLICY_ENFORCE, AG_POLICY_EGRESS_DEFAULT_DENY, AG_POLICY_COMPUTE_ALLOWED,
	       AG_POLICY_GPU_ALL);
	return 0;
}
