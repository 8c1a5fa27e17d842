package io.agentguard.cli;

import com.google.protobuf.ListValue;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import io.agentguard.rules.Field;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** agentguard rules fields: the field catalogue an operator writes rules against. */
class RulesFieldsCommandTest {
    private static String run(String... args) {
        PrintStream saved = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true));
        try {
            assertThat(Main.execute(args)).isZero();
            return out.toString();
        } finally {
            System.setOut(saved);
        }
    }

    @Test
    void listsEveryFieldOnALineWithTypeEventsExampleAndDescriptionInAlignedColumns() {
        List<String> lines = run("rules", "fields").lines().toList();
        assertThat(lines).hasSize(Field.values().length + 1);
        assertThat(lines.getFirst()).startsWith("FIELD").contains("TYPE", "EVENTS", "EXAMPLE", "DESCRIPTION");
        int typeColumn = lines.getFirst().indexOf("TYPE");
        for (Field f : Field.values()) {
            String line = lines.stream().filter(l -> l.startsWith(f.fieldName() + " ")).findFirst().orElseThrow();
            assertThat(line.indexOf(f.type().name().toLowerCase(java.util.Locale.ROOT), typeColumn)).isEqualTo(typeColumn);
            assertThat(line).contains(f.example()).endsWith(f.description());
        }
        assertThat(lines).anySatisfy(l -> assertThat(l).startsWith("policy.egress_allowed_explicitly").contains(" connect "));
        assertThat(lines).anySatisfy(l -> assertThat(l).startsWith("policy.mode ").contains(" all "));
    }

    @Test
    void jsonFormatIsAListOfFieldObjects() throws Exception {
        Value.Builder parsed = Value.newBuilder();
        JsonFormat.parser().merge(run("rules", "fields", "--format", "json"), parsed);
        ListValue list = parsed.getListValue();
        assertThat(list.getValuesCount()).isEqualTo(Field.values().length);
        var compute = list.getValuesList().stream().map(v -> v.getStructValue().getFieldsMap())
                .filter(m -> m.get("name").getStringValue().equals("gpu.compute_new")).findFirst().orElseThrow();
        assertThat(compute.get("type").getStringValue()).isEqualTo("bool");
        assertThat(compute.get("events").getListValue().getValuesList()).extracting(Value::getStringValue)
                .containsExactly("gpu_ioctl");
        assertThat(compute.get("example").getStringValue()).isEqualTo("true");
        assertThat(compute.get("description").getStringValue()).isEqualTo(Field.GPU_COMPUTE_NEW.description());
        assertThat(Arrays.stream(Field.values()).map(Field::fieldName)).allMatch(n -> list.getValuesList().stream()
                .anyMatch(v -> v.getStructValue().getFieldsMap().get("name").getStringValue().equals(n)));
    }
}
