package io.agentguard.bpf;

import io.agentguard.abi.KernelAbi.Config;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The single entry of ag_config (struct ag_config), which several owners fill: the scope
 * (root levels), the settings, the hooks (syscall outcomes), the policy controller
 * (generation, policy levels, tamper enforcement). Each change rewrites the whole entry in
 * one map update, so the programs never see a half-written one; writers are serialised here.
 */
public final class ConfigMap {
    private final BpfMap map;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment key = arena.allocate(4, 4);
    private final MemorySegment value = arena.allocate(Config.SIZEOF, 8);

    /** Starts from what the map holds (adopted pins keep the generation in force). */
    public ConfigMap(BpfMap map) {
        this.map = map;
        if (!map.lookup(key, value)) {
            value.fill((byte) 0);
        }
    }

    /** The policy generation in force (0 or 1). */
    public synchronized int generation() {
        return value.get(JAVA_INT, Config.GENERATION) & 1;
    }

    public synchronized void scope(long levelMask) {
        value.set(JAVA_LONG, Config.SCOPE_LEVELS, levelMask);
        write();
    }

    /** @param wakeup AG_WAKEUP_* */
    public synchronized void settings(int maxArgsBytes, int wakeup, int daemonTgid) {
        value.set(JAVA_INT, Config.MAX_ARGS_BYTES, maxArgsBytes);
        value.set(JAVA_INT, Config.RINGBUF_WAKEUP, wakeup);
        value.set(JAVA_INT, Config.DAEMON_TGID, daemonTgid);
        write();
    }

    public synchronized void syscallOutcomes(boolean attached) {
        value.set(JAVA_INT, Config.SYSCALL_OUTCOMES, attached ? 1 : 0);
        write();
    }

    /** Switches the programs to a policy generation: one map update carries generation and levels together. */
    public synchronized void policy(int generation, long policyLevels) {
        value.set(JAVA_INT, Config.GENERATION, generation);
        value.set(JAVA_LONG, Config.POLICY_LEVELS, policyLevels);
        write();
    }

    public synchronized void tamperEnforce(boolean enforce) {
        value.set(JAVA_INT, Config.TAMPER_ENFORCE, enforce ? 1 : 0);
        write();
    }

    private void write() {
        map.update(key, value);
    }
}
