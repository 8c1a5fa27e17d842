package io.agentguard.enforce;

import io.agentguard.bpf.BpfMap;
import io.agentguard.bpf.MapImage;
import io.agentguard.bpf.StateDrift;
import io.agentguard.config.Policy;
import io.agentguard.net.IpPrefix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.agentguard.abi.KernelAbi;
import io.agentguard.abi.KernelAbi.EgressKey;
import io.agentguard.abi.KernelAbi.EgressRule;
import io.agentguard.abi.KernelAbi.EgressValue;
import io.agentguard.abi.KernelAbi.ExeKey;
import io.agentguard.abi.KernelAbi.ExecNameKey;
import io.agentguard.abi.KernelAbi.ExecPathKey;
import io.agentguard.abi.KernelAbi.PolicyRootKey;

import static io.agentguard.abi.KernelAbi.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Writes policies into the kernel maps without a moment of half-written policy: the maps
 * hold two generations; a change is written completely into the one not in force, then a
 * single update of the config map (generation and policy levels together) switches the
 * programs to it, and only then is the old generation deleted.
 *
 * <p>Every write goes through a {@link MapImage} of its map, so that {@link #verify} can
 * find entries someone else removed, changed or added, and put them back as written.
 */
public final class PolicyMaps {
    /** A policy and where it applies: the cgroup's id and level (unused for the default). */
    public record Placed(Policy policy, long cgroupId, int level, boolean enforce) {
    }

    /** Callback that writes the config map with the given generation and policy levels. */
    @FunctionalInterface
    public interface ConfigFlip {
        void write(int generation, long policyLevels);
    }

    private final MapImage policies;
    private final MapImage roots;
    private final MapImage egress;
    private final MapImage execNames;
    private final MapImage execPaths;
    private final MapImage execExes;
    private final MapImage computeExes;
    private final ConfigFlip flip;
    private int generation;

    /** exec deny paths and compute executables are host files: their identities are read under host_root. */
    private final io.agentguard.process.HostRoot host;

    public PolicyMaps(BpfMap policies, BpfMap roots, BpfMap egress, BpfMap execNames, BpfMap execPaths,
                      BpfMap execExes, BpfMap computeExes, int generationInForce, ConfigFlip flip,
                      io.agentguard.process.HostRoot host) {
        this.host = host;
        // slots of the array are overwritten, never deleted: only those written are checked
        this.policies = new MapImage(policies, false, null);
        this.roots = new MapImage(roots, true, null);
        this.egress = new MapImage(egress, true, null);
        this.execNames = new MapImage(execNames, true, null);
        this.execPaths = new MapImage(execPaths, true, null);
        this.execExes = new MapImage(execExes, true, null);
        this.computeExes = new MapImage(computeExes, true, null);
        this.generation = generationInForce;
        this.flip = flip;
        clearGeneration(generationInForce ^ 1);
    }

    /** Deletes whatever a previous run left in a generation (adopted pinned maps). */
    private void clearGeneration(int gen) {
        roots.deleteIf(k -> k.get(JAVA_INT, PolicyRootKey.GENERATION) == gen);
        egress.deleteIf(k -> k.get(JAVA_INT, EgressKey.POLICY) / AG_MAX_POLICIES == gen);
        for (MapImage m : List.of(execNames, execPaths, execExes, computeExes)) {
            m.deleteIf(k -> k.get(JAVA_INT, 0) / AG_MAX_POLICIES == gen);   // the policy slot leads each key
        }
    }

    /**
     * Compares the maps with what was written for the generation in force and puts back what
     * someone else removed, changed or added (housekeeping thread). Empty when all is as written.
     */
    public synchronized List<StateDrift> verify() {
        List<StateDrift> drift = new ArrayList<>();
        for (MapImage m : List.of(policies, roots, egress, execNames, execPaths, execExes, computeExes)) {
            StateDrift d = m.verify();
            if (d != null) {
                drift.add(d);
            }
        }
        return drift;
    }

    public int generation() {
        return generation;
    }

    /**
     * Writes the default policy (slot 0) and the cgroup policies (slots 1..) into the other
     * generation and switches to it. {@code extraDeny} adds blocked destinations per slot.
     */
    public synchronized void apply(Placed defaultPolicy, List<Placed> cgroupPolicies, Map<Integer, List<Policy.EgressEntry>> extraDeny) {
        int next = generation ^ 1;
        // a change that failed before its switch left part of itself in `next`: start clean
        clearGeneration(next);
        long levels = 0;
        try (Arena arena = Arena.ofConfined()) {
            List<Placed> all = new ArrayList<>();
            all.add(defaultPolicy);
            all.addAll(cgroupPolicies);
            for (int index = 0; index < all.size(); index++) {
                Placed p = all.get(index);
                int slot = next * AG_MAX_POLICIES + index;
                writePolicy(arena, slot, p);
                if (index > 0) {
                    MemorySegment key = arena.allocate(PolicyRootKey.SIZEOF, 8);
                    key.set(JAVA_INT, PolicyRootKey.GENERATION, next);
                    key.set(JAVA_LONG, PolicyRootKey.CGROUP_ID, p.cgroupId());
                    MemorySegment value = arena.allocate(4, 4);
                    value.set(JAVA_INT, 0, index);
                    put(roots, key, value);
                    levels |= 1L << p.level();
                }
                List<Policy.EgressEntry> entries = new ArrayList<>(extraDeny.getOrDefault(index, List.of()));
                entries.addAll(p.policy().egress());
                writeEgress(arena, slot, entries);
                for (String name : p.policy().execDenyNames()) {
                    put(execNames, textKey(arena, ExecNameKey.SIZEOF, ExecNameKey.POLICY, slot, ExecNameKey.NAME,
                            AG_COMM_LEN - 1, name), one(arena));
                }
                for (String path : p.policy().execDenyPaths()) {
                    put(execPaths, textKey(arena, ExecPathKey.SIZEOF, ExecPathKey.POLICY, slot, ExecPathKey.PATH,
                            AG_PATH_MAX - 1, path), one(arena));
                    // what the path names now; a path with no file yet is resolved by the recheck once it has one
                    FileIdentity id = FileIdentity.of(host.resolve(path));
                    if (id != null) {
                        put(execExes, exeKey(arena, slot, id), one(arena));
                    }
                }
                for (String exe : p.policy().computeExecutables()) {
                    FileIdentity id = FileIdentity.of(host.resolve(exe));
                    if (id == null) {
                        continue;   // checked at load; a file removed since cannot be allowed anyway
                    }
                    put(computeExes, exeKey(arena, slot, id), one(arena));
                }
            }
            flip.write(next, levels);   // one map update: the programs now read generation `next`
            generation = next;
            // the retired generation goes (with a previous run's entries in adopted maps): it would
            // come back into force at the next switch
            clearGeneration(next ^ 1);
        }
    }

    private static MemorySegment one(Arena arena) {
        MemorySegment v = arena.allocate(1);
        v.set(JAVA_BYTE, 0, (byte) 1);
        return v;
    }

    private static void put(MapImage map, MemorySegment key, MemorySegment value) {
        map.update(key, value);
    }

    private void writePolicy(Arena arena, int slot, Placed p) {
        Policy pol = p.policy();
        int flags = (p.enforce() ? AG_POLICY_ENFORCE : 0) | (pol.egressDefaultDeny() ? AG_POLICY_EGRESS_DEFAULT_DENY : 0)
                | (pol.computeAllowed() ? AG_POLICY_COMPUTE_ALLOWED : 0) | (pol.gpuAll() ? AG_POLICY_GPU_ALL : 0)
                | (pol.execDenyFileless() ? AG_POLICY_EXEC_DENY_FILELESS : 0)
                | (pol.execDenyLoader() ? AG_POLICY_EXEC_DENY_LOADER : 0)
                | (pol.rawSocketsAllowed() ? AG_POLICY_RAW_SOCKETS_ALLOWED : 0)
                | (pol.unixOutsideDeny() ? AG_POLICY_UNIX_OUTSIDE_DENY : 0)
                | shellFlags(pol)
                | tunnelFlags(pol);
        MemorySegment key = arena.allocate(4, 4);
        key.set(JAVA_INT, 0, slot);
        MemorySegment value = arena.allocate(KernelAbi.Policy.SIZEOF, 8);
        value.set(JAVA_INT, KernelAbi.Policy.FLAGS, flags);
        value.set(JAVA_LONG, KernelAbi.Policy.GPU_ALLOWED, pol.gpuAllowed());
        policies.update(key, value);   // array slots are overwritten, never deleted
    }

    /** egress.tunnels: deny. */
    private static int tunnelFlags(Policy pol) {
        return pol.tunnelDeny() ? AG_POLICY_TUNNEL_DENY : 0;
    }

    /** Groups entries by network; each network's value lists its port/protocol rules in order. */
    private void writeEgress(Arena arena, int slot, List<Policy.EgressEntry> entries) {
        Map<String, List<Policy.EgressEntry>> byNetwork = new LinkedHashMap<>();
        for (Policy.EgressEntry e : entries) {
            byNetwork.computeIfAbsent(Arrays.toString(e.range()) + "/" + e.prefixBits(), k -> new ArrayList<>()).add(e);
        }
        for (List<Policy.EgressEntry> network : byNetwork.values()) {
            Policy.EgressEntry first = network.getFirst();
            MemorySegment key = arena.allocate(EgressKey.SIZEOF, 4);
            key.set(JAVA_INT, EgressKey.PREFIXLEN, 32 + first.prefixBits());
            key.set(JAVA_INT, EgressKey.POLICY, slot);
            long hi = first.range()[0];
            long lo = first.range()[1];
            for (int i = 0; i < 8; i++) {
                key.set(JAVA_BYTE, EgressKey.ADDR + i, (byte) (hi >>> (56 - 8 * i)));
                key.set(JAVA_BYTE, EgressKey.ADDR + 8 + i, (byte) (lo >>> (56 - 8 * i)));
            }
            MemorySegment value = arena.allocate(EgressValue.SIZEOF, 4);
            int count = Math.min(network.size(), AG_EGRESS_RULES);
            value.set(JAVA_INT, EgressValue.COUNT, count);
            for (int i = 0; i < count; i++) {
                Policy.EgressEntry e = network.get(i);
                long at = EgressValue.RULES + i * EgressRule.SIZEOF;
                value.set(JAVA_BYTE, at + EgressRule.ACTION, (byte) (e.allow() ? AG_EGRESS_ALLOW : AG_EGRESS_DENY));
                value.set(JAVA_BYTE, at + EgressRule.PROTOCOL, (byte) e.protocol());
                value.set(JAVA_SHORT, at + EgressRule.PORT_LO, (short) e.portLow());
                value.set(JAVA_SHORT, at + EgressRule.PORT_HI, (short) e.portHigh());
            }
            put(egress, key, value);
        }
    }

    /** (policy slot, kernel s_dev, inode): the key the BPF programs build from a file they see. */
    private static MemorySegment exeKey(Arena arena, int slot, FileIdentity id) {
        MemorySegment key = arena.allocate(ExeKey.SIZEOF, 8);
        key.set(JAVA_INT, ExeKey.POLICY, slot);
        key.set(JAVA_LONG, ExeKey.DEV, id.dev());
        key.set(JAVA_LONG, ExeKey.INO, id.ino());
        return key;
    }

    /** For a blocked destination: a deny entry for one address (and port, 0 = any). */
    public static Policy.EgressEntry denyEntry(String address, int protocol, int port) {
        String cidr = address.contains(":") ? address + "/128" : address + "/32";
        return new Policy.EgressEntry(false, cidr + (port != 0 ? " " + port : ""), IpPrefix.range(cidr),
                IpPrefix.bits(cidr), protocol, port == 0 ? 0 : port, port == 0 ? 65535 : port);
    }

    /** A (policy slot, NUL-padded text of at most maxBytes) map key, zero-filled as the kernel compares it whole. */
    private static MemorySegment textKey(Arena arena, long keySize, long policyOffset, int slot, long textOffset,
                                         int maxBytes, String text) {
        MemorySegment key = arena.allocate(keySize, 4);
        key.set(JAVA_INT, policyOffset, slot);
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        MemorySegment.copy(b, 0, key, JAVA_BYTE, textOffset, Math.min(b.length, maxBytes));
        return key;
    }

    /** egress.shells: deny and exec.deny_socket_shell (the reverse-shell keys). */
    static int shellFlags(Policy pol) {
        return (pol.shellConnectDeny() ? AG_POLICY_SHELL_CONNECT_DENY : 0)
                | (pol.execDenySocketShell() ? AG_POLICY_EXEC_DENY_SOCKET_SHELL : 0)
                | (pol.protocolsDeny() ? AG_POLICY_APP_PROTO_DENY : 0);
    }
}
