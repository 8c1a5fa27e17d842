package io.agentguard.collector.export;

import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.Violation;

import java.util.List;
import java.util.regex.Pattern;

/** An export's filter, compiled: priority at least, rule glob, any tag, node glob (empty = any). */
final class ExportFilter {
    private final Priority min;
    private final List<Pattern> rules;
    private final List<String> tags;
    private final List<Pattern> nodes;

    ExportFilter(ExportsConfig.Filter f) {
        this.min = f.minPriority();
        this.rules = f.rules().stream().map(ExportFilter::glob).toList();
        this.tags = f.tags();
        this.nodes = f.nodes().stream().map(ExportFilter::glob).toList();
    }

    /** A glob over a whole name: * any run of characters, ? one character, the rest literal. */
    private static Pattern glob(String glob) {
        StringBuilder re = new StringBuilder();
        for (String part : glob.split("((?<=[*?])|(?=[*?]))")) {
            re.append(part.equals("*") ? ".*" : part.equals("?") ? "." : Pattern.quote(part));
        }
        return Pattern.compile(re.toString(), Pattern.DOTALL);
    }

    private static boolean any(List<Pattern> globs, String name) {
        return globs.isEmpty() || globs.stream().anyMatch(g -> g.matcher(name).matches());
    }

    boolean matches(String node, Violation v) {
        if (min != null) {
            int p = v.getPriorityValue();
            // Falco order: a smaller number is more severe; unspecified (0) counts as least severe
            if (p == 0 || p > min.getNumber()) {
                return false;
            }
        }
        if (!tags.isEmpty() && v.getTagsList().stream().noneMatch(tags::contains)) {
            return false;
        }
        return any(rules, v.getRule()) && any(nodes, node);
    }
}
