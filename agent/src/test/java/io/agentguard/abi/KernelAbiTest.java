package io.agentguard.abi;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.agentguard.bpf.BpfObject;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link KernelAbi} (generated at build time) agrees with what the kernel side was compiled
 * with. The BTF is read here independently of the generator, with bpftool: the shipped
 * object's (the structs its programs use, its programs and maps), the header-only object's
 * (every struct and enum of agentguard.h), and the header's text (every enumerator, and no
 * constant left as a macro, where BTF could not see it).
 */
class KernelAbiTest {
    private static final Path HEADER = Path.of(System.getProperty("agentguard.bpf.header", "../bpf/agentguard.h"));
    private static final Path ABI_OBJECT = Path.of(System.getProperty("agentguard.bpf.dir", "target/bpf"), "abi.bpf.o");

    /** The programs' BTF holds the structs of map keys and values and those CO-RE or a map names. */
    @Test
    void everyStructOfTheShippedObjectHasItsOffsetsAndSizeInJava() throws Exception {
        Btf shipped = Btf.of(shippedObject());
        Map<String, JsonObject> structs = shipped.structs();
        assertThat(structs).as("structs of the shipped object's BTF").containsKeys("ag_header", "ag_exec",
                "ag_config", "ag_egress_value", "ag_policy", "ag_device_key");
        assertThat(javaLayouts(structs.values(), shipped)).containsExactlyInAnyOrderEntriesOf(btfLayouts(structs.values()));
    }

    @Test
    void everyStructAndEnumeratorOfTheHeaderHasItsJavaTwin() throws Exception {
        Btf abi = Btf.of(ABI_OBJECT);
        Map<String, JsonObject> structs = abi.structs();
        assertThat(javaLayouts(structs.values(), abi)).containsExactlyInAnyOrderEntriesOf(btfLayouts(structs.values()));

        Map<String, Long> enumerators = abi.enumerators();
        Map<String, Long> java = new TreeMap<>();
        for (String name : enumerators.keySet()) {
            java.put(name, constant(KernelAbi.class, name));
        }
        assertThat(java).containsExactlyInAnyOrderEntriesOf(enumerators);

        // the generator sees what reaches BTF: every type and enumerator the header declares must
        String header = Files.readString(HEADER);
        TreeSet<String> declared = new TreeSet<>();
        Matcher types = Pattern.compile("(?m)^(?:struct|enum) ((?:ag|nv)_\\w+) \\{").matcher(header);
        while (types.find()) {
            declared.add(types.group(1));
        }
        TreeSet<String> inBtf = new TreeSet<>(structs.keySet());
        inBtf.addAll(abi.enumNames());
        assertThat(inBtf).as("structs and enums of %s in BTF", HEADER).containsAll(declared);
        Matcher names = Pattern.compile("(?m)^\\s+([A-Z][A-Z0-9_]+)\\s*=").matcher(header);
        TreeSet<String> enumeratorsInText = new TreeSet<>();
        while (names.find()) {
            enumeratorsInText.add(names.group(1));
        }
        assertThat(enumerators.keySet()).as("enumerators in BTF").containsAll(enumeratorsInText);
    }

    @Test
    void headerKeepsNoConstantAsAMacro() throws IOException {
        List<String> macros = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^#define (\\w+)(\\s|$)").matcher(Files.readString(HEADER));
        while (m.find()) {
            macros.add(m.group(1));
        }
        assertThat(macros).as("object-like macros are invisible to BTF, so to the Java generator: make them"
                + " enumerators").containsExactly("AGENTGUARD_H");
    }

    @Test
    void programsAndMapsOfTheShippedObjectAreNamedInJava() throws Exception {
        Btf shipped = Btf.of(shippedObject());
        assertThat(stringConstants(KernelAbi.Programs.class)).containsExactlyInAnyOrderElementsOf(shipped.programs());
        assertThat(stringConstants(KernelAbi.Maps.class)).containsExactlyInAnyOrderElementsOf(shipped.maps());
    }

    /** "struct.member" -> byte offset and "struct" -> size, from BTF. */
    private static Map<String, Long> btfLayouts(Iterable<JsonObject> structs) {
        Map<String, Long> out = new HashMap<>();
        for (JsonObject s : structs) {
            String name = s.get("name").getAsString();
            out.put(name, s.get("size").getAsLong());
            for (JsonElement m : s.getAsJsonArray("members")) {
                JsonObject member = m.getAsJsonObject();
                out.put(name + "." + member.get("name").getAsString(), member.get("bits_offset").getAsLong() / 8);
            }
        }
        return out;
    }

    /** The same, read from KernelAbi's nested classes. */
    private static Map<String, Long> javaLayouts(Iterable<JsonObject> structs, Btf btf) throws Exception {
        Map<String, Long> out = new HashMap<>();
        for (JsonObject s : structs) {
            String name = s.get("name").getAsString();
            Class<?> c = Class.forName(KernelAbi.class.getName() + "$" + className(name));
            out.put(name, constant(c, "SIZEOF"));
            for (JsonElement m : s.getAsJsonArray("members")) {
                String member = m.getAsJsonObject().get("name").getAsString();
                out.put(name + "." + member, constant(c, member.toUpperCase(Locale.ROOT)));
            }
        }
        return out;
    }

    private static String className(String struct) {
        StringBuilder b = new StringBuilder();
        for (String part : struct.replaceFirst("^ag_", "").split("_")) {
            b.append(Character.toUpperCase(part.charAt(0))).append(part.substring(1));
        }
        return b.toString();
    }

    private static long constant(Class<?> c, String name) throws ReflectiveOperationException {
        Field f = c.getField(name);
        Object v = f.get(null);
        return v instanceof Integer i ? Integer.toUnsignedLong(i) : (Long) v;
    }

    private static List<String> stringConstants(Class<?> c) throws IllegalAccessException {
        List<String> out = new ArrayList<>();
        for (Field f : c.getFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == String.class) {
                out.add((String) f.get(null));
            }
        }
        return out;
    }

    private static Path shippedObject() throws IOException {
        Path p = Files.createTempFile("agentguard", ".bpf.o");
        p.toFile().deleteOnExit();
        Files.write(p, BpfObject.embeddedElf());
        return p;
    }

    /** An object's BTF as bpftool prints it in JSON. */
    private record Btf(Map<Long, JsonObject> byId) {
        static Btf of(Path object) throws IOException, InterruptedException {
            Process p = new ProcessBuilder("bpftool", "-j", "btf", "dump", "file", object.toString())
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            String json = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as("bpftool btf dump file %s", object).isZero();
            Map<Long, JsonObject> byId = new HashMap<>();
            for (JsonElement t : JsonParser.parseString(json).getAsJsonObject().getAsJsonArray("types")) {
                byId.put(t.getAsJsonObject().get("id").getAsLong(), t.getAsJsonObject());
            }
            return new Btf(byId);
        }

        Map<String, JsonObject> structs() {
            Map<String, JsonObject> out = new TreeMap<>();
            for (JsonObject t : byId.values()) {
                String name = t.get("name").getAsString();
                if (t.get("kind").getAsString().equals("STRUCT") && (name.startsWith("ag_") || name.startsWith("nv_"))) {
                    out.put(name, t);
                }
            }
            return out;
        }

        List<String> enumNames() {
            return byId.values().stream().filter(t -> t.get("kind").getAsString().equals("ENUM"))
                    .map(t -> t.get("name").getAsString()).toList();
        }

        /** Enumerator -> value as the u32 it is in the maps and records. */
        Map<String, Long> enumerators() {
            Map<String, Long> out = new TreeMap<>();
            for (JsonObject t : byId.values()) {
                if (t.get("kind").getAsString().equals("ENUM")) {
                    for (JsonElement v : t.getAsJsonArray("values")) {
                        out.put(v.getAsJsonObject().get("name").getAsString(), v.getAsJsonObject().get("val").getAsLong()
                                & 0xffff_ffffL);
                    }
                }
            }
            return out;
        }

        /**
         * Global functions that are subprograms one hook file calls in another (BTF alone cannot tell
         * them from programs; libbpf, and so the generator, does).
         */
        private static final java.util.Set<String> GLOBAL_SUBPROGRAMS = java.util.Set.of("ag_daemon_alive");

        /** BPF programs: the object's global functions, less the global subprograms. */
        List<String> programs() {
            return byId.values().stream().filter(t -> t.get("kind").getAsString().equals("FUNC")
                    && t.get("linkage").getAsString().equals("global")).map(t -> t.get("name").getAsString())
                    .filter(n -> !GLOBAL_SUBPROGRAMS.contains(n)).toList();
        }

        /** Maps: the variables of the .maps section. */
        List<String> maps() {
            List<String> out = new ArrayList<>();
            for (JsonObject t : byId.values()) {
                if (t.get("kind").getAsString().equals("DATASEC") && t.get("name").getAsString().equals(".maps")) {
                    JsonArray vars = t.getAsJsonArray("vars");
                    for (JsonElement v : vars) {
                        out.add(byId.get(v.getAsJsonObject().get("type_id").getAsLong()).get("name").getAsString());
                    }
                }
            }
            return out;
        }
    }
}
