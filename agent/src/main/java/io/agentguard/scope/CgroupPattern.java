package io.agentguard.scope;

import io.agentguard.abi.KernelAbi;

import java.util.ArrayList;
import java.util.List;

/**
 * An agent cgroup named by a glob over cgroup paths relative to the cgroup2 mount
 * ("kubepods.slice/*&#47;cri-containerd-*.scope"): '*' is any run of characters and '?' one
 * character, neither ever across '/'; everything else is literal. The kernel matches new
 * cgroups with the same semantics (bpf/scope.bpf.c); {@link #matches} is the agent's matcher
 * for the cgroups that existed before it, and the two are proven equal by a shared table.
 */
public final class CgroupPattern {
    /** A pattern the kernel cannot hold or that means something else than the user thinks. */
    public static final class Invalid extends IllegalArgumentException {
        private final int index;

        Invalid(String message, int index) {
            super(message);
            this.index = index;
        }

        /** Offset of the offending character in the text as written (leading '/' included). */
        public int index() {
            return index;
        }
    }

    private final String text;
    private final String[] components;

    private CgroupPattern(String text) {
        this.text = text;
        this.components = text.split("/");
    }

    /** Whether an agent_cgroups entry is a pattern (else a fixed path). */
    public static boolean isPattern(String entry) {
        return entry.indexOf('*') >= 0 || entry.indexOf('?') >= 0;
    }

    /**
     * Parses an entry as written in the configuration (a leading and trailing '/' allowed).
     *
     * @throws Invalid with the offset of the offending character
     */
    public static CgroupPattern parse(String written) {
        int start = 0;
        while (start < written.length() && written.charAt(start) == '/') {
            start++;
        }
        int end = written.length();
        while (end > start && written.charAt(end - 1) == '/') {
            end--;
        }
        if (start == end) {
            throw new Invalid("a pattern needs at least one path component", 0);
        }
        String text = written.substring(start, end);
        if (text.length() >= KernelAbi.AG_SCOPE_PATTERN_LEN) {
            throw new Invalid("pattern is " + text.length() + " bytes; at most " + (KernelAbi.AG_SCOPE_PATTERN_LEN - 1),
                    start + KernelAbi.AG_SCOPE_PATTERN_LEN - 1);
        }
        int componentStart = 0;
        for (int i = 0; i <= text.length(); i++) {
            char c = i < text.length() ? text.charAt(i) : '/';
            if (c == '/') {
                String component = text.substring(componentStart, i);
                if (component.isEmpty()) {
                    throw new Invalid("empty path component ('//')", start + i);
                }
                if (component.equals("..") || component.equals(".")) {
                    throw new Invalid("'" + component + "' is not allowed in a cgroup pattern", start + componentStart);
                }
                if (component.length() > 255) {
                    throw new Invalid("path component longer than 255 bytes (a cgroup name cannot be)",
                            start + componentStart + 255);
                }
                componentStart = i + 1;
                continue;
            }
            if (c == '*' && i + 1 < text.length() && text.charAt(i + 1) == '*') {
                throw new Invalid("'**' is not supported: '*' matches within one path component; write one '*' per level",
                        start + i + 1);
            }
            if (c == '[' || c == ']' || c == '{' || c == '}' || c == '\\') {
                throw new Invalid("'" + c + "' is not supported in a cgroup pattern (only '*' and '?')", start + i);
            }
            if (c < 0x20 || c > 0x7e) {
                throw new Invalid("character " + String.format("U+%04X", (int) c)
                        + " is not supported in a cgroup pattern (printable ASCII only)", start + i);
            }
        }
        return new CgroupPattern(text);
    }

    /**
     * Checks an agent_cgroups entry: a pattern is parsed; a fixed path may have no glob-like
     * character the user may have meant as one, no '..' and no empty component.
     *
     * @throws Invalid with the offset of the offending character
     */
    public static void validate(String entry) {
        if (isPattern(entry) || entry.indexOf('[') >= 0 || entry.indexOf('{') >= 0) {
            parse(entry);
        } else {
            int dots = entry.indexOf("..");
            if (dots >= 0 && (dots == 0 || entry.charAt(dots - 1) == '/')
                    && (dots + 2 == entry.length() || entry.charAt(dots + 2) == '/')) {
                throw new Invalid("'..' is not allowed in an agent cgroup path", dots);
            }
        }
    }

    /** The pattern, without leading or trailing '/'. */
    public String text() {
        return text;
    }

    /** Path components: only cgroups at this level below the mount can match. */
    public int depth() {
        return components.length;
    }

    /**
     * The components before the first one with a glob ("" when the first has one): every match
     * lies below this directory, where the cgroup programs are attached.
     */
    public String literalPrefix() {
        List<String> literal = new ArrayList<>();
        for (String c : components) {
            if (isPattern(c)) {
                break;
            }
            literal.add(c);
        }
        return String.join("/", literal);
    }

    /** Does component {@code level} (0-based) of a path match the pattern's? For a walk that prunes. */
    boolean componentMatches(int level, String name) {
        return level < components.length && glob(components[level], name);
    }

    /** Does a path relative to the mount (no leading '/') match? Same semantics as bpf/scope.bpf.c. */
    public boolean matches(String relativePath) {
        return glob(text, relativePath);
    }

    /** The classic iterative matcher, as the kernel runs it: the last '*' retries, never across '/'. */
    static boolean glob(String pat, String str) {
        int p = 0, s = 0, star = -1, mark = 0;
        int m = pat.length(), n = str.length();
        while (s < n) {
            char sc = str.charAt(s);
            if (p < m && pat.charAt(p) == '*') {
                star = p++;
                mark = s;
            } else if (p < m && (pat.charAt(p) == sc || pat.charAt(p) == '?' && sc != '/')) {
                p++;
                s++;
            } else if (star >= 0 && str.charAt(mark) != '/') {
                s = ++mark;
                p = star + 1;
            } else {
                return false;
            }
        }
        while (p < m && pat.charAt(p) == '*') {
            p++;
        }
        return p == m;
    }

    @Override
    public String toString() {
        return text;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CgroupPattern other && other.text.equals(text);
    }

    @Override
    public int hashCode() {
        return text.hashCode();
    }
}
