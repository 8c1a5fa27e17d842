package io.agentguard.workload;

import java.util.Map;

/**
 * What a container runtime said about a workload (its local socket: Podman, Docker, CRI),
 * best effort: any part may be "" or empty. Immutable; labels bounded by whoever made it.
 */
public record RuntimeNames(String containerName, String podName, String podNamespace, Map<String, String> labels) {
    public RuntimeNames {
        containerName = containerName == null ? "" : containerName;
        podName = podName == null ? "" : podName;
        podNamespace = podNamespace == null ? "" : podNamespace;
        labels = labels == null ? Map.of() : Map.copyOf(labels);
    }
}
