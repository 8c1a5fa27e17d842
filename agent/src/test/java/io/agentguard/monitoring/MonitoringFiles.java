package io.agentguard.monitoring;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The shipped dashboard and alerting rules (packaging/monitoring/), and the metric names their
 * PromQL expressions use, for checking them against real /metrics output.
 */
public final class MonitoringFiles {
    public static final Path DIR = Path.of(System.getProperty("user.dir")).getParent().resolve("packaging/monitoring");
    public static final Path RULES = DIR.resolve("agentguard-alerts.yaml");
    public static final Path RULE_TESTS = DIR.resolve("tests/agentguard-alerts.test.yaml");
    public static final Path DASHBOARD = DIR.resolve("agentguard-dashboard.json");

    /** Series Prometheus makes itself for every target: never in an exporter's output. */
    public static final Set<String> SYNTHETIC = Set.of("up", "scrape_duration_seconds", "scrape_samples_scraped",
            "scrape_samples_post_metric_relabeling", "scrape_series_added");

    private static final Set<String> KEYWORDS = Set.of("by", "without", "on", "ignoring", "group_left", "group_right",
            "bool", "and", "or", "unless", "offset", "inf", "nan", "atan2");
    private static final Pattern STRING = Pattern.compile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`");
    private static final Pattern MATCHERS = Pattern.compile("\\{[^{}]*}");
    private static final Pattern RANGE = Pattern.compile("\\[[^\\[\\]]*]");
    private static final Pattern LABEL_LIST = Pattern.compile(
            "\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^()]*\\)");
    private static final Pattern OFFSET = Pattern.compile("\\boffset\\s+-?[0-9a-z]+");
    private static final Pattern VARIABLE = Pattern.compile("\\$\\{[^}]*}|\\$\\w+");
    private static final Pattern LABEL_VALUES = Pattern.compile("label_values\\s*\\(([^,]*),\\s*\\w+\\s*\\)");
    private static final Pattern IDENTIFIER = Pattern.compile("(?<![\\w.:])[a-zA-Z_:][a-zA-Z0-9_:]*");

    private MonitoringFiles() {
    }

    /** The metric names a PromQL expression selects (functions, keywords, label names and Grafana variables left out). */
    public static Set<String> metricNames(String promql) {
        String e = STRING.matcher(promql).replaceAll(" ");
        e = MATCHERS.matcher(e).replaceAll(" ");
        e = VARIABLE.matcher(e).replaceAll(" ");
        e = RANGE.matcher(e).replaceAll(" ");
        e = LABEL_LIST.matcher(e).replaceAll(" ");
        e = OFFSET.matcher(e).replaceAll(" ");
        Matcher lv = LABEL_VALUES.matcher(e);   // Grafana: label_values(metric, label), the label is no metric
        e = lv.replaceAll(m -> Matcher.quoteReplacement(m.group(1)));
        Set<String> names = new TreeSet<>();
        Matcher m = IDENTIFIER.matcher(e);
        while (m.find()) {
            String name = m.group();
            int after = m.end();
            while (after < e.length() && Character.isWhitespace(e.charAt(after))) {
                after++;
            }
            boolean function = after < e.length() && e.charAt(after) == '(';
            if (!function && !KEYWORDS.contains(name.toLowerCase(java.util.Locale.ROOT))) {
                names.add(name);
            }
        }
        return names;
    }

    /** A rule file's expressions, by where they are ("alert X" / "record X"), and the names recording rules define. */
    public record Rules(Map<String, String> expressions, Set<String> recorded) {
    }

    @SuppressWarnings("unchecked")
    public static Rules rules(String yaml) {
        Map<String, Object> root = (Map<String, Object>) new Load(LoadSettings.builder().build()).loadFromString(yaml);
        Map<String, String> expressions = new java.util.LinkedHashMap<>();
        Set<String> recorded = new TreeSet<>();
        for (Map<String, Object> group : (List<Map<String, Object>>) root.get("groups")) {
            for (Map<String, Object> rule : (List<Map<String, Object>>) group.get("rules")) {
                if (rule.containsKey("record")) {
                    recorded.add((String) rule.get("record"));
                    expressions.put("record " + rule.get("record"), String.valueOf(rule.get("expr")));
                } else {
                    expressions.put("alert " + rule.get("alert"), String.valueOf(rule.get("expr")));
                }
            }
        }
        return new Rules(expressions, recorded);
    }

    /** The dashboard's expressions (panel targets and query variables), by panel title or variable name. */
    public static Map<String, String> dashboardExpressions(String json) {
        Map<String, String> out = new java.util.LinkedHashMap<>();
        JsonObject root = JsonParser.parseString(json).getAsJsonObject();
        List<JsonObject> panels = new ArrayList<>();
        collectPanels(root.getAsJsonArray("panels"), panels);
        for (JsonObject p : panels) {
            if (p.has("targets")) {
                for (JsonElement t : p.getAsJsonArray("targets")) {
                    JsonObject target = t.getAsJsonObject();
                    out.put("panel '" + p.get("title").getAsString() + "' " + target.get("refId").getAsString(),
                            target.get("expr").getAsString());
                }
            }
        }
        for (JsonElement v : root.getAsJsonObject("templating").getAsJsonArray("list")) {
            JsonObject var = v.getAsJsonObject();
            if (var.get("type").getAsString().equals("query")) {
                JsonElement q = var.get("query");
                out.put("variable " + var.get("name").getAsString(), q.isJsonObject()
                        ? q.getAsJsonObject().get("query").getAsString() : q.getAsString());
            }
        }
        return out;
    }

    private static void collectPanels(com.google.gson.JsonArray array, List<JsonObject> into) {
        if (array == null) {
            return;
        }
        for (JsonElement e : array) {
            JsonObject p = e.getAsJsonObject();
            into.add(p);
            collectPanels(p.getAsJsonArray("panels"), into);
        }
    }

    /** The sample names in Prometheus text exposition (histograms as name_bucket, name_count, name_sum). */
    public static Set<String> exposedNames(String metricsText) {
        Set<String> names = new TreeSet<>();
        for (String line : metricsText.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int end = 0;
            while (end < line.length() && line.charAt(end) != '{' && line.charAt(end) != ' ') {
                end++;
            }
            names.add(line.substring(0, end));
        }
        return names;
    }

    /**
     * Where each shipped expression uses a metric that is in none of the outputs nor defined by a
     * recording rule: "where: name" lines, empty when every name exists.
     */
    public static List<String> missing(Map<String, String> expressions, Set<String> recorded, Set<String> exposed) {
        List<String> missing = new ArrayList<>();
        expressions.forEach((where, expr) -> {
            for (String name : metricNames(expr)) {
                if (!exposed.contains(name) && !recorded.contains(name) && !SYNTHETIC.contains(name)) {
                    missing.add(where + ": " + name);
                }
            }
        });
        return missing;
    }

    public static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
