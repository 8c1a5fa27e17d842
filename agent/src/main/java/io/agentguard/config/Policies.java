package io.agentguard.config;

import io.agentguard.net.IpPrefix;

import java.util.List;

/** The policy an agent cgroup gets when nobody wrote one, and helpers for policy values. */
public final class Policies {
    /** Index 0 of each generation is the default policy. */
    public static final int MAX_CGROUP_POLICIES = io.agentguard.abi.KernelAbi.AG_MAX_POLICIES - 1;

    /** Known miner binaries: never run in an agent cgroup by default (docs/ENFORCEMENT.md, day-one default). */
    public static final List<String> MINER_NAMES = List.of("xmrig", "xmrig-cuda", "xmr-stak", "t-rex", "lolMiner",
            "lolminer", "nbminer", "gminer", "ethminer", "phoenixminer", "PhoenixMiner", "teamredminer", "nanominer",
            "bzminer", "SRBMiner-MULTI", "srbminer", "rigel", "onezerominer", "miniz", "kawpowminer", "cryptodredge",
            "CryptoDredge", "wildrig", "bminer", "cpuminer", "ccminer", "minerd", "cgminer", "bfgminer", "sgminer",
            "claymore");

    /**
     * What is safe to enforce on day one: no NVIDIA device and no compute context, no cloud
     * metadata service, no known miner binary; other egress allowed (and reported).
     */
    public static final Policy SAFE_DEFAULT = new Policy("", null, false, List.of(
            entry(false, "169.254.169.254/32"), entry(false, "fd00:ec2::254/128")),
            false, 0, false, List.of(), MINER_NAMES, List.of());

    /** Everything allowed: observe and report only (what the event pipeline alone does). */
    public static final Policy UNRESTRICTED = new Policy("", null, false, List.of(), true, 0, true, List.of(), List.of(),
            List.of(), List.of(), false, false, true, false);

    private Policies() {
    }

    static Policy.EgressEntry entry(boolean allow, String cidr) {
        return new Policy.EgressEntry(allow, cidr, IpPrefix.range(cidr), IpPrefix.bits(cidr), 0, 0, 65535);
    }

    static long[] parseCidr(String text) {
        return IpPrefix.range(text);
    }

    static int prefixBits(String text) {
        return IpPrefix.bits(text);
    }
}
