package io.agentguard.rules;

/**
 * The policies in force as the rule fields read them (policy.*, proc.exe_program,
 * proc.exe_created_in_cgroup): which policy a cgroup has, what it grants, and what programs
 * are by identity. Implemented by an immutable snapshot that the policy controller
 * publishes at start and on every change (io.agentguard.enforce.PolicySnapshot; its
 * {@code forTests} factories build one from a configuration snippet).
 *
 * <p>Policies are numbered by the view: 0 is the default policy. Every method is safe to
 * call from the consumer thread at event rate except {@link #policyOf} and
 * {@link #cgroupBirthNs}, which the rule fields call once per cgroup (they cache the answer).
 */
public interface PolicyView {
    /** The policy of a cgroup (path relative to the cgroup2 mount): the nearest policy root at or above it, else 0. */
    int policyOf(String cgroupPath);

    /** Whether the policy blocks (enforce) rather than reports what it would block (monitor). */
    boolean enforcing(int policy);

    /**
     * Whether the policy lets the GPU be used: GPU {@code gpuIndex} (gpu all, or its bit), or
     * with a negative index any GPU at all (the control and UVM nodes, events without a GPU).
     */
    boolean gpuGranted(int policy, int gpuIndex);

    /**
     * Whether the policy lets the program create GPU compute contexts: compute granted to
     * all, or the file (kernel dev_t, inode) is one of the policy's compute executables.
     */
    boolean computeGranted(int policy, long exeDev, long exeIno);

    /** What a file is by identity ("ssh", "bash", ...; see io.agentguard.process.KnownPrograms), "" if none known. */
    String program(long exeDev, long exeIno);

    /**
     * When a cgroup came to be, wall clock ns (compared with an executable's ctime), or -1
     * when it cannot be known. Called once per cgroup.
     */
    long cgroupBirthNs(String cgroupPath);

    /**
     * No policy known (replay, tests without policies): the default policy, which grants
     * nothing, in monitor mode; no programs known; births unknown.
     */
    PolicyView NONE = new PolicyView() {
        @Override
        public int policyOf(String cgroupPath) {
            return 0;
        }

        @Override
        public boolean enforcing(int policy) {
            return false;
        }

        @Override
        public boolean gpuGranted(int policy, int gpuIndex) {
            return false;
        }

        @Override
        public boolean computeGranted(int policy, long exeDev, long exeIno) {
            return false;
        }

        @Override
        public String program(long exeDev, long exeIno) {
            return "";
        }

        @Override
        public long cgroupBirthNs(String cgroupPath) {
            return -1;
        }
    };
}
