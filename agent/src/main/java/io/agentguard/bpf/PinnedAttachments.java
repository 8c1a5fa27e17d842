package io.agentguard.bpf;

import io.agentguard.log.Log;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Attaches programs so that a restart leaves no gap, and keeps them attached: with pinning,
 * an attachment a previous run pinned is adopted instead of made again (no gap, no duplicate),
 * but only once the kernel confirms it is still attached where it should be with the program
 * it should run; a new one is pinned, and pinned attachments this configuration no longer
 * wants are removed. Every attachment stays held by an fd, so that removing its pin does not
 * detach it, and {@link #verify} checks each one against the kernel again: one detached
 * (BPF_LINK_DETACH), moved to another program (BPF_LINK_UPDATE) or whose pin was removed or
 * replaced is made again or pinned again, and reported.
 */
public final class PinnedAttachments implements AutoCloseable {
    /**
     * Where an attachment must be: our program, and for a cgroup hook the cgroup's id and the
     * attach type (cgroupId 0: not a cgroup hook).
     */
    public record Target(BpfProgram program, long cgroupId, int attachType) {
        public static Target tracing(BpfProgram program) {
            return new Target(program, 0, 0);
        }
    }

    /** One attachment this run holds. */
    private static final class Held {
        final String name;
        final Target target;
        final Supplier<BpfLink> attach;
        BpfLink link;      // made by this run; null when adopted
        int fd;            // the link's: link.fd(), or one opened on the pin when adopted
        int linkId;
        int progId;        // the program the link runs: ours, or the previous run's equal one when adopted

        Held(String name, Target target, Supplier<BpfLink> attach) {
            this.name = name;
            this.target = target;
            this.attach = attach;
        }
    }

    private final BpfPins pins;   // null: no pinning
    private final Set<Integer> mapIds;
    private final Map<String, Held> held = new LinkedHashMap<>();
    private final Map<String, BpfInfo.Program> ours = new LinkedHashMap<>();
    private final List<StateDrift> adoptionDrift = new ArrayList<>();
    private int adopted;
    private int made;

    /** @param mapIds ids of this run's maps (the pinned ones it reused): an adopted link's program must use only these */
    public PinnedAttachments(BpfPins pins, Set<Integer> mapIds) {
        this.pins = pins;
        this.mapIds = Set.copyOf(mapIds);
    }

    /**
     * Attaches under a pin name (the program's, "@cgroup id" added for cgroup attachments), or
     * adopts the link pinned under that name once the kernel confirms it (attached to
     * target's cgroup, running a program equal to target's and using this run's maps). A pinned
     * link that fails the check is replaced and the finding kept for {@link #adoptionDrift}.
     */
    public synchronized void attach(String name, Target target, Supplier<BpfLink> attach) {
        Held h = new Held(name, target, attach);
        if (pins != null && pins.linkPinned(name)) {
            int fd = BpfInfo.pinned(pins.linkPath(name));
            String problem;
            try {
                problem = fd < 0 ? "its pin cannot be opened (" + Errno.name(-fd) + ")" : check(fd, target, 0);
            } catch (BpfException e) {
                problem = "the kernel cannot describe it: " + e.getMessage();
            }
            if (problem == null) {
                h.fd = fd;
                BpfInfo.Link info = BpfInfo.link(fd);
                h.linkId = info.id();
                h.progId = info.progId();
                held.put(name, h);
                adopted++;
                return;
            }
            if (fd >= 0) {
                Libc.close(fd);
            }
            pins.unpinLink(name);
            make(h);
            adoptionDrift.add(StateDrift.repaired("link", name, "pinned link not adopted: " + problem,
                    "replaced by a new link, pinned"));
            return;
        }
        make(h);
    }

    private void make(Held h) {
        BpfLink link = h.attach.get();
        h.link = link;
        h.fd = link.fd();
        BpfInfo.Link info = BpfInfo.link(h.fd);
        h.linkId = info.id();
        h.progId = info.progId();
        if (pins != null) {
            link.pin(pins.linkPath(h.name));
        }
        held.put(h.name, h);
        made++;
    }

    /**
     * Why the link behind fd is not what target asks for, or null when it is. expectedProgId 0
     * (adoption): any program equal to ours (same type, name and tag, using only our maps).
     */
    private String check(int fd, Target target, int expectedProgId) {
        String kind = BpfInfo.kind(fd);
        if (!kind.equals("bpf-link")) {
            return "what is pinned there is a " + kind + ", not a link";
        }
        BpfInfo.Link link = BpfInfo.link(fd);
        if (target.cgroupId() != 0) {
            if (link.type() != BpfInfo.LINK_TYPE_CGROUP) {
                return "it is not a cgroup link (link type " + link.type() + ")";
            }
            if (link.cgroupId() == 0) {
                return "detached from its cgroup (link id " + link.id() + ": the kernel reports no cgroup)";
            }
            if (link.cgroupId() != target.cgroupId()) {
                return "attached to cgroup id " + link.cgroupId() + " instead of " + target.cgroupId();
            }
            if (link.attachType() != target.attachType()) {
                return "attach type " + link.attachType() + " instead of " + target.attachType();
            }
        }
        BpfInfo.Program mine = ours(target.program());
        if (link.progId() == mine.id() || link.progId() == expectedProgId) {
            return null;
        }
        BpfInfo.Program running = BpfInfo.programById(link.progId());
        if (running == null) {
            return "its program (id " + link.progId() + ") is gone";
        }
        if (expectedProgId != 0 || running.type() != mine.type() || !running.name().equals(mine.name())
                || !running.tag().equals(mine.tag())) {
            return "it runs program '" + running.name() + "' (id " + running.id() + ", tag " + running.tag()
                    + ") instead of " + mine.name() + " (tag " + mine.tag() + ")";
        }
        for (int id : running.mapIds()) {
            if (!mapIds.contains(id)) {
                return "its program uses map id " + id + ", which is not one of agentguard's pinned maps ("
                        + "maps " + Arrays.toString(running.mapIds()) + ")";
            }
        }
        return null;
    }

    private BpfInfo.Program ours(BpfProgram program) {
        return ours.computeIfAbsent(program.name(), n -> BpfInfo.program(program.fd()));
    }

    /** Pinned links that failed the adoption check (and were replaced) since the last call. */
    public synchronized List<StateDrift> adoptionDrift() {
        List<StateDrift> d = List.copyOf(adoptionDrift);
        adoptionDrift.clear();
        return d;
    }

    /**
     * Checks every held attachment with the kernel: still attached where it should be, running
     * the program it ran when made or adopted. One that is not is made again (and pinned in its
     * place). Returns what was found.
     */
    public synchronized List<StateDrift> verify() {
        List<StateDrift> drift = new ArrayList<>();
        for (Held h : List.copyOf(held.values())) {
            String problem;
            try {
                problem = check(h.fd, h.target, h.progId);
            } catch (BpfException e) {
                problem = "the kernel cannot describe it: " + e.getMessage();
            }
            if (problem == null) {
                continue;
            }
            try {
                replace(h);
                drift.add(StateDrift.repaired("link", h.name, problem, "attached anew" + (pins != null ? " and pinned" : "")));
            } catch (RuntimeException e) {
                drift.add(StateDrift.unrepaired("link", h.name, problem, "attaching anew failed: " + e.getMessage()));
            }
        }
        return drift;
    }

    private void replace(Held h) {
        BpfLink old = h.link;
        int oldFd = h.fd;
        BpfLink link = h.attach.get();   // first: the old one may still enforce until this one does
        h.link = link;
        h.fd = link.fd();
        BpfInfo.Link info = BpfInfo.link(h.fd);
        h.linkId = info.id();
        h.progId = info.progId();
        if (pins != null) {
            pins.unpinLink(h.name);
            pins.prepare();
            link.pin(pins.linkPath(h.name));
        }
        if (old != null) {
            old.close();
        } else {
            Libc.close(oldFd);
        }
    }

    /**
     * Checks each held link's pin: present and naming that very link. A removed pin is made
     * again, one replaced by another object is put back. Returns the names, with what happened.
     */
    public synchronized List<BpfPins.Repin> verifyPins() {
        List<BpfPins.Repin> found = new ArrayList<>();
        if (pins == null) {
            return found;
        }
        for (Held h : held.values()) {
            BpfPins.Repin r = pins.repin("links", h.name, h.fd, h.linkId, "bpf-link");
            if (r != null) {
                found.add(r);
            }
        }
        return found;
    }

    /** For each attach type, the ids of the programs this run has attached directly to the cgroup. */
    public synchronized Map<Integer, Set<Integer>> programsAt(long cgroupId) {
        Map<Integer, Set<Integer>> at = new LinkedHashMap<>();
        for (Held h : held.values()) {
            if (h.target.cgroupId() == cgroupId) {
                at.computeIfAbsent(h.target.attachType(), t -> new HashSet<>()).add(h.progId);
            }
        }
        return at;
    }

    public synchronized boolean pinned(String name) {
        return pins != null && pins.linkPinned(name);
    }

    /**
     * Removes the pins of attachments this configuration does not make (another agent cgroup,
     * say), except those attached later on demand, which {@code lazy} names.
     */
    public synchronized void unpinStale(Predicate<String> lazy, Log log) {
        if (pins == null) {
            return;
        }
        for (String name : pins.pinnedLinks()) {
            if (!held.containsKey(name) && !lazy.test(name)) {
                pins.unpinLink(name);
                log.info("removed pinned link " + name + " (not in this configuration)");
            }
        }
    }

    public synchronized int adopted() {
        return adopted;
    }

    public synchronized int made() {
        return made;
    }

    /** Releases the fds held on adopted links (links made by this run close with their object). */
    @Override
    public synchronized void close() {
        for (Held h : held.values()) {
            if (h.link == null && h.fd >= 0) {
                Libc.close(h.fd);
                h.fd = -1;
            }
        }
    }
}
