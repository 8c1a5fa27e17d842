package io.agentguard.cli;

import io.agentguard.config.AgentConfigLoader;
import io.agentguard.config.ConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The daemon's heap is bounded by jvm.max_heap_mb, which the launcher turns into -Xmx before the JVM starts. */
class HeapOptionTest {
    @Test
    void runWithAConfigurationGetsItsHeapLimitAndWithoutOneTheEmbeddedDefaults(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("a.yaml"), "agent_cgroups: [x]\njvm:\n  max_heap_mb: 512\n");
        assertThat(HeapOption.option("run", "--config", file.toString())).isEqualTo("-Xmx512m");
        assertThat(HeapOption.option("run", "--config=" + file, "--mode", "monitor")).isEqualTo("-Xmx512m");
        Path without = Files.writeString(dir.resolve("b.yaml"), "agent_cgroups: [x]\n");
        assertThat(HeapOption.option("run", "--config", without.toString())).isEqualTo("-Xmx256m");
        assertThat(HeapOption.option("run")).isEqualTo("-Xmx" + AgentConfigLoader.maxHeapMb(null) + "m");
        assertThat(HeapOption.option("status")).isEmpty();
    }

    @Test
    void theShippedConfigurationBoundsTheHeap() {
        assertThat(AgentConfigLoader.maxHeapMb(Path.of("../packaging/debian/agentguard.yaml"))).isEqualTo(256);
        assertThat(AgentConfigLoader.maxHeapMb(null)).isEqualTo(256);
    }

    @Test
    void aHeapLimitOutOfRangeIsAnErrorWithItsPosition(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("a.yaml"), "agent_cgroups: [x]\njvm: {max_heap_mb: 8}\n");
        assertThatThrownBy(() -> AgentConfigLoader.load(file)).isInstanceOf(ConfigException.class)
                .hasMessage(file + ":2:20: jvm.max_heap_mb: 8 is out of range 32..65536");
        assertThat(HeapOption.option("run", "--config", file.toString())).isEqualTo("-Xmx256m");
    }
}
