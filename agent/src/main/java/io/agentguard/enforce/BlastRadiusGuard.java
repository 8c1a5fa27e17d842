package io.agentguard.enforce;

import java.util.HashMap;
import java.util.Map;

/**
 * Stops kill actions from taking down a fleet because of one bad rule: when kills would
 * hit more than {@code maxTargets} distinct targets (cgroups or executables) within
 * {@code windowNs}, the guard disarms and stays disarmed (actions are reported, not
 * carried out) until it is re-armed (a rules reload or a restart). Enforcer thread only.
 */
public final class BlastRadiusGuard {
    private final int maxTargets;
    private final long windowNs;
    private final Map<String, Long> lastSeen = new HashMap<>();
    private boolean disarmed;

    public BlastRadiusGuard(int maxTargets, long windowNs) {
        this.maxTargets = maxTargets;
        this.windowNs = windowNs;
    }

    /** Whether a kill on target may go ahead now; false once the guard has tripped. */
    public boolean allow(String target, long nowNs) {
        if (disarmed) {
            return false;
        }
        lastSeen.entrySet().removeIf(e -> e.getValue() < nowNs - windowNs);
        lastSeen.put(target, nowNs);
        if (lastSeen.size() > maxTargets) {
            disarmed = true;
            return false;
        }
        return true;
    }

    public boolean disarmed() {
        return disarmed;
    }

    public void rearm() {
        disarmed = false;
        lastSeen.clear();
    }
}
