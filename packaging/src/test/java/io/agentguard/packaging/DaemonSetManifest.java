package io.agentguard.packaging;

import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * packaging/kubernetes/agentguard-daemonset.yaml read as Kubernetes reads it (the documents,
 * the DaemonSet's pod spec, its volumes and mounts), and turned into the podman command line
 * that runs the image the same way: the tests run what the manifest says, not a copy of it.
 */
record DaemonSetManifest(List<Map<String, Object>> documents) {
    static final Path PACKAGING = Path.of(System.getProperty("agentguard.packaging.dir", "."));
    static final Path FILE = PACKAGING.resolve("kubernetes/agentguard-daemonset.yaml");
    static final Path ENTRYPOINT = PACKAGING.resolve("container/entrypoint");

    /** A volume mount with what backs it: a host path, a ConfigMap (its items) or a Secret. */
    record Mount(String name, String mountPath, String propagation, boolean readOnly, String hostPath,
                 String configMap, Map<String, String> items, String secret) {
    }

    @SuppressWarnings("unchecked")
    static DaemonSetManifest load(Path file) throws IOException {
        List<Map<String, Object>> docs = new ArrayList<>();
        for (Object d : new Load(LoadSettings.builder().build()).loadAllFromString(Files.readString(file))) {
            docs.add((Map<String, Object>) d);
        }
        return new DaemonSetManifest(docs);
    }

    static DaemonSetManifest load() throws IOException {
        return load(FILE);
    }

    /** The paths the entrypoint needs from the host (its REQUIRED_MOUNTS line). */
    static List<String> entrypointRequiredMounts() throws IOException {
        Matcher m = Pattern.compile("(?m)^REQUIRED_MOUNTS=\"([^\"]*)\"$").matcher(Files.readString(ENTRYPOINT));
        if (!m.find()) {
            throw new AssertionError("no REQUIRED_MOUNTS=\"...\" line in " + ENTRYPOINT);
        }
        return List.of(m.group(1).trim().split("\\s+"));
    }

    Map<String, Object> document(String kind) {
        return documents.stream().filter(d -> kind.equals(d.get("kind"))).findFirst()
                .orElseThrow(() -> new AssertionError("no " + kind + " in " + FILE));
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object parent, String... keys) {
        Object o = parent;
        for (String k : keys) {
            o = o == null ? null : ((Map<String, Object>) o).get(k);
        }
        return o == null ? Map.of() : (Map<String, Object>) o;
    }

    @SuppressWarnings("unchecked")
    static List<Object> list(Object parent, String key) {
        Object o = ((Map<String, Object>) parent).get(key);
        return o == null ? List.of() : (List<Object>) o;
    }

    Map<String, Object> podSpec() {
        return map(document("DaemonSet"), "spec", "template", "spec");
    }

    Map<String, Object> container() {
        return map(list(podSpec(), "containers").getFirst());
    }

    String configMapData(String key) {
        return (String) map(document("ConfigMap"), "data").get(key);
    }

    @SuppressWarnings("unchecked")
    List<Mount> mounts() {
        Map<String, Map<String, Object>> volumes = new LinkedHashMap<>();
        for (Object v : list(podSpec(), "volumes")) {
            volumes.put((String) map(v).get("name"), map(v));
        }
        List<Mount> out = new ArrayList<>();
        for (Object o : list(container(), "volumeMounts")) {
            Map<String, Object> vm = map(o);
            String name = (String) vm.get("name");
            Map<String, Object> volume = volumes.get(name);
            if (volume == null) {
                throw new AssertionError("volumeMount " + name + " names no volume");
            }
            Map<String, String> items = new LinkedHashMap<>();
            for (Object item : list(map(volume, "configMap"), "items")) {
                items.put((String) map(item).get("key"), (String) map(item).get("path"));
            }
            out.add(new Mount(name, (String) vm.get("mountPath"), (String) vm.getOrDefault("mountPropagation", "None"),
                    Boolean.TRUE.equals(vm.get("readOnly")), (String) map(volume, "hostPath").get("path"),
                    (String) map(volume, "configMap").get("name"), items,
                    (String) map(volume, "secret").get("secretName")));
        }
        return out;
    }

    /**
     * podman run arguments for the pod spec (before the image; the container's args after it):
     * privileged, host PID and network, env, and each volume: a host path as a bind mount with
     * the mount's propagation, a ConfigMap as a directory of its items ({@code configDir}, made
     * by the caller), an optional Secret left out. {@code hostPaths} moves node-local state
     * (runtime dir, spool) of this shared test machine to temporary directories.
     */
    List<String> podmanArgs(Map<String, Path> hostPaths, Path configDir) {
        Map<String, Object> pod = podSpec();
        Map<String, Object> c = container();
        List<String> args = new ArrayList<>();
        if (Boolean.TRUE.equals(map(c, "securityContext").get("privileged"))) {
            args.add("--privileged");
        }
        if (Boolean.TRUE.equals(pod.get("hostPID"))) {
            args.add("--pid=host");
        }
        if (Boolean.TRUE.equals(pod.get("hostNetwork"))) {
            args.add("--network=host");
        }
        for (Object e : list(c, "env")) {
            args.add("--env=" + map(e).get("name") + "=" + map(e).get("value"));
        }
        for (Mount m : mounts()) {
            String source;
            if (m.hostPath() != null) {
                source = hostPaths.getOrDefault(m.hostPath(), Path.of(m.hostPath())).toString();
            } else if (m.configMap() != null) {
                source = configDir.toString();
            } else {
                continue;   // the collector TLS Secret: optional, the test's collector is plaintext on loopback
            }
            List<String> opts = new ArrayList<>();
            if (m.readOnly()) {
                opts.add("ro");
            }
            switch (m.propagation()) {
                case "Bidirectional" -> opts.add("rshared");
                case "HostToContainer" -> opts.add("rslave");
                default -> { }
            }
            args.add("--volume=" + source + ":" + m.mountPath() + (opts.isEmpty() ? "" : ":" + String.join(",", opts)));
        }
        return args;
    }

    List<String> containerArgs() {
        return list(container(), "args").stream().map(String::valueOf).toList();
    }

    String image() {
        return (String) container().get("image");
    }
}
