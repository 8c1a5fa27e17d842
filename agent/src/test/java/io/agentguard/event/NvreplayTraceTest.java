package io.agentguard.event;

import io.agentguard.daemon.KernelAgentExtension;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * nvreplay --trace without a kernel hook: ordinary character devices (/dev/null, /dev/zero,
 * /dev/full) take the calls and answer ENOTTY; -v lists each call issued, on which node.
 */
class NvreplayTraceTest {
    record Result(int status, String output) {
        long calls(String what) {
            return output.lines().filter(l -> l.startsWith("line=") && l.contains(what)).count();
        }
    }

    private static Result nvreplay(String... args) throws IOException, InterruptedException {
        List<String> argv = new ArrayList<>(List.of(KernelAgentExtension.nativeTool("nvreplay").toString()));
        argv.addAll(List.of(args));
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return new Result(p.exitValue(), out);
    }

    private static String[] devices(String trace, String... more) {
        List<String> a = new ArrayList<>(List.of("--trace", NvidiaTrace.file(trace).toString(), "--ctl", "/dev/null",
                "--gpu", "/dev/zero", "--uvm", "/dev/full"));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test
    void everyRecordedCallIsIssuedOnTheNodeOfItsDeviceNumber() throws Exception {
        Result r = nvreplay(devices("torch", "-v"));
        assertThat(r.status()).isZero();
        assertThat(r.calls("")).isEqualTo(549);
        assertThat(r.calls("dev=ctl")).isEqualTo(394);   // 195:255
        assertThat(r.calls("dev=gpu")).isEqualTo(40);    // 195:0
        assertThat(r.calls("dev=uvm")).isEqualTo(115);   // 238:0
        assertThat(r.calls("class=0xcbc0")).isEqualTo(8);
        assertThat(r.output()).contains("line=1 pid=483 fd=8 dev=ctl cmd=0xc00846d6 -> ENOTTY");
    }

    @Test
    void repeatReplaysTheWholeTraceAndPidKeepsOneProcess() throws Exception {
        assertThat(nvreplay(devices("smi", "-v", "--repeat", "3")).calls("")).isEqualTo(3 * 63);
        assertThat(nvreplay(devices("smi", "-v", "--pid", "511")).calls("")).isEqualTo(63);
        Result none = nvreplay(devices("smi", "--pid", "1"));
        assertThat(none.status()).isEqualTo(2);
        assertThat(none.output()).contains("no calls to replay for --pid");
    }

    @Test
    void aNodeThatDoesNotOpenStopsTheRunOrWithKeepGoingOnlyItsCalls() throws Exception {
        String[] missing = {"--trace", NvidiaTrace.file("torch").toString(), "--ctl", "/dev/null", "--gpu",
                "/nonexistent/nvidia0", "--uvm", "/dev/full", "-v"};
        Result stop = nvreplay(missing);
        assertThat(stop.status()).isEqualTo(1);
        assertThat(stop.output()).contains("cannot open /nonexistent/nvidia0 (--gpu)");
        assertThat(stop.calls("dev=gpu")).isZero();
        List<String> keepGoing = new ArrayList<>(List.of(missing));
        keepGoing.add("--keep-going");
        Result on = nvreplay(keepGoing.toArray(String[]::new));
        assertThat(on.status()).isEqualTo(1);
        assertThat(on.calls("")).isEqualTo(549 - 40);
    }

    @Test
    void aBadTraceOrAMissingNodeIsRefusedBeforeAnyCall() throws Exception {
        Path bad = Files.createTempFile("nvtrace", ".txt");
        Files.writeString(bad, "483 8 195:255 0xc00846d6 0 0 0000004000000000\n483 8 195:255 0xc00846d6 0 0 00x\n");
        Result r = nvreplay("--trace", bad.toString(), "--ctl", "/dev/null", "--gpu", "/dev/zero", "-v");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.output()).contains(bad + ":2: not PID FD MAJOR:MINOR REQUEST RET ERRNO HEX").doesNotContain("line=1");
        Result noUvm = nvreplay("--trace", NvidiaTrace.file("torch").toString(), "--ctl", "/dev/null", "--gpu", "/dev/zero");
        assertThat(noUvm.status()).isEqualTo(2);
        assertThat(noUvm.output()).contains("a call on the uvm node, and no --uvm given");
        assertThat(nvreplay(devices("torch", "--mode", "smi")).status()).isEqualTo(2);
        assertThat(nvreplay("--pid", "1", "--ctl", "/dev/null", "--gpu", "/dev/zero", "--uvm", "/dev/full").output())
                .contains("--pid needs --trace");
        Files.delete(bad);
    }
}
