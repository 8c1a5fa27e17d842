package io.agentguard.config;

import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Collectors;

/** The closed sets of configuration values (enums) as files and flags spell them: in lower case. */
public final class ConfigValues {
    private ConfigValues() {
    }

    /** The constant spelled {@code text} ("mtls" for TlsMode.MTLS), if any. */
    public static <E extends Enum<E>> Optional<E> parse(Class<E> type, String text) {
        return Arrays.stream(type.getEnumConstants()).filter(e -> spelling(e).equals(text)).findFirst();
    }

    /** "tls, mtls, plaintext": every spelling, for errors. */
    public static <E extends Enum<E>> String spellings(Class<E> type) {
        return Arrays.stream(type.getEnumConstants()).map(ConfigValues::spelling).collect(Collectors.joining(", "));
    }

    public static String spelling(Enum<?> value) {
        return value.name().toLowerCase(Locale.ROOT);
    }
}
