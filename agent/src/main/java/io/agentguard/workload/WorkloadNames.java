package io.agentguard.workload;

/**
 * The seam to container runtimes for names and labels (helper implementations ask the
 * Podman, Docker or CRI socket). Both methods are called on the consumer thread and must
 * return at once: {@link #lookup} only queues a question (a bounded queue; dropped when full),
 * {@link #names} only reads what earlier answers left (e.g. a concurrent map). A runtime that
 * does not answer therefore never delays an event; its workloads just carry no names.
 */
public interface WorkloadNames {
    /** Knows no names (no runtime asked). */
    WorkloadNames NONE = new WorkloadNames() {
        @Override
        public void lookup(WorkloadIdentity id, long cgroupId) {
        }

        @Override
        public RuntimeNames names(WorkloadIdentity id) {
            return null;
        }
    };

    /**
     * A cgroup of this workload was seen for the first time (once per cgroup, for identities
     * with a container id or pod UID): look it up in the background. Must not block.
     */
    void lookup(WorkloadIdentity id, long cgroupId);

    /** What the runtime answered for this workload so far, or null. Must not block or allocate per call. */
    RuntimeNames names(WorkloadIdentity id);
}
