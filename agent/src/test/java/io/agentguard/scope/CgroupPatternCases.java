package io.agentguard.scope;

import java.util.List;

/**
 * The shared table of glob cases: the unit test checks the agent's matcher against the
 * expected answer, the kernel test the kernel's (bpf/scope.bpf.c) against the same answers.
 * Each case: a pattern for one path component, a cgroup name, whether it matches.
 */
public final class CgroupPatternCases {
    public record Case(String pattern, String name, boolean matches) {
    }

    /** One directory per pattern ("m0", "m1", ...) in the kernel test. */
    public static final List<String> PATTERNS = List.of("a*b?c", "*x*", "??", "*.scope", "a*a*a", "*", "job_*_end",
            "lit.era?");

    public static final List<Case> CASES = List.of(
            new Case("a*b?c", "abxc", true), new Case("a*b?c", "aZZbQc", true), new Case("a*b?c", "abc", false),
            new Case("a*b?c", "ab?c", true), new Case("a*b?c", "xabxc", false), new Case("a*b?c", "abxcbyc", true),
            new Case("*x*", "x", true), new Case("*x*", "aaxbb", true), new Case("*x*", "abc", false),
            new Case("??", "ab", true), new Case("??", "a", false), new Case("??", "abc", false),
            new Case("*.scope", "cri-containerd-1.scope", true), new Case("*.scope", "x.scopes", false),
            new Case("*.scope", ".scope", true),
            new Case("a*a*a", "aaa", true), new Case("a*a*a", "aa", false), new Case("a*a*a", "abababa", true),
            new Case("a*a*a", "ababab", false),
            new Case("*", "anything-at-all", true),
            new Case("job_*_end", "job_1_end", true), new Case("job_*_end", "job__end", true),
            new Case("job_*_end", "job_1_end_end", true), new Case("job_*_end", "job_1_en", false),
            new Case("lit.era?", "lit.eral", true), new Case("lit.era?", "litXeral", false), new Case("lit.era?", "lit.era", false));

    private CgroupPatternCases() {
    }
}
