package io.agentguard.rules;

import java.util.ArrayList;
import java.util.List;

/** A rule's output text with %field references, rendered only for a match. */
public final class OutputTemplate {
    private final List<String> literals;   // literal before each field, plus the tail
    private final List<FieldRef> fields;

    record FieldRef(Field field, int ancestorIndex) {
    }

    private OutputTemplate(List<String> literals, List<FieldRef> fields) {
        this.literals = literals;
        this.fields = fields;
    }

    static OutputTemplate compile(String text, SourcePosition at) {
        List<String> literals = new ArrayList<>();
        List<FieldRef> fields = new ArrayList<>();
        StringBuilder literal = new StringBuilder();
        int i = 0;
        while (i < text.length()) {
            char c = text.charAt(i);
            if (c == '%' && i + 1 < text.length() && Character.isLetter(text.charAt(i + 1))) {
                int end = i + 1;
                while (end < text.length() && (Character.isLetterOrDigit(text.charAt(end)) || text.charAt(end) == '.'
                        || text.charAt(end) == '_' || text.charAt(end) == '[' || text.charAt(end) == ']')) {
                    end++;
                }
                String name = text.substring(i + 1, end);
                while (name.endsWith(".")) {   // sentence punctuation after a field
                    name = name.substring(0, name.length() - 1);
                    end--;
                }
                fields.add(resolve(name, at.at(i)));
                literals.add(literal.toString());
                literal.setLength(0);
                i = end;
            } else {
                literal.append(c);
                i++;
            }
        }
        literals.add(literal.toString());
        return new OutputTemplate(literals, fields);
    }

    static FieldRef resolve(String name, SourcePosition at) {
        int bracket = name.indexOf('[');
        if (bracket > 0 && name.endsWith("]") && name.startsWith("proc.aname[")) {
            int n;
            try {
                n = Integer.parseInt(name.substring(bracket + 1, name.length() - 1));
            } catch (NumberFormatException e) {
                throw at.error("bad ancestor index in '" + name + "'");
            }
            if (n < 1 || n > io.agentguard.process.ProcessTable.MAX_ANCESTORS) {
                throw at.error("ancestor index " + n + " out of range 1.." + io.agentguard.process.ProcessTable.MAX_ANCESTORS);
            }
            return new FieldRef(Field.PROC_ANAME, n);
        }
        Field f = Field.byName(name);
        if (f == null) {
            throw at.error("unknown field '" + name + "'" + RuleCompiler.suggestField(name));
        }
        return new FieldRef(f, 0);
    }

    public String render(EventContext c) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < fields.size(); i++) {
            sb.append(literals.get(i)).append(value(c, fields.get(i)));
        }
        sb.append(literals.getLast());
        return sb.toString();
    }

    static String value(EventContext c, FieldRef ref) {
        Field f = ref.field();
        if (f == Field.PROC_ANAME) {
            int index = ref.ancestorIndex() == 0 ? 0 : ref.ancestorIndex() - 1;
            return index < c.ancestorCount() ? c.ancestorName(index) : "<NA>";
        }
        if (!c.has(f)) {
            return "<NA>";
        }
        return switch (f.type()) {
            case STRING -> String.valueOf(c.string(f));
            case INT -> f == Field.GPU_CLASS || f == Field.GPU_CONTROL ? "0x" + Long.toHexString(c.number(f))
                    : Long.toString(c.number(f));
            case BOOL -> Boolean.toString(c.bool(f));
            case IP -> io.agentguard.net.IpAddresses.format(ipBytes(c));
        };
    }

    private static byte[] ipBytes(EventContext c) {
        long hi = c.ipHigh();
        long lo = c.ipLow();
        if (hi == 0 && (lo >>> 32) == 0xffff) {
            int v4 = (int) lo;
            return new byte[] {(byte) (v4 >>> 24), (byte) (v4 >>> 16), (byte) (v4 >>> 8), (byte) v4};
        }
        byte[] b = new byte[16];
        for (int i = 0; i < 8; i++) {
            b[i] = (byte) (hi >>> (56 - 8 * i));
            b[8 + i] = (byte) (lo >>> (56 - 8 * i));
        }
        return b;
    }
}
