package io.agentguard.workload;

import io.agentguard.proto.v1.Workload;
import io.agentguard.proto.v1.WorkloadKind;

import java.util.Locale;

/**
 * Who a cgroup belongs to, as its path says (proto message Workload without the runtime's
 * names): what {@link CgroupWorkloadParser} read from the layout a runtime made. Fields not on
 * the path are "" (never null). It is a label, never a credential: see docs/EVENTS.md
 * "Workload identity" for what a process that names its own cgroups can and cannot claim.
 *
 * @param runtime     "docker", "containerd", "cri-o", "podman", "slurm", "systemd", or "" (not
 *                    told by the path, e.g. a Kubernetes container under the cgroupfs driver)
 * @param containerId the full id (64 lowercase hex)
 * @param shortId     the first 12 characters of containerId (Falco's container.id), or ""
 * @param podUid      Kubernetes pod UID (dashes, as the API shows it), or Podman's pod id
 * @param stepId      Slurm step: digits, "batch", "extern" or "interactive"
 * @param unit        the innermost systemd unit on the path (.service or .scope)
 */
public record WorkloadIdentity(WorkloadKind kind, String runtime, String containerId, String shortId, String podUid,
                               String jobId, String stepId, String unit) {
    /** No layout recognised. */
    public static final WorkloadIdentity NONE = new WorkloadIdentity(WorkloadKind.WORKLOAD_KIND_UNSPECIFIED, "", "", "",
            "", "", "", "");

    public boolean recognised() {
        return kind != WorkloadKind.WORKLOAD_KIND_UNSPECIFIED;
    }

    /** workload.kind as rules and text output write it: kubernetes, container, slurm, systemd_service, systemd_scope, "". */
    public String kindName() {
        return kindName(kind);
    }

    static String kindName(WorkloadKind kind) {
        return kind == WorkloadKind.WORKLOAD_KIND_UNSPECIFIED || kind == WorkloadKind.UNRECOGNIZED ? ""
                : kind.name().substring("WORKLOAD_KIND_".length()).toLowerCase(Locale.ROOT);
    }

    /** The proto message (empty fields left unset); names from the runtime are added by {@link WorkloadCache}. */
    public Workload.Builder toProto() {
        Workload.Builder w = Workload.newBuilder().setKind(kind).setRuntime(runtime).setContainerId(containerId)
                .setPodUid(podUid).setJobId(jobId).setStepId(stepId).setUnit(unit);
        return w;
    }
}
