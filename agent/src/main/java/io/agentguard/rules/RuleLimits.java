package io.agentguard.rules;

import io.agentguard.yaml.BoundedYaml;

/**
 * What a rule set may cost to read and compile (rules.limits.*, docs/RULES.md "Limits"): a
 * file over any of them is refused with file:line:col, the limit's name, the value found and
 * the limit, in bounded time and memory, and the rules in force stay. The defaults leave the
 * default pack and large real sets far below them (the default pack: 26 KB, YAML depth 5,
 * condition depth 9, about 2 000 compiled nodes and values).
 *
 * @param fileBytes      largest rule file, bytes
 * @param yamlDepth      deepest nesting of YAML sequences and mappings
 * @param yamlAliases    most YAML aliases to sequences or mappings per file
 * @param listItems      most values one comparison may expand to, lists in lists included
 * @param conditionDepth deepest nesting of a condition: parentheses and `not`, macros inside macros included
 * @param compiledSize   most compiled condition nodes and values in the whole rule set (macros included)
 */
public record RuleLimits(long fileBytes, int yamlDepth, int yamlAliases, int listItems, int conditionDepth,
                         int compiledSize) {
    public static final String KEY_PREFIX = "rules.limits.";
    public static final RuleLimits DEFAULT = new RuleLimits(4L << 20, 64, 50, 100_000, 100, 2_000_000);

    public RuleLimits {
        if (fileBytes < 1 || yamlDepth < 1 || yamlAliases < 0 || listItems < 1 || conditionDepth < 1 || compiledSize < 1) {
            throw new IllegalArgumentException("rule limits must be positive");
        }
    }

    BoundedYaml.Limits yaml() {
        return new BoundedYaml.Limits(fileBytes, yamlDepth, yamlAliases, KEY_PREFIX);
    }

    static String key(String name) {
        return "(" + KEY_PREFIX + name + ")";
    }
}
