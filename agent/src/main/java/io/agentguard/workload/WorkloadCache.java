package io.agentguard.workload;

import io.agentguard.process.LongIndex;
import io.agentguard.proto.v1.Workload;

/**
 * Workload identity per cgroup id, parsed once per cgroup (and again only if the cgroup's
 * path changes: an id first seen before its path was known). Holds the proto message built
 * once, so an event of a known cgroup costs a primitive-map lookup and no allocation. Asks
 * {@link WorkloadNames} once per new cgroup of a container or pod, and takes its names into
 * the message when they come. Single writer: the consumer thread.
 */
public final class WorkloadCache {
    private final WorkloadNames names;
    private final int capacity;
    private final LongIndex slots;
    private final String[] paths;
    private final WorkloadIdentity[] identities;
    private final Workload[] protos;
    private final RuntimeNames[] runtimeNames;
    private int size;
    private long parses;

    public WorkloadCache(WorkloadNames names, int capacity) {
        this.names = names == null ? WorkloadNames.NONE : names;
        this.capacity = capacity;
        this.slots = new LongIndex(capacity);
        this.paths = new String[capacity];
        this.identities = new WorkloadIdentity[capacity];
        this.protos = new Workload[capacity];
        this.runtimeNames = new RuntimeNames[capacity];
    }

    /** A cache without runtime names (tests, replay). */
    public WorkloadCache() {
        this(WorkloadNames.NONE, 4096);
    }

    /** The identity of the cgroup at this path ("" or null: not known yet, NONE and not cached). */
    public WorkloadIdentity identity(long cgroupId, String path) {
        int s = slot(cgroupId, path);
        return s < 0 ? WorkloadIdentity.NONE : identities[s];
    }

    /** The proto message for ProcessInfo.workload / Violation.workload, or null when no layout was recognised. */
    public Workload proto(long cgroupId, String path) {
        int s = slot(cgroupId, path);
        return s < 0 ? null : protos[s];
    }

    /** What the runtime said of the cgroup's workload so far, or null. */
    public RuntimeNames names(long cgroupId, String path) {
        int s = slot(cgroupId, path);
        return s < 0 ? null : runtimeNames[s];
    }

    /** Paths parsed so far (tests: once per cgroup, not per event). */
    public long parses() {
        return parses;
    }

    private int slot(long cgroupId, String path) {
        if (path == null || path.isEmpty()) {
            return -1;
        }
        int s = slots.get(cgroupId);
        if (s < 0 || !(paths[s] == path || paths[s].equals(path))) {
            s = fill(cgroupId, path, s);
        }
        if (runtimeNames[s] == null && protos[s] != null && askable(identities[s])) {
            RuntimeNames n = names.names(identities[s]);   // a map read until the runtime answered
            if (n != null) {
                runtimeNames[s] = n;
                protos[s] = withNames(identities[s], n);
            }
        }
        return s;
    }

    private int fill(long cgroupId, String path, int s) {
        if (s < 0) {
            if (size == capacity) {
                clear();
            }
            s = size++;
            slots.put(cgroupId, s);
        }
        parses++;
        WorkloadIdentity id = CgroupWorkloadParser.parse(path);
        paths[s] = path;
        identities[s] = id;
        runtimeNames[s] = null;
        protos[s] = id.recognised() ? id.toProto().build() : null;
        if (askable(id)) {
            names.lookup(id, cgroupId);
        }
        return s;
    }

    private static boolean askable(WorkloadIdentity id) {
        return !id.containerId().isEmpty() || !id.podUid().isEmpty();
    }

    private static Workload withNames(WorkloadIdentity id, RuntimeNames n) {
        return id.toProto().setContainerName(n.containerName()).setPodName(n.podName())
                .setPodNamespace(n.podNamespace()).putAllLabels(n.labels()).build();
    }

    private void clear() {
        slots.clear();
        java.util.Arrays.fill(paths, null);
        java.util.Arrays.fill(identities, null);
        java.util.Arrays.fill(protos, null);
        java.util.Arrays.fill(runtimeNames, null);
        size = 0;
    }
}
