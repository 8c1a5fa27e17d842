package io.agentguard.rules;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

class MinerArgsScannerTest {
    private static String scan(String... argv) {
        byte[] b = (String.join("\0", argv) + "\0").getBytes(StandardCharsets.UTF_8);
        return MinerArgsScanner.scan(b, b.length);
    }

    private static final String MONERO = "4" + "8".repeat(10) + "A".repeat(84);   // 95 base58 characters from 4

    @Test
    void poolSchemesAreFoundAnywhereInAnyCase() {
        assertThat(scan("x", "-o", "stratum+tcp://pool:3333")).contains("stratum+tcp://");
        assertThat(scan("x", "--url=STRATUM+SSL://pool:443")).contains("stratum+ssl://");
        assertThat(scan("x", "config", "stratum2+tcp://a.b:1")).contains("stratum2+tcp://");
    }

    @Test
    void minerOptionsAndAlgorithmsAreFound() {
        assertThat(scan("helper", "--donate-level", "1")).isEqualTo("option --donate-level");
        assertThat(scan("helper", "--donate-level=0")).isEqualTo("option --donate-level");
        assertThat(scan("helper", "--coin", "monero")).isEqualTo("option --coin monero");
        assertThat(scan("helper", "-a", "rx/0")).isEqualTo("algorithm rx/0");
        assertThat(scan("helper", "--algo=kawpow")).isEqualTo("algorithm kawpow");
        assertThat(scan("helper", "--algorithm", "Autolykos2")).isEqualTo("algorithm Autolykos2");
        assertThat(scan("helper", "-arandomx")).isEqualTo("algorithm randomx");
    }

    @Test
    void walletShapedUsersAndPoolPortsAreFound() {
        assertThat(scan("helper", "-u", MONERO)).startsWith("wallet ");
        assertThat(scan("helper", "--user", MONERO + ".rig1")).startsWith("wallet ");
        assertThat(scan("helper", "-u", "0x" + "ab12".repeat(10))).startsWith("wallet ");
        assertThat(scan("helper", "-o", "pool.example:14444")).isEqualTo("pool pool.example:14444 (port 14444)");
        assertThat(scan("helper", "--url", "127.66.0.9:3333")).contains("port 3333");
    }

    @Test
    void ordinaryCommandLinesAreQuiet() {
        assertThat(scan("gcc", "-o", "pool.o", "-c", "pool.c")).isNull();
        assertThat(scan("curl", "-o", "out.html", "-u", "alice:secret", "http://mirror:8080/x")).isNull();
        assertThat(scan("git", "commit", "-a", "-m", "randomx support")).isNull();
        assertThat(scan("ls", "-al")).isNull();
        assertThat(scan("python3", "train.py", "--algo", "adam", "--coin-flip", "0.5")).isNull();
        assertThat(scan("ssh", "-o", "ProxyCommand=none", "host")).isNull();
        assertThat(scan("nc", "-u", "someone")).isNull();
    }

    @Test
    void theSignalIsFoundAfterManyKilobytesAndTheScanIsBounded() {
        StringBuilder filler = new StringBuilder();
        for (int i = 0; i < 600; i++) {
            filler.append("object-").append(i).append(".o\0");
        }
        byte[] b = (filler + "--donate-level\0" + "1\0").getBytes(StandardCharsets.UTF_8);
        assertThat(b.length).isGreaterThan(6000);
        assertThat(MinerArgsScanner.scan(b, b.length)).isEqualTo("option --donate-level");
        assertThat(MinerArgsScanner.scan(b, b.length - 20)).isNull();   // the part scanned ends before it
        byte[] huge = new byte[MinerArgsScanner.MAX_BYTES + 100];
        byte[] tail = "\0--donate-level\0".getBytes(StandardCharsets.UTF_8);
        System.arraycopy(tail, 0, huge, MinerArgsScanner.MAX_BYTES + 10, tail.length);
        assertThat(MinerArgsScanner.scan(huge, huge.length)).isNull();   // beyond MAX_BYTES: not read
    }
}
