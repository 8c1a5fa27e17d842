package io.agentguard.workload.runtime;

import io.agentguard.workload.RuntimeNames;

import java.util.TreeMap;

/**
 * Collects one runtime's answer within bounds: whatever a runtime sends (and an agent may choose
 * its own container's labels in some setups), the {@link RuntimeNames} made holds at most
 * {@link #MAX_LABELS} labels of bounded length, with control characters replaced, so that it can be
 * printed and reported.
 */
public final class RuntimeNamesBuilder {
    /** Labels kept per container: the first ones by key; the rest are dropped and counted. */
    public static final int MAX_LABELS = 64;
    /** Longest label key kept (a Kubernetes key is at most 253 + 1 + 63). */
    public static final int MAX_KEY_CHARS = 317;
    /** Label values and names are cut to this. */
    public static final int MAX_VALUE_CHARS = 256;

    public static final String K8S_POD_NAME = "io.kubernetes.pod.name";
    public static final String K8S_POD_NAMESPACE = "io.kubernetes.pod.namespace";
    public static final String K8S_POD_UID = "io.kubernetes.pod.uid";
    public static final String K8S_CONTAINER_NAME = "io.kubernetes.container.name";

    private String containerName = "";
    private String podName = "";
    private String podNamespace = "";
    private final TreeMap<String, String> labels = new TreeMap<>();
    private int labelsDropped;

    public RuntimeNamesBuilder containerName(String name) {
        containerName = clean(name, MAX_VALUE_CHARS);
        return this;
    }

    public RuntimeNamesBuilder podName(String name) {
        podName = clean(name, MAX_VALUE_CHARS);
        return this;
    }

    public RuntimeNamesBuilder podNamespace(String namespace) {
        podNamespace = clean(namespace, MAX_VALUE_CHARS);
        return this;
    }

    /** Adds a label; past the bounds it is dropped (and counted). Kubernetes' own labels also fill the pod fields. */
    public RuntimeNamesBuilder label(String key, String value) {
        if (key == null || value == null) {
            return this;
        }
        switch (key) {
            case K8S_POD_NAME -> podName = clean(value, MAX_VALUE_CHARS);
            case K8S_POD_NAMESPACE -> podNamespace = clean(value, MAX_VALUE_CHARS);
            case K8S_CONTAINER_NAME -> {
                if (containerName.isEmpty()) {
                    containerName = clean(value, MAX_VALUE_CHARS);
                }
            }
            default -> { }
        }
        if (key.isEmpty() || key.length() > MAX_KEY_CHARS) {
            labelsDropped++;
            return this;
        }
        String k = clean(key, MAX_KEY_CHARS);
        labels.put(k, clean(value, MAX_VALUE_CHARS));
        if (labels.size() > MAX_LABELS) {
            labels.pollLastEntry();   // keep the first MAX_LABELS by key, whatever the order they came in
            labelsDropped++;
        }
        return this;
    }

    public int labelsDropped() {
        return labelsDropped;
    }

    public RuntimeNames build() {
        return new RuntimeNames(containerName, podName, podNamespace, labels);
    }

    /** Cut to maxChars, control characters (C0, DEL, C1, line/paragraph separators) as '?'. */
    static String clean(String s, int maxChars) {
        if (s == null) {
            return "";
        }
        int n = Math.min(s.length(), maxChars);
        if (n > 0 && Character.isHighSurrogate(s.charAt(n - 1))) {
            n--;   // never cut a surrogate pair in two
        }
        StringBuilder out = null;
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            boolean control = c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == '\u2028' || c == '\u2029';
            if (control && out == null) {
                out = new StringBuilder(n).append(s, 0, i);
            }
            if (out != null) {
                out.append(control ? '?' : c);
            }
        }
        return out != null ? out.toString() : n == s.length() ? s : s.substring(0, n);
    }
}
