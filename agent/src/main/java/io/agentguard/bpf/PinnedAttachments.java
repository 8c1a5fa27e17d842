package io.agentguard.bpf;

import io.agentguard.log.Log;

import java.util.HashSet;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Attaches programs so that a restart leaves no gap: with pinning, an attachment a previous
 * run pinned is adopted instead of made again (no gap, no duplicate), a new one is pinned,
 * and pinned attachments this configuration no longer wants are removed.
 */
public final class PinnedAttachments {
    private final BpfPins pins;   // null: no pinning
    private final Set<String> wanted = new HashSet<>();
    private int adopted;

    public PinnedAttachments(BpfPins pins) {
        this.pins = pins;
    }

    /** Attaches (or adopts) under a pin name: the program's, "@cgroup id" added for cgroup attachments. */
    public synchronized void attach(String name, Supplier<BpfLink> attach) {
        wanted.add(name);
        if (pins != null && pins.linkPinned(name)) {
            adopted++;
            return;
        }
        BpfLink link = attach.get();
        if (pins != null) {
            link.pin(pins.linkPath(name));
        }
    }

    public synchronized boolean pinned(String name) {
        return pins != null && pins.linkPinned(name);
    }

    /**
     * Removes the pins of attachments this configuration does not make (another agent cgroup,
     * say), except those attached later on demand, which {@code lazy} names.
     */
    public synchronized void unpinStale(java.util.function.Predicate<String> lazy, Log log) {
        if (pins == null) {
            return;
        }
        for (String name : pins.pinnedLinks()) {
            if (!wanted.contains(name) && !lazy.test(name)) {
                pins.unpinLink(name);
                log.info("removed pinned link " + name + " (not in this configuration)");
            }
        }
    }

    public synchronized int adopted() {
        return adopted;
    }

    public synchronized int made() {
        return wanted.size() - adopted;
    }
}
