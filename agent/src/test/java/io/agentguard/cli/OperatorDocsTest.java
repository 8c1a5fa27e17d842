package io.agentguard.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** What the operator docs say matches what the CLI and the embedded default do. */
class OperatorDocsTest {
    private static final Path ROOT = Path.of("..");

    private static String read(String path) throws Exception {
        return Files.readString(ROOT.resolve(path));
    }

    @Test
    void configMdShowsTheEmbeddedDefaultFileAsItIs() throws Exception {
        String doc = read("docs/CONFIG.md");
        int heading = doc.indexOf("## Embedded default");
        int start = doc.indexOf("```yaml\n", heading) + "```yaml\n".length();
        int end = doc.indexOf("```\n", start);
        assertThat(heading).isPositive();
        assertThat(doc.substring(start, end))
                .isEqualTo(read("agent/src/main/resources/io/agentguard/config/default.yaml"));
    }

    @Test
    void configMdNamesEveryRunFlagAndEachKeyOnce() throws Exception {
        String doc = read("docs/CONFIG.md");
        String runTable = doc.substring(doc.indexOf("### `agentguard run`"), doc.indexOf("### `agentguard sandbox"));
        for (CommandLine.Model.OptionSpec o : new CommandLine(new RunCommand()).getCommandSpec().options()) {
            if (!o.usageHelp() && !o.versionHelp()) {
                assertThat(runTable).as("agentguard run " + o.longestName()).contains("`" + o.longestName());
            }
        }
        for (String key : List.of("runtime_dir", "metrics.listen", "jvm.max_heap_mb", "syscall_outcomes")) {
            assertThat(Pattern.compile("^\\| `" + Pattern.quote(key) + "` \\|", Pattern.MULTILINE).matcher(doc).results().count())
                    .as(key).isEqualTo(1);
        }
    }

    @Test
    void theReadmeCommandTableNamesEveryFlagOfEachCommand() throws Exception {
        List<String> rows = read("README.md").lines().filter(l -> l.startsWith("| `agentguard ")).toList();
        List<String> missing = new ArrayList<>();
        walk(new CommandLine(new Main()), "agentguard", rows, missing);
        assertThat(missing).isEmpty();
    }

    private static void walk(CommandLine cmd, String path, List<String> rows, List<String> missing) {
        for (var e : cmd.getSubcommands().entrySet()) {
            String name = e.getKey();
            if (name.equals("help")) {
                continue;
            }
            String sub = path + " " + name;
            CommandLine c = e.getValue();
            if (!c.getSubcommands().isEmpty()) {
                walk(c, sub, rows, missing);
                continue;
            }
            String row = rows.stream().filter(r -> r.startsWith("| `" + sub + " ") || r.startsWith("| `" + sub + "`"))
                    .findFirst().orElse(null);
            if (row == null) {
                missing.add(sub + ": no row");
                continue;
            }
            for (CommandLine.Model.OptionSpec o : c.getCommandSpec().options()) {
                if (o.usageHelp() || o.versionHelp() || o.hidden()) {
                    continue;
                }
                String flag = o.longestName();
                String bare = flag.replaceFirst("^--", "");
                if (!row.contains(flag) && !row.contains("--[no-]" + bare)) {
                    missing.add(sub + " " + flag);
                }
            }
        }
    }

    /** The exit-status table of OPERATIONS.md, row by row: command, situation, status. */
    @Test
    void operationsMdExitStatusesAreTheOnesTheCliReturns(@TempDir Path dir) throws Exception {
        String doc = read("docs/OPERATIONS.md");
        Matcher m = Pattern.compile("^\\| `agentguard (status|run)[^|]*` \\| ([^|]+) \\| (\\d+) \\|$", Pattern.MULTILINE)
                .matcher(doc);
        int checked = 0;
        PrintStream err = System.err;
        System.setErr(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        try {
            while (m.find()) {
                String situation = m.group(2).trim();
                int documented = Integer.parseInt(m.group(3));
                Integer actual = switch (situation) {
                    case "no agent answers" -> Main.execute("status", "--runtime-dir", dir.resolve("none").toString());
                    case "configuration error" -> Main.execute("run", "--config",
                            Files.writeString(dir.resolve("bad.yaml"), "agent_cgroups: [x]\nexec: {max_args_bytes: 9000}\n")
                                    .toString());
                    case "invalid flag value" -> Main.execute("run", "--format", "xml");
                    default -> null;
                };
                if (actual != null) {
                    assertThat(actual).as(m.group()).isEqualTo(documented);
                    checked++;
                }
            }
        } finally {
            System.setErr(err);
        }
        assertThat(checked).as("rows of the exit status table checked").isEqualTo(3);
    }
}
