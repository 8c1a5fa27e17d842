package io.agentguard.config;

import java.util.List;

/**
 * The daemon's configuration (agentguard.yaml). Every field has a default; see
 * docs/CONFIG.md. Immutable.
 *
 * @param agentCgroups          agent cgroup roots, relative to the cgroup2 mount
 * @param createMissingCgroups  create agent cgroups that do not exist instead of failing
 * @param outputPath            "-" for stdout, else a file appended to
 * @param outputFormat          json (protobuf JSON mapping, one per line) or text
 * @param maxArgsBytes          exec argv bytes kept per event (1..8192)
 * @param ringBufferBytes       BPF ring buffer size (power of two, >= 4096)
 * @param gpuStandins           PATH=ROLE stand-in device declarations
 * @param deviceRescanMs        how often /proc/devices is re-read for a late NVIDIA driver
 * @param connectOutcomeTimeoutMs how long a TCP connect waits for its handshake outcome
 * @param statsIntervalMs       events/lost per second line on stderr; 0 = off
 * @param syscallOutcomes       auto, on or off: attach syscall exit tracepoints for failed
 *                              execs and connect() results (auto: when a syscall tracepoint
 *                              is attached anyway for NVIDIA ioctls)
 */
public record AgentConfig(
        List<String> agentCgroups,
        boolean createMissingCgroups,
        String outputPath,
        String outputFormat,
        int maxArgsBytes,
        int ringBufferBytes,
        List<String> gpuStandins,
        long deviceRescanMs,
        long connectOutcomeTimeoutMs,
        long statsIntervalMs,
        String syscallOutcomes) {

    public static final int MAX_ARGS_BYTES_CEILING = 8192;

    public AgentConfig {
        agentCgroups = List.copyOf(agentCgroups);
        gpuStandins = List.copyOf(gpuStandins);
    }

    public AgentConfig withAgentCgroups(List<String> cgroups) {
        return new AgentConfig(cgroups, createMissingCgroups, outputPath, outputFormat, maxArgsBytes,
                ringBufferBytes, gpuStandins, deviceRescanMs, connectOutcomeTimeoutMs, statsIntervalMs, syscallOutcomes);
    }

    public AgentConfig withOutput(String path, String format) {
        return new AgentConfig(agentCgroups, createMissingCgroups, path, format, maxArgsBytes,
                ringBufferBytes, gpuStandins, deviceRescanMs, connectOutcomeTimeoutMs, statsIntervalMs, syscallOutcomes);
    }

    public AgentConfig withGpuStandins(List<String> standins) {
        return new AgentConfig(agentCgroups, createMissingCgroups, outputPath, outputFormat, maxArgsBytes,
                ringBufferBytes, standins, deviceRescanMs, connectOutcomeTimeoutMs, statsIntervalMs, syscallOutcomes);
    }

    public AgentConfig withStatsIntervalMs(long ms) {
        return new AgentConfig(agentCgroups, createMissingCgroups, outputPath, outputFormat, maxArgsBytes,
                ringBufferBytes, gpuStandins, deviceRescanMs, connectOutcomeTimeoutMs, ms, syscallOutcomes);
    }

    public AgentConfig withMaxArgsBytes(int bytes) {
        return new AgentConfig(agentCgroups, createMissingCgroups, outputPath, outputFormat, bytes,
                ringBufferBytes, gpuStandins, deviceRescanMs, connectOutcomeTimeoutMs, statsIntervalMs, syscallOutcomes);
    }

    public AgentConfig withDeviceRescanMs(long ms) {
        return new AgentConfig(agentCgroups, createMissingCgroups, outputPath, outputFormat, maxArgsBytes,
                ringBufferBytes, gpuStandins, ms, connectOutcomeTimeoutMs, statsIntervalMs, syscallOutcomes);
    }

    public AgentConfig withSyscallOutcomes(String mode) {
        return new AgentConfig(agentCgroups, createMissingCgroups, outputPath, outputFormat, maxArgsBytes,
                ringBufferBytes, gpuStandins, deviceRescanMs, connectOutcomeTimeoutMs, statsIntervalMs, mode);
    }

    public AgentConfig withRingBufferBytes(int bytes) {
        return new AgentConfig(agentCgroups, createMissingCgroups, outputPath, outputFormat, maxArgsBytes,
                bytes, gpuStandins, deviceRescanMs, connectOutcomeTimeoutMs, statsIntervalMs, syscallOutcomes);
    }

    public AgentConfig withCreateMissingCgroups(boolean create) {
        return new AgentConfig(agentCgroups, create, outputPath, outputFormat, maxArgsBytes,
                ringBufferBytes, gpuStandins, deviceRescanMs, connectOutcomeTimeoutMs, statsIntervalMs, syscallOutcomes);
    }
}
