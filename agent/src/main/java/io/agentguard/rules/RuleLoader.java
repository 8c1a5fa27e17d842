package io.agentguard.rules;

import io.agentguard.yaml.BoundedYaml;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds and reads the rule sources the configuration names: the embedded default pack,
 * then each path or glob (a glob only in the file name; matches sorted by name). A glob
 * that matches nothing is fine (an empty rules.d); a plain path that does not exist is an
 * error.
 */
public final class RuleLoader {
    public static final String DEFAULT_PACK = "/io/agentguard/rules/default.yaml";
    public static final String DEFAULT_PACK_NAME = "(default pack)";

    private RuleLoader() {
    }

    /** The files a configuration names now, with their modification times (for change detection). */
    public static Map<Path, Long> files(List<String> paths) {
        Map<Path, Long> files = new LinkedHashMap<>();
        for (String p : paths) {
            Path path = Path.of(p);
            String leaf = path.getFileName() == null ? "" : path.getFileName().toString();
            if (leaf.contains("*") || leaf.contains("?") || leaf.contains("[")) {
                Path dir = path.getParent() == null ? Path.of(".") : path.getParent();
                if (!Files.isDirectory(dir)) {
                    continue;
                }
                PathMatcher matcher = FileSystems.getDefault().getPathMatcher("glob:" + leaf);
                List<Path> matches = new ArrayList<>();
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
                    for (Path f : ds) {
                        if (matcher.matches(f.getFileName()) && Files.isRegularFile(f)) {
                            matches.add(f);
                        }
                    }
                } catch (IOException e) {
                    throw new RuleException(dir + ": cannot list: " + e.getMessage());
                }
                matches.sort(null);
                for (Path f : matches) {
                    files.put(f, mtime(f));
                }
            } else {
                files.put(path, mtime(path));
            }
        }
        return files;
    }

    private static long mtime(Path f) {
        try {
            return Files.getLastModifiedTime(f).toMillis() ^ Files.size(f) * 31;
        } catch (IOException e) {
            return -1;
        }
    }

    public static RuleCompiler.Source defaultPack() {
        try (InputStream in = RuleLoader.class.getResourceAsStream(DEFAULT_PACK)) {
            return new RuleCompiler.Source(DEFAULT_PACK_NAME, new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Reads and compiles (every file merged first: later files may override or append to the
     * pack's items); throws one RuleException carrying every problem, in file order
     * (file:line:col, one per line; {@link RuleException#problems}). A file that cannot be read
     * ends it at once.
     */
    public static RuleSet load(boolean defaultPack, List<String> paths) {
        return load(defaultPack, paths, RuleLimits.DEFAULT);
    }

    /** As {@link #load(boolean, List)}, within limits (rules.limits.*). */
    public static RuleSet load(boolean defaultPack, List<String> paths, RuleLimits limits) {
        List<RuleCompiler.Source> sources = new ArrayList<>();
        if (defaultPack) {
            sources.add(defaultPack());
        }
        for (Path f : files(paths).keySet()) {
            sources.add(read(f, limits));
        }
        return RuleCompiler.compile(sources, limits);
    }

    /**
     * One rule file: at most rules.limits.file_bytes, checked before anything is parsed, and
     * strict UTF-8 (the error names the first bad byte's line, column and offset).
     */
    public static RuleCompiler.Source read(Path f, RuleLimits limits) {
        try {
            return new RuleCompiler.Source(f.toString(), BoundedYaml.read(f, limits.yaml()));
        } catch (BoundedYaml.Problem e) {
            throw new RuleException(e.where(f.toString()), e.overLimit());
        } catch (NoSuchFileException e) {
            throw new RuleException(f + ": no such file");
        } catch (IOException e) {
            throw new RuleException(f + ": cannot read: " + e.getMessage());
        }
    }
}
