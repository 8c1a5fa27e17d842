package io.agentguard.yaml;

import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.composer.Composer;
import org.snakeyaml.engine.v2.events.Event;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.parser.Parser;
import org.snakeyaml.engine.v2.parser.ParserImpl;
import org.snakeyaml.engine.v2.scanner.StreamReader;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Reads the YAML files people write (agentguard.yaml, rule files) within limits, so that a
 * hostile or broken file costs bounded time and memory and fails with a position: the file's
 * size is checked before it is parsed, its bytes must be UTF-8 (the first bad byte is named),
 * collections may nest only so deep (SnakeYAML's composer recurses once per level, so 5 000
 * levels would end in StackOverflowError) and aliases to collections are counted (a
 * "billion laughs" file multiplies them).
 */
public final class BoundedYaml {
    /**
     * @param fileBytes  largest file read, in bytes
     * @param depth      deepest nesting of sequences and mappings
     * @param aliases    most aliases to collections (anchors themselves are free)
     * @param keyPrefix  where the limits are configured ("rules.limits."), or "" when they are fixed
     */
    public record Limits(long fileBytes, int depth, int aliases, String keyPrefix) {
        /** "(rules.limits.KEY)", or what says that the limit is not configurable. */
        public String key(String key) {
            return keyPrefix.isEmpty() ? "(a fixed limit)" : "(" + keyPrefix + key + ")";
        }
    }

    /** A file the limits or the YAML syntax refuse; line and column are 1-based, 0 when unknown. */
    public static final class Problem extends RuntimeException {
        private final int line;
        private final int column;
        private final boolean overLimit;

        Problem(int line, int column, String message) {
            this(line, column, false, message);
        }

        Problem(int line, int column, boolean overLimit, String message) {
            super(message);
            this.line = line;
            this.column = column;
            this.overLimit = overLimit;
        }

        /** Refused for a limit, not for its syntax or encoding. */
        public boolean overLimit() {
            return overLimit;
        }

        public int line() {
            return line;
        }

        public int column() {
            return column;
        }

        /** "source:line:col: message", or "source: message" without a position. */
        public String where(String source) {
            return line == 0 ? source + ": " + getMessage() : source + ":" + line + ":" + column + ": " + getMessage();
        }
    }

    private BoundedYaml() {
    }

    /** Reads a file of at most limits.fileBytes bytes as strict UTF-8. */
    public static String read(Path file, Limits limits) throws IOException {
        byte[] bytes;
        try (InputStream in = Files.newInputStream(file)) {
            bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, limits.fileBytes() + 1));
        }
        if (bytes.length > limits.fileBytes()) {
            long size = Files.isRegularFile(file) ? Files.size(file) : bytes.length;
            throw new Problem(0, 0, true, "the file is " + (size > bytes.length ? size + " bytes" : "more than "
                    + limits.fileBytes() + " bytes") + ", over the limit of " + limits.fileBytes() + " bytes "
                    + limits.key("file_bytes"));
        }
        return decode(bytes);
    }

    /** Strict UTF-8; the first malformed or unmappable byte is named with its line, column and offset. */
    public static String decode(byte[] bytes) {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult r = decoder.decode(in, out, true);
        if (r.isError()) {
            int offset = in.position();
            int line = 1;
            int lineStart = 0;
            for (int i = 0; i < offset; i++) {
                if (bytes[i] == '\n') {
                    line++;
                    lineStart = i + 1;
                }
            }
            // the column counts characters, as an editor does: continuation bytes do not start one
            int column = 1;
            for (int i = lineStart; i < offset; i++) {
                if ((bytes[i] & 0xC0) != 0x80) {
                    column++;
                }
            }
            throw new Problem(line, column, String.format("invalid UTF-8: byte 0x%02X at byte offset %d (line %d,"
                    + " column %d); save the file as UTF-8", bytes[offset] & 0xFF, offset, line, column));
        }
        try {
            r = decoder.flush(out);
        } catch (IllegalStateException e) {
            throw new IllegalStateException(e);
        }
        if (r.isError()) {
            throw new Problem(0, 0, "invalid UTF-8 at the end of the file (a truncated character)");
        }
        out.flip();
        return out.toString();
    }

    /**
     * The document's node tree, or empty for an empty document. Throws {@link Problem} with
     * the position of a syntax error or of the first thing over a limit.
     */
    public static Optional<Node> compose(String label, String text, Limits limits) {
        if (text.length() > limits.fileBytes()) {   // text given in memory: at least as many bytes as chars
            throw new Problem(0, 0, true, "the text is " + text.length() + " characters, over the limit of "
                    + limits.fileBytes() + " bytes " + limits.key("file_bytes"));
        }
        LoadSettings settings = LoadSettings.builder().setLabel(label)
                .setCodePointLimit((int) Math.min(Integer.MAX_VALUE, Math.max(limits.fileBytes(), 1)))
                .setMaxAliasesForCollections(limits.aliases())
                .setAllowRecursiveKeys(false)
                .build();
        DepthLimitedParser parser = new DepthLimitedParser(new ParserImpl(settings, new StreamReader(settings, text)),
                limits);
        try {
            return new Composer(settings, parser).getSingleNode();
        } catch (YamlEngineException e) {
            String message = String.valueOf(e.getMessage());
            if (message.contains("aliases for non-scalar nodes")) {   // SnakeYAML's count, at the alias it refused
                return overLimit(parser.lastAlias, (limits.aliases() + 1) + " YAML aliases to lists or mappings, over the limit of "
                        + limits.aliases() + " " + limits.key("yaml_aliases"));
            }
            if (e instanceof MarkedYamlEngineException marked) {
                return fail(marked.getProblemMark().orElse(null), "YAML syntax error: " + marked.getProblem());
            }
            throw new Problem(0, 0, "YAML error: " + message);
        }
    }

    private static Optional<Node> fail(Mark m, String message) {
        throw m == null ? new Problem(0, 0, message) : new Problem(m.getLine() + 1, m.getColumn() + 1, message);
    }

    private static Optional<Node> overLimit(Mark m, String message) {
        throw m == null ? new Problem(0, 0, true, message) : new Problem(m.getLine() + 1, m.getColumn() + 1, true, message);
    }

    /** Counts collection starts and ends as the composer pulls events, and refuses one level too many. */
    private static final class DepthLimitedParser implements Parser {
        private final Parser parser;
        private final Limits limits;
        private int depth;
        Mark lastAlias;

        DepthLimitedParser(Parser parser, Limits limits) {
            this.parser = parser;
            this.limits = limits;
        }

        @Override
        public boolean checkEvent(Event.ID id) {
            return parser.checkEvent(id);
        }

        @Override
        public Event peekEvent() {
            return parser.peekEvent();
        }

        @Override
        public boolean hasNext() {
            return parser.hasNext();
        }

        @Override
        public Event next() {
            Event e = parser.next();
            switch (e.getEventId()) {
                case SequenceStart, MappingStart -> {
                    if (++depth > limits.depth()) {
                        Mark m = e.getStartMark().orElse(null);
                        overLimit(m, "YAML nested " + depth + " levels deep, over the limit of " + limits.depth() + " "
                                + limits.key("yaml_depth"));
                    }
                }
                case SequenceEnd, MappingEnd -> depth--;
                case Alias -> lastAlias = e.getStartMark().orElse(null);
                default -> {
                }
            }
            return e;
        }
    }
}
