package io.agentguard.gpu;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static io.agentguard.abi.KernelAbi.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GpuStandinTest {
    @Test
    void standinIsIdentifiedByDeviceNumber() {
        GpuStandin s = GpuStandin.parse("/dev/full=gpu3");
        assertThat(s.major()).isEqualTo(1);
        assertThat(s.minor()).isEqualTo(7);
        assertThat(s.role()).isEqualTo(AG_DEV_GPU);
        assertThat(s.index()).isEqualTo(3);
        assertThat(GpuStandin.parse("/dev/null=control").role()).isEqualTo(AG_DEV_CONTROL);
    }

    @Test
    void badStandinsAreRefusedPrecisely(@TempDir Path dir) throws Exception {
        assertThatThrownBy(() -> GpuStandin.parse("/dev/null")).hasMessageContaining("is not PATH=ROLE");
        assertThatThrownBy(() -> GpuStandin.parse("/dev/null=cpu")).hasMessageContaining("unknown role 'cpu'");
        assertThatThrownBy(() -> GpuStandin.parse("/nope=uvm")).hasMessageContaining("/nope does not exist");
        Path file = Files.createFile(dir.resolve("f"));
        assertThatThrownBy(() -> GpuStandin.parse(file + "=uvm")).hasMessageContaining("is not a character device");
    }

    @Test
    void uvmMajorComesFromProcDevices(@TempDir Path dir) throws Exception {
        Path devices = dir.resolve("devices");
        Files.writeString(devices, "Character devices:\n  1 mem\n195 nvidia-frontend\n508 nvidia-uvm\n\nBlock devices:\n  8 sd\n");
        NvidiaDevices d = NvidiaDevices.read(devices, List.of());
        assertThat(d.driverLoaded()).isTrue();
        assertThat(d.uvmMajor()).hasValue(508);
        assertThat(d.entries()).contains(new NvidiaDevices.Entry(195, AG_DEV_ANY_MINOR, AG_DEV_NVIDIA_MAJOR, 0),
                new NvidiaDevices.Entry(508, AG_DEV_ANY_MINOR, AG_DEV_UVM_MAJOR, 0));
        Files.writeString(devices, "Character devices:\n  1 mem\n");
        assertThat(NvidiaDevices.read(devices, List.of()).driverLoaded()).isFalse();
    }
}
