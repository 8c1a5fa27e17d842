package io.agentguard.collector;

import io.agentguard.collector.config.CollectorConfig;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CollectorConfigTest {
    @Test
    void theShippedConffileIsValidAndMeansMutualTlsSqliteInTheStateDirectoryAndLoopbackMetrics() throws Exception {
        CollectorConfig c = CollectorConfig.load(Path.of("../packaging/debian/collector/collector.yaml"));
        assertThat(c.listen()).isEqualTo("0.0.0.0:4317");
        assertThat(c.tlsCert()).isEqualTo(Path.of("/etc/agentguard/tls/collector.crt"));
        assertThat(c.tlsKey()).isEqualTo(Path.of("/etc/agentguard/tls/collector.key"));
        assertThat(c.clientCa()).isEqualTo(Path.of("/etc/agentguard/tls/agents-ca.crt"));
        assertThat(c.plaintext()).isFalse();
        assertThat(c.databaseUrl()).isEqualTo("sqlite:/var/lib/agentguard-collector/collector.db");
        assertThat(c.metricsListen()).isEqualTo("127.0.0.1:9465");
        assertThat(c.retention()).isNull();
    }

    @Test
    void everyKeyIsRead() throws Exception {
        CollectorConfig c = CollectorConfig.parse("c.yaml", """
                listen: 127.0.0.1:5000
                tls: {plaintext: true, allow_unauthenticated_nodes: true}
                database: {url: "jdbc:postgresql://127.0.0.1/x", user: ag, password_file: /run/pw}
                metrics: {listen: ""}
                retention: 2w
                exports: []
                query: {listen: "127.0.0.1:9999"}
                """);
        assertThat(c).isEqualTo(new CollectorConfig("127.0.0.1:5000", null, null, null, true, true,
                "jdbc:postgresql://127.0.0.1/x", "ag", Path.of("/run/pw"), "", Duration.ofDays(14),
                new io.agentguard.collector.export.ExportsConfig(java.util.List.of()), "127.0.0.1:9999"));
        assertThat(CollectorConfig.parse("empty.yaml", "")).isEqualTo(CollectorConfig.defaults());
    }

    @Test
    void theExportsSectionIsReadFromTheConfigFileWithErrorsWhereTheyAre() throws Exception {
        CollectorConfig c = CollectorConfig.parse("c.yaml", """
                listen: 127.0.0.1:5000
                exports:
                  - name: siem
                    type: syslog
                    address: 127.0.0.1:6514
                    transport: tcp
                """);
        assertThat(c.exports().exports()).hasSize(1);
        assertThat(c.exports().exports().getFirst().name()).isEqualTo("siem");
        assertThatThrownBy(() -> CollectorConfig.parse("c.yaml", """
                exports:
                  - name: siem
                    type: syslog
                    address: 127.0.0.1:6514
                    adress: 127.0.0.1:6514
                """)).hasMessageMatching("c\\.yaml:5:13: exports\\[0\\].*adress.*");
    }

    @Test
    void aBadFileIsRefusedWithFileLineAndColumn() {
        assertThatThrownBy(() -> CollectorConfig.parse("c.yaml", "listen: 0.0.0.0:4317\ntls:\n  sert: /x\n"))
                .hasMessageStartingWith("c.yaml:3:3: unknown key 'tls.sert'");
        assertThatThrownBy(() -> CollectorConfig.parse("c.yaml", "retention: 30 days\n"))
                .hasMessageStartingWith("c.yaml:1:12: retention: duration '30 days'");
        assertThatThrownBy(() -> CollectorConfig.parse("c.yaml", "metrics:\n  listen: nowhere\n"))
                .hasMessageStartingWith("c.yaml:2:11: metrics.listen: 'nowhere' is not HOST:PORT");
        assertThatThrownBy(() -> CollectorConfig.parse("c.yaml", "database: {url: mysql://x}\n"))
                .hasMessageStartingWith("c.yaml:1:17: database.url: 'mysql://x' is not sqlite:");
        assertThatThrownBy(() -> CollectorConfig.parse("c.yaml", "tls: {plaintext: yes please}\n"))
                .hasMessageStartingWith("c.yaml:1:18: tls.plaintext must be true or false");
        assertThatThrownBy(() -> CollectorConfig.parse("c.yaml", "listen: [a\n"))
                .hasMessageStartingWith("c.yaml:2:1: YAML syntax error");
        assertThatThrownBy(() -> CollectorConfig.parse("c.yaml", "listen: 1.2.3.4:1\nlisten: 1.2.3.4:2\n"))
                .hasMessageStartingWith("c.yaml:2:1: key 'listen' given twice");
        assertThatThrownBy(() -> CollectorConfig.parse("c.yaml", "exports: " + "[".repeat(5000)))
                .hasMessageContaining("nested more than");
    }
}
