package io.agentguard.workload;

import io.agentguard.proto.v1.WorkloadKind;

/**
 * Reads a cgroup path (relative to the cgroup2 mount) as the container runtimes, kubelet,
 * Slurm and systemd lay it out, into a {@link WorkloadIdentity}. Layouts (docs/EVENTS.md
 * "Workload identity"):
 * <pre>
 *   Docker           system.slice/docker-ID.scope                   docker/ID (cgroupfs)
 *   Kubernetes       kubepods.slice/kubepods-QOS.slice/kubepods-QOS-podUID_.slice/cri-containerd-ID.scope
 *                    (also crio-ID.scope, docker-ID.scope; guaranteed: kubepods.slice/kubepods-podUID_.slice)
 *                    kubepods/QOS/podUID/ID, kubepods/podUID/ID, .../podUID/crio-ID (cgroupfs)
 *   CRI-O            crio-ID.scope; crio-conmon-ID.scope is conmon (a unit, not the container)
 *   Podman           machine.slice/libpod-ID.scope, machine.slice/machine-libpod_pod_POD.slice/libpod-ID.scope,
 *                    user.slice/user-U.slice/user@U.service/user.slice/libpod-ID.scope (rootless),
 *                    libpod_parent/libpod-ID, libpod_parent/POD/libpod-ID (cgroupfs); libpod-conmon-ID.scope: conmon
 *   containerd       nerdctl-ID.scope
 *   Slurm            system.slice/slurmstepd.scope/job_J/step_S/user/task_N (cgroup/v2), slurm/uid_U/job_J/step_S
 *   systemd          NAME.service, NAME.scope under slices (and under user@U.service, the user manager)
 * </pre>
 * Precedence (the path is read from the root down; the first owner found keeps the rest):
 * <ul>
 *   <li>a container (the outermost on the path) owns everything below it: its own
 *       sub-cgroups, systemd inside it, and any cgroup named like another container there;</li>
 *   <li>a Slurm job owns everything below its step (user/, task_N/, anything a job makes);</li>
 *   <li>a systemd unit other than user@U.service owns everything below it (systemd puts units
 *       only under slices; what is below a unit is its delegated subtree), except Slurm's
 *       job_J directly under slurmstepd.scope.</li>
 * </ul>
 * So a process cannot make its workload look like another container, pod, job or unit by
 * naming cgroups inside its own container, job or unit; a process whose cgroup is none of
 * these (a bare directory) can, and its identity is then what the path says. Identity is a
 * label for people and rules, never a grant (docs/ENFORCEMENT.md).
 * <p>
 * Ids are validated (64 lowercase hex; a UUID or 32 hex for pod UIDs; digits for jobs),
 * paths read up to {@link #MAX_PATH_CHARS} and {@link #MAX_COMPONENTS}; any input is
 * answered, never thrown on. Allocates (the result, a few substrings): call once per cgroup.
 */
public final class CgroupWorkloadParser {
    /** The part of a path read; owners are found near the root, so a longer tail changes nothing we keep. */
    public static final int MAX_PATH_CHARS = 4096;
    public static final int MAX_COMPONENTS = 64;
    private static final int NAME_MAX = 255;
    private static final int CONTAINER_ID_CHARS = 64;
    private static final int SHORT_ID_CHARS = 12;

    private CgroupWorkloadParser() {
    }

    /** The workload the path says it belongs to; {@link WorkloadIdentity#NONE} if none (null, empty, odd input). */
    public static WorkloadIdentity parse(String path) {
        if (path == null || path.isEmpty()) {
            return WorkloadIdentity.NONE;
        }
        return new Reader().read(path);
    }

    /** One parse: the state while walking the components. */
    private static final class Reader {
        WorkloadKind kind = WorkloadKind.WORKLOAD_KIND_UNSPECIFIED;
        String runtime = "";
        String containerId = "";
        String podUid = "";
        String jobId = "";
        String stepId = "";
        String unit = "";
        boolean kubernetesPod;
        boolean podmanPod;
        int unitIndex = -1;      // a unit that owns the rest (not user@U.service)
        int jobIndex = -1;
        String prev = "";
        String prev2 = "";

        WorkloadIdentity read(String path) {
            int end = Math.min(path.length(), MAX_PATH_CHARS);
            int start = 0;
            int index = 0;
            while (start < end && index < MAX_COMPONENTS) {
                int slash = path.indexOf('/', start);
                int stop = slash < 0 || slash > end ? end : slash;
                if (stop > start) {
                    if (stop - start > NAME_MAX || (stop == end && end < path.length() && slash != end)) {
                        break;   // not a cgroup name (too long), or cut by the read limit
                    }
                    if (!component(path.substring(start, stop), index)) {
                        break;
                    }
                    index++;
                }
                start = stop + 1;
            }
            return result();
        }

        /** Reads one component; false: the rest of the path belongs to an owner already found. */
        private boolean component(String c, int index) {
            if (!containerId.isEmpty()) {
                return false;
            }
            if (jobIndex >= 0) {
                if (index == jobIndex + 1 && c.startsWith("step_") && stepId(c.substring(5))) {
                    stepId = c.substring(5);
                }
                return index == jobIndex + 1;   // the step, then the step's own tree: the job's
            }
            if (unitIndex >= 0) {
                if (index == unitIndex + 1 && unit.endsWith("slurmstepd.scope") && job(c)) {
                    jobIndex = index;
                    return true;
                }
                return false;
            }
            try {
                if (container(c)) {
                    return false;
                }
                if (pod(c)) {
                    return true;
                }
                if (slurmV1(c)) {
                    jobIndex = index;
                    return true;
                }
                unit(c, index);
                return true;
            } finally {
                prev2 = prev;
                prev = c;
            }
        }

        private boolean container(String c) {
            String id;
            String rt;
            if ((id = between(c, "docker-", ".scope")) != null) {
                rt = "docker";
            } else if ((id = between(c, "cri-containerd-", ".scope")) != null) {
                rt = "containerd";
            } else if ((id = between(c, "crio-", ".scope")) != null || (id = between(c, "crio-", "")) != null) {
                rt = "cri-o";
            } else if ((id = between(c, "libpod-", ".scope")) != null) {
                rt = "podman";
            } else if ((id = between(c, "nerdctl-", ".scope")) != null) {
                rt = "containerd";
            } else if (prev.equals("docker") && hex(c, CONTAINER_ID_CHARS)) {
                id = c;
                rt = "docker";
            } else if ((prev.equals("libpod_parent") || podmanPod && prev2.equals("libpod_parent"))
                    && (id = between(c, "libpod-", "")) != null) {
                rt = "podman";
            } else if (kubernetesPod && prev.startsWith("pod") && hex(c, CONTAINER_ID_CHARS)) {
                id = c;     // cgroupfs driver: the runtime is not on the path
                rt = "";
            } else {
                return false;
            }
            if (!hex(id, CONTAINER_ID_CHARS)) {
                return false;
            }
            containerId = id;
            runtime = rt;
            if (c.endsWith(".scope")) {
                unit = c;
            }
            kind = kubernetesPod ? WorkloadKind.WORKLOAD_KIND_KUBERNETES : WorkloadKind.WORKLOAD_KIND_CONTAINER;
            return true;
        }

        private boolean pod(String c) {
            if (!podUid.isEmpty()) {
                return false;
            }
            String uid = null;
            if (c.startsWith("kubepods-") && c.endsWith(".slice") && prev.startsWith("kubepods")) {
                int at = c.indexOf("pod", "kubepods-".length());
                String qos = at < 0 ? "?" : c.substring("kubepods-".length(), at);
                String escaped = at < 0 ? "" : c.substring(at + 3, c.length() - ".slice".length());
                if ((qos.isEmpty() || qos.equals("burstable-") || qos.equals("besteffort-")) && escaped.indexOf('-') < 0) {
                    uid = escaped.replace('_', '-');   // kubelet escapes '-' (the slice separator) as '_'
                }
            } else if (c.startsWith("pod") && (prev.equals("kubepods")
                    || prev2.equals("kubepods") && (prev.equals("burstable") || prev.equals("besteffort")))) {
                uid = c.substring(3);
            }
            if (uid != null && podUid(uid)) {
                podUid = uid;
                kubernetesPod = true;
                kind = WorkloadKind.WORKLOAD_KIND_KUBERNETES;
                return true;
            }
            String pod = between(c, "machine-libpod_pod_", ".slice");
            if (pod == null && prev.equals("libpod_parent") && !c.startsWith("libpod-")) {
                pod = c;
            }
            if (pod != null && hex(pod, CONTAINER_ID_CHARS)) {
                podUid = pod;
                podmanPod = true;
                runtime = "podman";
                kind = WorkloadKind.WORKLOAD_KIND_CONTAINER;
                return true;
            }
            return false;
        }

        /** slurm/uid_U/job_J (the layout of Slurm's cgroup/v1 plugin, kept by some sites). */
        private boolean slurmV1(String c) {
            return prev.startsWith("uid_") && digits(prev.substring(4), 10) && prev2.equals("slurm") && job(c);
        }

        private boolean job(String c) {
            if (c.startsWith("job_") && digits(c.substring(4), 10)) {
                jobId = c.substring(4);
                runtime = "slurm";
                kind = WorkloadKind.WORKLOAD_KIND_SLURM;
                return true;
            }
            return false;
        }

        private void unit(String c, int index) {
            boolean service = c.endsWith(".service") && c.length() > ".service".length();
            boolean scope = c.endsWith(".scope") && c.length() > ".scope".length();
            if (!service && !scope) {
                return;
            }
            unit = c;
            if (!userManager(c)) {
                unitIndex = index;
            }
            if (kind == WorkloadKind.WORKLOAD_KIND_UNSPECIFIED || kind == WorkloadKind.WORKLOAD_KIND_SYSTEMD_SERVICE
                    || kind == WorkloadKind.WORKLOAD_KIND_SYSTEMD_SCOPE) {
                kind = service ? WorkloadKind.WORKLOAD_KIND_SYSTEMD_SERVICE : WorkloadKind.WORKLOAD_KIND_SYSTEMD_SCOPE;
                runtime = "systemd";
            }
        }

        private WorkloadIdentity result() {
            if (kind == WorkloadKind.WORKLOAD_KIND_UNSPECIFIED) {
                return WorkloadIdentity.NONE;
            }
            return new WorkloadIdentity(kind, runtime, containerId,
                    containerId.isEmpty() ? "" : containerId.substring(0, SHORT_ID_CHARS), podUid, jobId, stepId, unit);
        }
    }

    /** user@UID.service: systemd's per-user manager, which makes slices and units of its own below. */
    private static boolean userManager(String c) {
        return c.startsWith("user@") && c.endsWith(".service")
                && digits(c.substring(5, c.length() - ".service".length()), 10);
    }

    /** The text between prefix and suffix, if c is exactly prefix + something + suffix; else null. */
    private static String between(String c, String prefix, String suffix) {
        if (c.length() > prefix.length() + suffix.length() && c.startsWith(prefix) && c.endsWith(suffix)) {
            return c.substring(prefix.length(), c.length() - suffix.length());
        }
        return null;
    }

    static boolean hex(String s, int length) {
        if (s.length() != length) {
            return false;
        }
        for (int i = 0; i < length; i++) {
            char ch = s.charAt(i);
            if (!(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f')) {
                return false;
            }
        }
        return true;
    }

    private static boolean digits(String s, int maxLength) {
        if (s.isEmpty() || s.length() > maxLength) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }

    private static boolean stepId(String s) {
        return digits(s, 10) || s.equals("batch") || s.equals("extern") || s.equals("interactive");
    }

    /** A Kubernetes pod UID: a UUID (8-4-4-4-12 lowercase hex), or 32 hex (static pods: a hash). */
    static boolean podUid(String s) {
        if (s.length() == 32) {
            return hex(s, 32);
        }
        if (s.length() != 36) {
            return false;
        }
        for (int i = 0; i < 36; i++) {
            char ch = s.charAt(i);
            boolean dash = i == 8 || i == 13 || i == 18 || i == 23;
            if (dash ? ch != '-' : !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f')) {
                return false;
            }
        }
        return true;
    }
}
