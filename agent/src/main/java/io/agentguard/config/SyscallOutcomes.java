package io.agentguard.config;

/**
 * syscall_outcomes: whether the syscall exit tracepoints that report failed execs and
 * connect() results are attached. They put every task on the syscall slow path, so AUTO
 * attaches them only when a syscall tracepoint is attached anyway (NVIDIA ioctls without LSM).
 */
public enum SyscallOutcomes {
    AUTO, ON, OFF
}
