package io.agentguard.corpus;

import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * One corpus scenario, read from {@code corpus/NN-name.yaml} (format: docs/CORPUS.md). A bad file
 * fails its own scenario with the file name and the key that is wrong, never the whole corpus.
 *
 * @param id        the file name without .yaml (NN-name)
 * @param config    "default" (the embedded default configuration) or "sandbox" (sandbox.yaml)
 * @param setup     fixtures: sshd, forward, standin-gpu, "listener H:P", "http H:P", "banner H:P"
 * @param files     files written below $WORK before the run (path relative to $WORK, ${VAR} substituted)
 * @param run       argv, run in a fresh cgroup of the agent ({@code ${VAR}} substituted)
 * @param requires  tools the scenario needs that may be missing (e.g. nvreplay-trace): a scenario whose
 *                  requirement is missing is skipped with the reason, and the score table counts it pending
 */
record Scenario(String id, String name, String family, String config, List<String> setup, Map<String, String> files,
                List<String> run, long timeoutMs, List<String> requires, Expect expect) {

    static final Set<String> FAMILIES = Set.of("tunnel", "mining", "reverse_shell", "network", "gpu", "benign");
    static final Set<String> CONFIGS = Set.of("default", "sandbox");
    static final Set<String> BLOCK_KINDS = Set.of("exec", "connect", "tunnel_connect", "shell_connect", "gpu_open",
            "gpu_compute", "socket", "unix_outside", "block_device", "scope", "tamper");
    private static final Set<String> KEYS = Set.of("name", "family", "config", "setup", "files", "run", "timeout_ms",
            "requires", "expect", "notes");
    private static final Set<String> EXPECT_KEYS = Set.of("violations", "killed", "blocked", "listener_received",
            "forward_bound", "exit_code", "may_also");

    /**
     * What must have happened; a null field is not checked.
     *
     * @param violations       rule names of the violations raised for the scenario's cgroup (exact set)
     * @param killed           some process of the scenario exited by SIGKILL (before the harness cleaned up)
     * @param blocked          kinds of kernel denials in the scenario's events (exact set)
     * @param listenerReceived a listener of the scenario received bytes
     * @param forwardBound     the remote forward on 127.0.0.1:$FORWARD_PORT was ever listening
     * @param exitCode         exit status of the run's process (benign work that must succeed: 0)
     * @param mayAlso          violations or blocked kinds a race may add: two mechanisms stop the same attack
     *                         (a rule's kill at exec and the kernel's refusal of the connect after it), and
     *                         which comes first decides whether the second one is seen
     */
    record Expect(Set<String> violations, Boolean killed, Set<String> blocked, Boolean listenerReceived,
                  Boolean forwardBound, Integer exitCode, Set<String> mayAlso) {
    }

    boolean attack() {
        return !family.equals("benign");
    }

    @SuppressWarnings("unchecked")
    static Scenario parse(String id, String yaml) {
        Object root = new Load(LoadSettings.builder().build()).loadFromString(yaml);
        if (!(root instanceof Map<?, ?> top)) {
            throw new IllegalArgumentException(id + ": a mapping expected at the top");
        }
        for (Object k : top.keySet()) {
            if (!KEYS.contains(String.valueOf(k))) {
                throw new IllegalArgumentException(id + ": unknown key '" + k + "' (known: " + new TreeSet<>(KEYS) + ")");
            }
        }
        String name = string(id, top, "name", true);
        String family = string(id, top, "family", true);
        if (!FAMILIES.contains(family)) {
            throw new IllegalArgumentException(id + ": family '" + family + "' is not one of " + new TreeSet<>(FAMILIES));
        }
        String config = string(id, top, "config", true);
        if (!CONFIGS.contains(config)) {
            throw new IllegalArgumentException(id + ": config '" + config + "' is not one of " + new TreeSet<>(CONFIGS));
        }
        List<String> setup = strings(id, top.get("setup"), "setup");
        for (String s : setup) {
            if (!s.matches("sshd|forward|standin-gpu|(listener|http|banner) 127\\.66\\.0\\.\\d{1,3}:\\d{1,5}")) {
                throw new IllegalArgumentException(id + ": setup '" + s
                        + "' is not sshd, forward, standin-gpu or listener|http|banner 127.66.0.N:PORT");
            }
        }
        Map<String, String> files = new LinkedHashMap<>();
        if (top.get("files") != null) {
            if (!(top.get("files") instanceof Map<?, ?> f)) {
                throw new IllegalArgumentException(id + ": files must map a path below $WORK to its content");
            }
            for (Map.Entry<?, ?> e : f.entrySet()) {
                String path = String.valueOf(e.getKey());
                if (path.startsWith("/") || path.contains("..")) {
                    throw new IllegalArgumentException(id + ": file '" + path + "' must be relative to $WORK");
                }
                files.put(path, String.valueOf(e.getValue()));
            }
        }
        List<String> run = strings(id, top.get("run"), "run");
        if (run.isEmpty()) {
            throw new IllegalArgumentException(id + ": run (argv) is missing");
        }
        long timeoutMs = top.get("timeout_ms") == null ? 5000 : ((Number) top.get("timeout_ms")).longValue();
        List<String> requires = strings(id, top.get("requires"), "requires");
        if (!(top.get("expect") instanceof Map<?, ?> ex)) {
            throw new IllegalArgumentException(id + ": expect is missing");
        }
        for (Object k : ex.keySet()) {
            if (!EXPECT_KEYS.contains(String.valueOf(k))) {
                throw new IllegalArgumentException(id + ": unknown expect key '" + k + "' (known: "
                        + new TreeSet<>(EXPECT_KEYS) + ")");
            }
        }
        Set<String> violations = ex.containsKey("violations") ? new TreeSet<>(strings(id, ex.get("violations"), "violations"))
                : null;
        Set<String> blocked = ex.containsKey("blocked") ? new TreeSet<>(strings(id, ex.get("blocked"), "blocked")) : null;
        if (blocked != null && !BLOCK_KINDS.containsAll(blocked)) {
            throw new IllegalArgumentException(id + ": blocked " + blocked + ": kinds are " + new TreeSet<>(BLOCK_KINDS));
        }
        Expect expect = new Expect(violations, bool(id, ex, "killed"), blocked, bool(id, ex, "listener_received"),
                bool(id, ex, "forward_bound"), ex.get("exit_code") == null ? null : ((Number) ex.get("exit_code")).intValue(),
                ex.containsKey("may_also") ? new TreeSet<>(strings(id, ex.get("may_also"), "may_also")) : Set.of());
        if (expect.forwardBound() != null && !setup.contains("forward")) {
            throw new IllegalArgumentException(id + ": expect.forward_bound needs setup 'forward'");
        }
        if (expect.listenerReceived() != null && setup.stream().noneMatch(s -> s.contains(" "))) {
            throw new IllegalArgumentException(id + ": expect.listener_received needs a listener, http or banner in setup");
        }
        return new Scenario(id, name, family, config, setup, files, run, timeoutMs, requires, expect);
    }

    private static String string(String id, Map<?, ?> m, String key, boolean required) {
        Object v = m.get(key);
        if (v == null) {
            if (required) {
                throw new IllegalArgumentException(id + ": " + key + " is missing");
            }
            return null;
        }
        return String.valueOf(v);
    }

    private static Boolean bool(String id, Map<?, ?> m, String key) {
        Object v = m.get(key);
        if (v == null) {
            return null;
        }
        if (!(v instanceof Boolean b)) {
            throw new IllegalArgumentException(id + ": expect." + key + " must be true or false");
        }
        return b;
    }

    private static List<String> strings(String id, Object v, String key) {
        if (v == null) {
            return List.of();
        }
        if (!(v instanceof List<?> l)) {
            throw new IllegalArgumentException(id + ": " + key + " must be a list");
        }
        List<String> out = new ArrayList<>();
        for (Object o : l) {
            out.add(String.valueOf(o));
        }
        return out;
    }
}
