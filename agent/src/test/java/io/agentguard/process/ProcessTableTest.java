package io.agentguard.process;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

class ProcessTableTest {
    @Test
    void execForkExitFollowProcessesAndChildrenInheritTheProgram() {
        ProcessTable t = new ProcessTable(16, 1_000_000_000L);
        t.onExec(10, 1, 7, 1000, "bash", "/usr/bin/bash", List.of("bash", "-l"), 1);
        t.onFork(10, 11, 2);
        int child = t.slot(11);
        assertThat(t.exe(child)).isEqualTo("/usr/bin/bash");
        assertThat(t.ppid(child)).isEqualTo(10);
        t.onExec(11, 10, 7, 1000, "xmrig", "/tmp/x/xmrig", List.of("xmrig", "-o", "pool"), 3);
        assertThat(t.name(child)).isEqualTo("xmrig");
        assertThat(t.args(child)).isEqualTo("-o pool");
        assertThat(t.cmdline(child)).isEqualTo("xmrig -o pool");
        assertThat(t.ancestors(child)).containsExactly(t.slot(10));
        t.onExit(11);
        assertThat(t.slot(11)).isEqualTo(-1);
        assertThat(t.size()).isEqualTo(1);
    }

    @Test
    void aFullTableEvictsTheLeastRecentlySeenAndCountsIt() {
        ProcessTable t = new ProcessTable(64, 1);
        for (int pid = 1; pid <= 64; pid++) {
            t.ensure(pid, 0, "p", 7, 0, pid == 5 ? 0 : 1000 + pid);   // pid 5 seen longest ago
        }
        t.ensure(100, 0, "new", 7, 0, 5000);
        assertThat(t.evictions()).isEqualTo(1);
        assertThat(t.slot(5)).isEqualTo(-1);
        assertThat(t.slot(100)).isNotNegative();
        assertThat(t.size()).isEqualTo(64);
    }

    @Test
    void stateIsKeptPerProcessAndPerCgroup() {
        ProcessTable t = new ProcessTable(16, 10_000L);
        int a = t.ensure(1, 0, "a", 7, 0, 0);
        int b = t.ensure(2, 0, "b", 7, 0, 0);
        t.markGpuCompute(a);
        t.addGpuMemory(a, 100);
        t.addGpuMemory(b, 50);
        assertThat(t.gpuCompute(a)).isTrue();
        assertThat(t.gpuCompute(b)).isFalse();
        assertThat(t.cgroupGpuCompute(7)).isTrue();
        assertThat(t.cgroupGpuMemBytes(7)).isEqualTo(150);

        assertThat(t.recordDestination(a, 1, 0)).isEqualTo(1);
        assertThat(t.recordDestination(a, 1, 10)).isEqualTo(1);      // same destination
        assertThat(t.recordDestination(a, 2, 20)).isEqualTo(2);
        assertThat(t.recordDestination(b, 3, 30)).isEqualTo(1);
        assertThat(t.cgroupDistinctDestinations(7, 30)).isEqualTo(3);
        assertThat(t.distinctDestinations(a, 10_015)).isEqualTo(1);   // destination 1 last seen at 10, 2 at 20
        assertThat(t.distinctDestinations(a, 20_001)).isZero();
    }

    @Test
    void distinctDestinationsSaturateAtTheWindowCapacity() {
        DestinationWindow w = new DestinationWindow(8);
        int count = 0;
        for (int d = 1; d <= 100; d++) {
            count = w.record(d, d, 1_000_000);
        }
        assertThat(count).isEqualTo(8);
        for (int i = 0; i < 50; i++) {
            count = w.record(7, 200 + i, 1_000_000);   // one busy destination pushes the others out early
        }
        assertThat(count).isBetween(1, 8);
    }

    @Test
    void seedingFromProcInstallsProcessesOfTheCgroupsWithTheirAncestors() throws Exception {
        String self = null;
        for (String line : Files.readAllLines(Path.of("/proc/self/cgroup"))) {
            if (line.startsWith("0::")) {
                self = line.substring(3).replaceFirst("^/", "");
            }
        }
        assertThat(self).isNotNull();
        ProcessTable t = new ProcessTable(65536, 1);
        int added = t.seedFromProc(Path.of("/proc"), Set.of(self), path -> 42);
        int pid = (int) ProcessHandle.current().pid();
        int slot = t.slot(pid);
        assertThat(added).isPositive();
        assertThat(slot).isNotNegative();
        assertThat(t.exe(slot)).isEqualTo(ProcessHandle.current().info().command().orElseThrow());
        assertThat(t.cmdline(slot)).contains("surefire");
        assertThat(t.ppid(slot)).isEqualTo((int) ProcessHandle.current().parent().orElseThrow().pid());
        assertThat(t.ancestors(slot)).isNotEmpty();
    }
}
