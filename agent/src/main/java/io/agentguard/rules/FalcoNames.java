package io.agentguard.rules;

import java.util.Map;

/**
 * Falco's names for what agentguard's rules call otherwise, for "did you mean" in errors: a
 * rule written for Falco (or from memory of it) gets the agentguard name at once, e.g.
 * {@code unknown field 'fd.sip' (Falco name; agentguard: conn.addr)}. Only names whose meaning
 * carries over are listed.
 */
final class FalcoNames {
    private static final Map<String, String> FIELDS = Map.ofEntries(
            Map.entry("fd.sip", "conn.addr"),
            Map.entry("fd.rip", "conn.addr"),
            Map.entry("fd.cip", "conn.addr"),
            Map.entry("fd.ip", "conn.addr"),
            Map.entry("fd.sport", "conn.port"),
            Map.entry("fd.rport", "conn.port"),
            Map.entry("fd.cport", "conn.port"),
            Map.entry("fd.port", "conn.port"),
            Map.entry("fd.l4proto", "conn.proto"),
            Map.entry("fd.sockfamily", "conn.family"),
            Map.entry("fd.name", "conn.unix_path"),
            Map.entry("proc.exepath", "proc.exe"),
            Map.entry("proc.pexepath", "proc.pexe"),
            Map.entry("user.uid", "proc.uid"),
            Map.entry("group.gid", "proc.gid"),
            Map.entry("container.type", "container.runtime"),
            Map.entry("container.image", "container.name (images are not known; container.runtime, container.full_id)"),
            Map.entry("k8s.ns.id", "k8s.ns.name"),
            Map.entry("k8s.pod.id", "k8s.pod.uid"));
    private static final Map<String, String> EVENT_TYPES = Map.of(
            "execve", "exec",
            "execveat", "exec",
            "clone", "fork",
            "clone3", "fork",
            "vfork", "fork",
            "procexit", "exit",
            "sendto", "connect",
            "sendmsg", "connect");
    private static final Map<String, String> MACROS = Map.of(
            "spawned_process", "evt.type = exec",
            "proc_is_new", "evt.type = exec",
            "outbound", "inet_connect (a macro of the default pack)",
            "inbound_outbound", "inet_connect (a macro of the default pack)");

    private FalcoNames() {
    }

    /** The agentguard field for a Falco field name, or null. */
    static String field(String falcoName) {
        return FIELDS.get(falcoName);
    }

    /** The agentguard event type for a Falco evt.type value, or null. */
    static String eventType(String falcoType) {
        return EVENT_TYPES.get(falcoType);
    }

    /** What to write instead of a Falco macro of the default Falco rules, or null. */
    static String macro(String falcoMacro) {
        return MACROS.get(falcoMacro);
    }
}
