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
    private final MemorySegment key = Arena.ofAuto().allocate(4, 4);
    private final MemorySegment value = Arena.ofAuto().allocate(Config.SIZEOF, 8);

    /** Starts from what the map holds: an adopted map keeps its generation and scope until they are rewritten. */
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

    /** Root levels and how many scope patterns the kernel's mkdir/rename programs match, in one update. */
    public synchronized void scope(long levelMask, int patterns) {
        value.set(JAVA_LONG, Config.SCOPE_LEVELS, levelMask);
        value.set(JAVA_INT, Config.SCOPE_PATTERNS, patterns);
        write();
    }

    /**
     * This run's settings, in one update: what a previous run's adopted entry said about them
     * (syscall outcomes attached, say) no longer holds until this run says so again.
     *
     * @param wakeup AG_WAKEUP_*
     */
    public synchronized void start(int maxArgsBytes, int wakeup, int daemonTgid, boolean tamperEnforce) {
        value.set(JAVA_INT, Config.MAX_ARGS_BYTES, maxArgsBytes);
        value.set(JAVA_INT, Config.RINGBUF_WAKEUP, wakeup);
        value.set(JAVA_INT, Config.DAEMON_TGID, daemonTgid);
        value.set(JAVA_INT, Config.TAMPER_ENFORCE, tamperEnforce ? 1 : 0);
        value.set(JAVA_INT, Config.SYSCALL_OUTCOMES, 0);
        write();
    }

    /** Per agent cgroup record budgets, and the ring share ordinary records leave to priority ones. */
    public synchronized void recordLimits(int recordsPerSecond, int priorityPerSecond, int reserveBytes) {
        value.set(JAVA_INT, Config.RECORDS_PER_SECOND, recordsPerSecond);
        value.set(JAVA_INT, Config.PRIORITY_PER_SECOND, priorityPerSecond);
        value.set(JAVA_INT, Config.RING_RESERVE_BYTES, reserveBytes);
        write();
    }

    /** Whether a watched task that leaves the agent cgroups is killed (enforce) or followed (monitor). */
    public synchronized void escapeKill(boolean kill) {
        value.set(JAVA_INT, Config.ESCAPE_KILL, kill ? 1 : 0);
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

    /** The daemon's own cgroup (cgroup v2 id): freezing it from an agent cgroup is tampering. 0: not watched. */
    public synchronized void selfCgroup(long cgroupId) {
        value.set(JAVA_LONG, Config.SELF_CGROUP_ID, cgroupId);
        write();
    }

    public synchronized void tamperEnforce(boolean enforce) {
        value.set(JAVA_INT, Config.TAMPER_ENFORCE, enforce ? 1 : 0);
        write();
    }

    private void write() {
        map.update(key, value);
    }

    /**
     * Compares the map's entry with what was last written here (this is its only writer) and
     * writes it again if someone else changed it. Null when it is as written.
     */
    public synchronized StateDrift verify() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment actual = arena.allocate(Config.SIZEOF, 8);
            if (!map.lookup(key, actual)) {
                actual.fill((byte) 0);
            }
            long at = actual.mismatch(value);
            if (at < 0) {
                return null;
            }
            StringBuilder fields = new StringBuilder();
            for (java.util.Map.Entry<Long, String> f : FIELDS.entrySet()) {
                long end = FIELDS.higherKey(f.getKey()) == null ? Config.SIZEOF : FIELDS.higherKey(f.getKey());
                if (actual.asSlice(f.getKey(), end - f.getKey()).mismatch(value.asSlice(f.getKey(), end - f.getKey())) >= 0) {
                    fields.append(fields.isEmpty() ? "" : ", ").append(f.getValue());
                }
            }
            String drift = "entry changed by someone else (" + fields + ")";
            try {
                write();
            } catch (RuntimeException e) {
                return StateDrift.unrepaired("map", map.name(), drift, e.getMessage());
            }
            return StateDrift.repaired("map", map.name(), drift, "entry written again as agentguard wrote it");
        }
    }

    /** Offset -> field name of struct ag_config, from the generated ABI (fields added later are named too). */
    private static final java.util.TreeMap<Long, String> FIELDS = new java.util.TreeMap<>();

    static {
        for (java.lang.reflect.Field f : Config.class.getFields()) {
            if (f.getType() == long.class && !f.getName().equals("SIZEOF")) {
                try {
                    FIELDS.put(f.getLong(null), f.getName().toLowerCase());
                } catch (IllegalAccessException e) {
                    throw new AssertionError(e);
                }
            }
        }
    }
}
