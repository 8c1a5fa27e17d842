package io.agentguard.demo;

import io.agentguard.daemon.KernelAgentExtension;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** `agentguard demo` run the way a newcomer runs it: a separate process, to completion. */
class DemoKernelTest {
    @Test
    void theDemoCatchesAndStopsEveryMisbehaviourLeavesBenignWorkAloneAndCleansUp() throws Exception {
        KernelAgentExtension.requireRoot();
        Path java = Path.of(ProcessHandle.current().info().command().orElseThrow());
        Process p = new ProcessBuilder(List.of(java.toString(), "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow", "-cp", System.getProperty("java.class.path"),
                "-Dagentguard.native.dir=" + KernelAgentExtension.nativeTool("nvreplay").getParent(),
                "io.agentguard.cli.Main", "demo")).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(output).isZero();

        // every step checked its own outcome; these are the facts behind them
        assertThat(output.lines().filter(l -> l.strip().equals("as expected")).count()).as(output).isEqualTo(5);
        assertThat(output).contains("[Miner binary started]", "[Miner arguments in command line]",
                "[SSH forwarding or tunnel tool to a destination policy does not explicitly allow]",
                "[GPU compute context without a compute grant]",
                "connect 127.66.3.33:3333 stream denied (EPERM)", "connect 127.66.0.22:2222 stream denied (EPERM)",
                "connect 127.66.0.80:8080 stream connected", "COMPUTE-CONTEXT  DENIED",
                "0 connection(s) reached the mock mining pool", "0 connection(s) reached the mock sshd",
                "1 connection(s) reached the mock model registry");
        assertThat(output.lines().filter(l -> l.contains("xmrig[") && l.contains("exit signal=SIGKILL")).count())
                .isEqualTo(1);
        Matcher reported = Pattern.compile("reported: (\\d+) of (\\d+) violations acknowledged").matcher(output);
        assertThat(reported.find()).as(output).isTrue();
        assertThat(reported.group(1)).isEqualTo(reported.group(2));
        assertThat(Integer.parseInt(reported.group(1))).isGreaterThanOrEqualTo(5);

        // nothing left behind: cgroup, stand-in devices, scratch files
        Path cgroupRoot = io.agentguard.scope.Cgroup2Mount.find();
        assertThat(cgroupRoot.resolve("agentguard/demo-" + p.pid())).doesNotExist();
        assertThat(Path.of("/dev/agentguard-demo-" + p.pid())).doesNotExist();
        assertThat(Path.of(System.getProperty("java.io.tmpdir"), "agentguard-demo-" + p.pid())).doesNotExist();
    }
}
