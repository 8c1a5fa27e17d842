package io.agentguard.config;

import java.util.Locale;

/**
 * syscall_outcomes: whether the syscall exit tracepoints that report failed execs and
 * connect() results are attached. They put every task on the syscall slow path, so AUTO
 * attaches them only when a syscall tracepoint is attached anyway (NVIDIA ioctls without LSM).
 */
public enum SyscallOutcomes {
    AUTO, ON, OFF;

    /** The config and flag spelling: auto, on, off. */
    public String text() {
        return name().toLowerCase(Locale.ROOT);
    }
}
