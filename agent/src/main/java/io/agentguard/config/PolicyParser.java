package io.agentguard.config;

import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The policies section of agentguard.yaml (docs/CONFIG.md, "Policies"): the default policy
 * and the cgroup policies, each validated where it is written (CIDRs, ports, contradictions,
 * GPU indexes, executables), with errors at file:line:col.
 */
final class PolicyParser {
    /** The default policy and the cgroup policies, in file order. */
    record Parsed(Policy defaultPolicy, List<Policy> cgroupPolicies) {
    }

    private final YamlNodes nodes;
    /** compute_executables are host files: checked under host_root. */
    private final io.agentguard.process.HostRoot hostRoot;

    PolicyParser(YamlNodes nodes, io.agentguard.process.HostRoot hostRoot) {
        this.nodes = nodes;
        this.hostRoot = hostRoot;
    }

    /** @param policiesNode the section, or null when the file has none */
    Parsed parse(MappingNode policiesNode) {
        Policy defaultPolicy = Policies.SAFE_DEFAULT;
        List<Policy> cgroupPolicies = new ArrayList<>();
        if (policiesNode != null) {
            for (NodeTuple t : policiesNode.getValue()) {
                String k = nodes.key(t, Set.of("default", "cgroups"));
                if (k.equals("default")) {
                    defaultPolicy = policy(nodes.mapping(t.getValueNode(), "policies.default"), "", Policies.SAFE_DEFAULT);
                }
            }
            for (NodeTuple t : policiesNode.getValue()) {
                if (((ScalarNode) t.getKeyNode()).getValue().equals("cgroups")) {
                    if (!(t.getValueNode() instanceof SequenceNode seq)) {
                        throw new ConfigException(nodes.where(t.getValueNode()) + "policies.cgroups: expected a list of policies");
                    }
                    for (Node item : seq.getValue()) {
                        MappingNode m = nodes.mapping(item, "policies.cgroups item");
                        Node cg = m.getValue().stream().filter(x -> ((ScalarNode) x.getKeyNode()).getValue().equals("cgroup"))
                                .map(NodeTuple::getValueNode).findFirst()
                                .orElseThrow(() -> new ConfigException(nodes.where(m) + "a cgroup policy needs 'cgroup'"));
                        String path = nodes.string(cg, "cgroup").replaceAll("^/+|/+$", "");
                        String written = ((ScalarNode) cg).getValue();
                        int glob = io.agentguard.scope.CgroupPattern.isPattern(written)
                                ? Math.min(written.indexOf('*') < 0 ? Integer.MAX_VALUE : written.indexOf('*'),
                                written.indexOf('?') < 0 ? Integer.MAX_VALUE : written.indexOf('?')) : -1;
                        if (glob >= 0) {
                            // a pattern here would be taken as a literal directory name: refused where written
                            throw new ConfigException(nodes.whereInScalar((ScalarNode) cg, glob) + "policies.cgroups: '"
                                    + written + "': patterns are not supported in a policy's cgroup yet (agent_cgroups"
                                    + " only); name the cgroup, or a parent of the matched cgroups");
                        }
                        if (cgroupPolicies.stream().anyMatch(p -> p.cgroup().equals(path))) {
                            throw new ConfigException(nodes.where(cg) + "cgroup '" + path + "' has a policy already");
                        }
                        cgroupPolicies.add(policy(m, path, defaultPolicy));
                    }
                }
            }
            if (cgroupPolicies.size() > Policies.MAX_CGROUP_POLICIES) {
                throw new ConfigException(nodes.source() + ": at most " + Policies.MAX_CGROUP_POLICIES + " cgroup policies");
            }
        }
        return new Parsed(defaultPolicy, cgroupPolicies);
    }

    private Policy policy(MappingNode m, String cgroup, Policy base) {
        Boolean mode = base.enforce();
        boolean egressDeny = base.egressDefaultDeny();
        List<Policy.EgressEntry> egress = base.egress();
        boolean gpuAll = base.gpuAll();
        long gpuAllowed = base.gpuAllowed();
        boolean compute = base.computeAllowed();
        List<String> computeExes = base.computeExecutables();
        List<String> denyNames = base.execDenyNames();
        List<String> denyPaths = base.execDenyPaths();
        List<String> denySha256 = base.execDenySha256();
        boolean denyFileless = base.execDenyFileless();
        boolean denyLoader = base.execDenyLoader();
        boolean rawSockets = base.rawSocketsAllowed();
        boolean unixOutsideDeny = base.unixOutsideDeny();
        boolean shellsDeny = base.shellConnectDeny();
        boolean denySocketShell = base.execDenySocketShell();
        boolean tunnelDeny = base.tunnelDeny();
        boolean protocolsDeny = base.protocolsDeny();
        for (NodeTuple t : m.getValue()) {
            String k = nodes.key(t, Set.of("cgroup", "mode", "egress", "gpu", "exec"));
            Node v = t.getValueNode();
            switch (k) {
                case "cgroup" -> {
                }
                case "mode" -> mode = nodes.oneOf(v, "mode", "monitor", "enforce").equals("enforce");
                case "egress" -> {
                    egress = new ArrayList<>();
                    egressDeny = false;
                    rawSockets = false;        // keys left out of an egress section take their defaults
                    unixOutsideDeny = false;
                    shellsDeny = false;
                    tunnelDeny = false;
                    protocolsDeny = false;
                    for (NodeTuple e : nodes.mapping(v, "egress").getValue()) {
                        String ek = nodes.key(e, Set.of("default", "allow", "deny", "raw_sockets", "unix_outside", "shells",
                                "tunnels", "protocols"));
                        switch (ek) {
                            case "tunnels" -> tunnelDeny = tunnels(e.getValueNode());
                            case "default" -> egressDeny = nodes.oneOf(e.getValueNode(), "egress.default", "allow", "deny")
                                    .equals("deny");
                            case "raw_sockets" -> rawSockets = nodes.oneOf(e.getValueNode(), "egress.raw_sockets", "allow",
                                    "deny").equals("allow");
                            case "unix_outside" -> unixOutsideDeny = nodes.oneOf(e.getValueNode(), "egress.unix_outside",
                                    "allow", "deny").equals("deny");
                            case "shells" -> shellsDeny = shells(e.getValueNode());
                            case "protocols" -> protocolsDeny = nodes.oneOf(e.getValueNode(), "egress.protocols", "allow",
                                    "deny").equals("deny");
                            default -> {
                                if (!(e.getValueNode() instanceof SequenceNode seq)) {
                                    throw new ConfigException(nodes.where(e.getValueNode()) + "egress." + ek
                                            + ": expected a list of \"CIDR [tcp|udp][/PORT[-PORT]]\"");
                                }
                                for (Node entry : seq.getValue()) {
                                    egress.add(egressEntry(entry, ek.equals("allow")));
                                }
                            }
                        }
                    }
                    checkContradictions(egress, v);
                }
                case "gpu" -> {
                    for (NodeTuple g : nodes.mapping(v, "gpu").getValue()) {
                        String gk = nodes.key(g, Set.of("devices", "compute", "compute_executables"));
                        Node gv = g.getValueNode();
                        switch (gk) {
                            case "devices" -> {
                                gpuAll = false;
                                gpuAllowed = 0;
                                if (gv instanceof ScalarNode s && s.getValue().equals("all")) {
                                    gpuAll = true;
                                } else if (gv instanceof ScalarNode s && s.getValue().equals("none")) {
                                    gpuAllowed = 0;
                                } else if (gv instanceof SequenceNode seq) {
                                    for (Node d : seq.getValue()) {
                                        long index = nodes.integer(d, "gpu.devices item", 0, 63);
                                        gpuAllowed |= 1L << index;
                                    }
                                } else {
                                    throw new ConfigException(nodes.where(gv) + "gpu.devices: expected none, all, or a list of"
                                            + " GPU indexes (0..63)");
                                }
                            }
                            case "compute" -> compute = nodes.bool(gv, "gpu.compute");
                            default -> {
                                computeExes = nodes.strings(gv, "gpu.compute_executables");
                                for (int i = 0; i < computeExes.size(); i++) {
                                    java.nio.file.Path exe = java.nio.file.Path.of(computeExes.get(i));
                                    if (!exe.isAbsolute() || !java.nio.file.Files.isRegularFile(hostRoot.resolve(exe))) {
                                        throw new ConfigException(nodes.where(((SequenceNode) gv).getValue().get(i))
                                                + "gpu.compute_executables: '" + exe + "' is not an existing file"
                                                + " (absolute path; it is identified by its inode)");
                                    }
                                }
                            }
                        }
                    }
                }
                default -> {
                    for (NodeTuple x : nodes.mapping(v, "exec").getValue()) {
                        String xk = nodes.key(x, Set.of("deny", "deny_sha256", "deny_fileless", "deny_loader",
                                "deny_socket_shell"));
                        Node xv = x.getValueNode();
                        switch (xk) {
                            case "deny" -> {
                                List<String> deny = nodes.strings(xv, "exec.deny");
                                denyNames = deny.stream().filter(d -> !d.contains("/")).toList();
                                denyPaths = deny.stream().filter(d -> d.contains("/")).toList();
                                for (String d : denyPaths) {
                                    if (!d.startsWith("/") || d.length() > 255) {
                                        throw new ConfigException(nodes.where(xv) + "exec.deny: '" + d
                                                + "' is neither a name (no '/') nor an absolute path of at most 255 bytes");
                                    }
                                }
                            }
                            case "deny_sha256" -> {
                                denySha256 = nodes.strings(xv, "exec.deny_sha256").stream()
                                        .map(h -> h.toLowerCase(java.util.Locale.ROOT)).toList();
                                for (int i = 0; i < denySha256.size(); i++) {
                                    if (!denySha256.get(i).matches("[0-9a-f]{64}")) {
                                        throw new ConfigException(nodes.where(((SequenceNode) xv).getValue().get(i))
                                                + "exec.deny_sha256: '" + denySha256.get(i)
                                                + "' is not a SHA-256 digest (64 hex digits)");
                                    }
                                }
                            }
                            case "deny_fileless" -> denyFileless = nodes.bool(xv, "exec.deny_fileless");
                            case "deny_socket_shell" -> denySocketShell = nodes.bool(xv, "exec.deny_socket_shell");
                            default -> denyLoader = nodes.bool(xv, "exec.deny_loader");
                        }
                    }
                }
            }
        }
        return new Policy(cgroup, mode, egressDeny, egress, gpuAll, gpuAllowed, compute, computeExes, denyNames, denyPaths,
                denySha256, denyFileless, denyLoader,
                rawSockets, unixOutsideDeny)
                .withShellKeys(shellsDeny, denySocketShell).withTunnelDeny(tunnelDeny)
                .withProtocolsDeny(protocolsDeny);
    }

    /** egress.shells: deny (shells and socket relays reach only explicit allows and 127.0.0.1/::1) or allow. */
    private boolean shells(Node v) {
        return nodes.oneOf(v, "egress.shells", "allow", "deny").equals("deny");
    }

    /** egress.tunnels: deny (true) or allow. */
    private boolean tunnels(Node v) {
        return nodes.oneOf(v, "egress.tunnels", "allow", "deny").equals("deny");
    }

    /** "CIDR", "CIDR tcp", "CIDR 22", "CIDR tcp/22", "CIDR udp/1000-2000". */
    private Policy.EgressEntry egressEntry(Node n, boolean allow) {
        String text = nodes.string(n, "egress entry").trim();
        String[] parts = text.split("\\s+");
        if (parts.length > 2) {
            throw new ConfigException(nodes.where(n) + "egress entry '" + text + "': expected \"CIDR [tcp|udp][/PORT[-PORT]]\"");
        }
        long[] range;
        int prefix;
        try {
            range = Policies.parseCidr(parts[0]);
            prefix = Policies.prefixBits(parts[0]);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(nodes.where(n) + "invalid CIDR '" + parts[0] + "' (" + e.getMessage() + ")");
        }
        int protocol = 0;
        int lo = 0;
        int hi = 65535;
        if (parts.length == 2) {
            String spec = parts[1];
            String ports = spec;
            if (spec.startsWith("tcp") || spec.startsWith("udp")) {
                protocol = spec.startsWith("tcp") ? 6 : 17;
                ports = spec.length() > 3 && spec.charAt(3) == '/' ? spec.substring(4) : spec.length() == 3 ? "" : null;
            }
            if (ports == null) {
                throw new ConfigException(nodes.where(n) + "egress entry '" + text + "': bad protocol/port '" + spec + "'");
            }
            if (!ports.isEmpty()) {
                try {
                    String[] r = ports.split("-", 2);
                    lo = Integer.parseInt(r[0]);
                    hi = r.length == 2 ? Integer.parseInt(r[1]) : lo;
                } catch (NumberFormatException e) {
                    throw new ConfigException(nodes.where(n) + "egress entry '" + text + "': bad port '" + ports + "'");
                }
                if (lo < 0 || hi > 65535 || lo > hi) {
                    throw new ConfigException(nodes.where(n) + "egress entry '" + text + "': ports must be 0..65535, low <= high");
                }
            }
        }
        return new Policy.EgressEntry(allow, text, range, prefix, protocol, lo, hi);
    }

    private void checkContradictions(List<Policy.EgressEntry> entries, Node at) {
        for (int i = 0; i < entries.size(); i++) {
            for (int j = i + 1; j < entries.size(); j++) {
                Policy.EgressEntry a = entries.get(i);
                Policy.EgressEntry b = entries.get(j);
                if (a.allow() != b.allow() && java.util.Arrays.equals(a.range(), b.range()) && a.overlaps(b)) {
                    throw new ConfigException(nodes.where(at) + "egress: '" + a.text() + "' (" + (a.allow() ? "allow" : "deny")
                            + ") contradicts '" + b.text() + "' (" + (b.allow() ? "allow" : "deny") + ")");
                }
            }
        }
        java.util.Map<String, Long> perNetwork = new java.util.HashMap<>();
        for (Policy.EgressEntry e : entries) {
            long n = perNetwork.merge(java.util.Arrays.toString(e.range()), 1L, Long::sum);
            if (n > io.agentguard.abi.KernelAbi.AG_EGRESS_RULES) {
                throw new ConfigException(nodes.where(at) + "egress: more than " + io.agentguard.abi.KernelAbi.AG_EGRESS_RULES
                        + " entries for the network of '" + e.text() + "'");
            }
        }
    }

}
