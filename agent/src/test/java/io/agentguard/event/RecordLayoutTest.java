package io.agentguard.event;

import io.agentguard.daemon.KernelAgentExtension;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;

import static io.agentguard.event.RecordLayout.*;
import static org.assertj.core.api.Assertions.assertThat;

/** bpf/agentguard.h and RecordLayout agree: offsetof/sizeof printed by native/layout_dump.c. */
class RecordLayoutTest {
    @Test
    void javaOffsetsEqualTheCHeader() throws Exception {
        Process p = new ProcessBuilder(KernelAgentExtension.nativeTool("layout_dump").toString()).start();
        Map<String, Long> c = new HashMap<>();
        new String(p.getInputStream().readAllBytes()).lines().forEach(l -> {
            String[] f = l.split(" ");
            c.put(f[0], Long.parseLong(f[1]));
        });
        assertThat(p.waitFor()).isZero();

        Map<String, Long> java = new HashMap<>();
        java.put("ag_header", HEADER_SIZE);
        java.put("ag_header.type", HEADER_TYPE);
        java.put("ag_header.size", HEADER_SIZE_FIELD);
        java.put("ag_header.cpu", HEADER_CPU);
        java.put("ag_header.ktime_ns", HEADER_KTIME_NS);
        java.put("ag_header.cgroup_id", HEADER_CGROUP_ID);
        java.put("ag_header.pid", HEADER_PID);
        java.put("ag_header.tid", HEADER_TID);
        java.put("ag_header.ppid", HEADER_PPID);
        java.put("ag_header.uid", HEADER_UID);
        java.put("ag_header.gid", HEADER_GID);
        java.put("ag_header.comm", HEADER_COMM);
        java.put("ag_exec", EXEC_SIZE);
        java.put("ag_exec.old_pid", EXEC_OLD_PID);
        java.put("ag_exec.filename_len", EXEC_FILENAME_LEN);
        java.put("ag_exec.args_len", EXEC_ARGS_LEN);
        java.put("ag_exec.args_total_len", EXEC_ARGS_TOTAL_LEN);
        java.put("ag_exec.flags", EXEC_FLAGS);
        java.put("ag_exec.error", EXEC_ERROR);
        java.put("ag_exec.filename", EXEC_FILENAME);
        java.put("ag_exec.args", EXEC_ARGS);
        java.put("ag_fork", FORK_SIZE);
        java.put("ag_fork.child_pid", FORK_CHILD_PID);
        java.put("ag_exit", EXIT_SIZE);
        java.put("ag_exit.exit_code", EXIT_EXIT_CODE);
        java.put("ag_exit.start_ns", EXIT_START_NS);
        java.put("ag_connect", CONNECT_SIZE);
        java.put("ag_connect.sock_cookie", CONNECT_SOCK_COOKIE);
        java.put("ag_connect.family", CONNECT_FAMILY);
        java.put("ag_connect.sock_type", CONNECT_SOCK_TYPE);
        java.put("ag_connect.protocol", CONNECT_PROTOCOL);
        java.put("ag_connect.port", CONNECT_PORT);
        java.put("ag_connect.addr", CONNECT_ADDR);
        java.put("ag_connect.verdict", CONNECT_VERDICT);
        java.put("ag_connect.flags", CONNECT_FLAGS);
        java.put("ag_connect.unix_path", CONNECT_UNIX_PATH);
        java.put("ag_connect.unix_path_len", CONNECT_UNIX_PATH_LEN);
        java.put("ag_connect_result", CONNECT_RESULT_SIZE);
        java.put("ag_connect_result.sock_cookie", CONNECT_RESULT_SOCK_COOKIE);
        java.put("ag_connect_result.error", CONNECT_RESULT_ERROR);
        java.put("ag_connect_result.old_state", CONNECT_RESULT_OLD_STATE);
        java.put("ag_connect_result.new_state", CONNECT_RESULT_NEW_STATE);
        java.put("ag_gpu_open", GPU_OPEN_SIZE);
        java.put("ag_gpu_open.major", GPU_OPEN_MAJOR);
        java.put("ag_gpu_open.minor", GPU_OPEN_MINOR);
        java.put("ag_gpu_open.role", GPU_OPEN_ROLE);
        java.put("ag_gpu_open.index", GPU_OPEN_INDEX);
        java.put("ag_gpu_open.access", GPU_OPEN_ACCESS);
        java.put("ag_gpu_open.verdict", GPU_OPEN_VERDICT);
        java.put("ag_gpu_ioctl", GPU_IOCTL_SIZE);
        java.put("ag_gpu_ioctl.fd", GPU_IOCTL_FD);
        java.put("ag_gpu_ioctl.cmd", GPU_IOCTL_CMD);
        java.put("ag_gpu_ioctl.major", GPU_IOCTL_MAJOR);
        java.put("ag_gpu_ioctl.minor", GPU_IOCTL_MINOR);
        java.put("ag_gpu_ioctl.role", GPU_IOCTL_ROLE);
        java.put("ag_gpu_ioctl.index", GPU_IOCTL_INDEX);
        java.put("ag_gpu_ioctl.arg_len", GPU_IOCTL_ARG_LEN);
        java.put("ag_gpu_ioctl.flags", GPU_IOCTL_FLAGS);
        java.put("ag_gpu_ioctl.inner_cmd", GPU_IOCTL_INNER_CMD);
        java.put("ag_gpu_ioctl.arg_ptr", GPU_IOCTL_ARG_PTR);
        java.put("ag_gpu_ioctl.aux0", GPU_IOCTL_AUX0);
        java.put("ag_gpu_ioctl.aux1", GPU_IOCTL_AUX1);
        java.put("ag_gpu_ioctl.arg", GPU_IOCTL_ARG);
        java.put("ag_config", CONFIG_SIZE);
        java.put("ag_config.scope_levels", CONFIG_SCOPE_LEVELS);
        java.put("ag_config.max_args_bytes", CONFIG_MAX_ARGS_BYTES);
        java.put("ag_config.ringbuf_wakeup", CONFIG_RINGBUF_WAKEUP);
        java.put("ag_config.syscall_outcomes", CONFIG_SYSCALL_OUTCOMES);
        java.put("ag_device_key", DEVICE_KEY_SIZE);
        java.put("ag_device_key.major", DEVICE_KEY_MAJOR);
        java.put("ag_device_key.minor", DEVICE_KEY_MINOR);
        java.put("ag_device_role_value", DEVICE_ROLE_SIZE);
        java.put("ag_device_role_value.role", DEVICE_ROLE_ROLE);
        java.put("ag_device_role_value.index", DEVICE_ROLE_INDEX);
        java.put("enum.AG_REC_EXEC", (long) TYPE_EXEC);
        java.put("enum.AG_REC_FORK", (long) TYPE_FORK);
        java.put("enum.AG_REC_EXIT", (long) TYPE_EXIT);
        java.put("enum.AG_REC_CONNECT", (long) TYPE_CONNECT);
        java.put("enum.AG_REC_CONNECT_RESULT", (long) TYPE_CONNECT_RESULT);
        java.put("enum.AG_REC_GPU_OPEN", (long) TYPE_GPU_OPEN);
        java.put("enum.AG_REC_GPU_IOCTL", (long) TYPE_GPU_IOCTL);
        java.put("enum.AG_ARGS_MAX", (long) ARGS_MAX);
        java.put("enum.AG_PATH_MAX", (long) PATH_MAX);
        java.put("enum.AG_IOCTL_ARG_MAX", (long) IOCTL_ARG_MAX);
        java.put("enum.AG_DEV_CONTROL", (long) ROLE_CONTROL);
        java.put("enum.AG_DEV_GPU", (long) ROLE_GPU);
        java.put("enum.AG_DEV_UVM", (long) ROLE_UVM);
        java.put("enum.AG_DEV_NVIDIA_MAJOR", (long) ROLE_NVIDIA_MAJOR);
        java.put("enum.AG_DEV_UVM_MAJOR", (long) ROLE_UVM_MAJOR);
        java.put("enum.AG_CNT_EMITTED", (long) COUNTER_EMITTED);
        java.put("enum.AG_CNT_LOST", (long) COUNTER_LOST);

        assertThat(java).containsExactlyInAnyOrderEntriesOf(c);
    }
}
