package io.agentguard.bpf;

/**
 * One difference between agentguard's kernel objects and what the kernel holds: a link
 * detached or replaced, a pin removed or pointing elsewhere, a map entry removed, changed or
 * added by someone else, a program another loader attached at an agent cgroup.
 *
 * @param object   the kind of object, a metric label: "link", "pin", "map" or "program"
 * @param name     which one: "ag_connect4@11729", "ag_scope_roots", the pin directory
 * @param drift    what was found, for people
 * @param repaired whether agentguard put it back as it was
 * @param repair   what was done, or why it could not be
 */
public record StateDrift(String object, String name, String drift, boolean repaired, String repair) {
    /** Every object kind a drift names (agentguard_state_drift_total lists each from 0). */
    public static final java.util.List<String> OBJECTS = java.util.List.of("link", "pin", "map", "program");

    public static StateDrift repaired(String object, String name, String drift, String repair) {
        return new StateDrift(object, name, drift, true, repair);
    }

    public static StateDrift unrepaired(String object, String name, String drift, String why) {
        return new StateDrift(object, name, drift, false, why);
    }

    /** One line: "link ag_connect4@11729: detached from its cgroup; repaired: attached anew". */
    @Override
    public String toString() {
        return object + " " + name + ": " + drift + (repaired ? "; repaired: " : "; not repaired: ") + repair;
    }
}
