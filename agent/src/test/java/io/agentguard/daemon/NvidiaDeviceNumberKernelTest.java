package io.agentguard.daemon;

import io.agentguard.config.SyscallOutcomes;
import io.agentguard.proto.v1.DeviceRole;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.GpuEvent;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Real NVIDIA device numbers without a GPU: nodes made with mknod (195:x and a uvm major)
 * are recognised by number when opened (the open then fails with ENXIO, no driver), and a
 * driver that "loads" after start (its uvm major appearing in /proc/devices) is picked up:
 * its device map entry added and the ioctl hook attached.
 */
class NvidiaDeviceNumberKernelTest {
    static final int UVM_MAJOR = 237;
    static final Path PROC_DEVICES;

    static {
        try {
            PROC_DEVICES = Files.createTempFile("agentguard-proc-devices", "");
            Files.writeString(PROC_DEVICES, "Character devices:\n  1 mem\n  4 tty\n\nBlock devices:\n  8 sd\n");
        } catch (IOException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096, 1 << 20, SyscallOutcomes.AUTO)
            .withoutStandins(PROC_DEVICES, 100);

    @Test
    void nvidiaNodesAreRecognisedByNumberAndALateDriverIsPickedUp() throws Exception {
        assertThat(KERNEL.agent().hooks().get("gpu-ioctl")).contains("deferred");
        Path dir = Files.createTempDirectory("agentguard-nv");
        mknod(dir.resolve("ctl"), 195, 255);
        mknod(dir.resolve("gpu3"), 195, 3);
        mknod(dir.resolve("uvm"), UVM_MAJOR, 0);
        Path cg = KERNEL.newCgroup("nv");
        String open = "for f in ctl gpu3 uvm; do true < " + dir + "/$f 2>/dev/null; done; exit 0";
        KERNEL.runIn(cg, "/bin/sh", "-c", open);

        List<GpuEvent> before = gpu(KERNEL.settle(KERNEL.cgroupId(cg), 300));
        assertThat(before).extracting(GpuEvent::getRole)
                .containsExactly(DeviceRole.DEVICE_ROLE_CONTROL, DeviceRole.DEVICE_ROLE_GPU);
        assertThat(before.get(0).getMinor()).isEqualTo(255);
        assertThat(before.get(1).getGpuIndex()).isEqualTo(3);
        assertThat(before).allMatch(g -> g.getOpen().getRead() && g.getMajor() == 195);

        Files.writeString(PROC_DEVICES, "Character devices:\n  1 mem\n195 nvidia-frontend\n" + UVM_MAJOR
                + " nvidia-uvm\n\nBlock devices:\n  8 sd\n");
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (KERNEL.agent().hooks().get("gpu-ioctl").contains("deferred") && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertThat(KERNEL.agent().hooks().get("gpu-ioctl")).startsWith("tracepoint/syscalls/sys_enter_ioctl (");
        assertThat(KERNEL.agent().hooks().get("syscall-outcomes")).startsWith("sys_exit_connect");

        Path cg2 = KERNEL.newCgroup("nv2");
        KERNEL.runIn(cg2, "/bin/sh", "-c", open);
        assertThat(gpu(KERNEL.settle(KERNEL.cgroupId(cg2), 300))).extracting(GpuEvent::getRole)
                .containsExactly(DeviceRole.DEVICE_ROLE_CONTROL, DeviceRole.DEVICE_ROLE_GPU, DeviceRole.DEVICE_ROLE_UVM);
    }

    private static List<GpuEvent> gpu(List<Event> events) {
        return events.stream().filter(Event::hasGpu).map(Event::getGpu).toList();
    }

    private static void mknod(Path path, int major, int minor) throws Exception {
        Process p = new ProcessBuilder("mknod", path.toString(), "c", String.valueOf(major), String.valueOf(minor))
                .inheritIO().start();
        assertThat(p.waitFor()).isZero();
    }
}
