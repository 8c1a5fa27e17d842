package io.agentguard.gpu;

import io.agentguard.abi.KernelAbi.DeviceKey;
import io.agentguard.abi.KernelAbi.DeviceRoleValue;
import io.agentguard.bpf.MapImage;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

import static io.agentguard.abi.KernelAbi.*;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Which device numbers are NVIDIA devices (docs/EVENTS.md, GpuEvent; NV_* in bpf/agentguard.h): major 195 for
 * nvidiactl, nvidiaN and nvidia-modeset; nvidia-uvm's dynamic major from /proc/devices,
 * which appears only once the uvm module loads, so {@link #read} is called again later;
 * and the declared stand-ins.
 */
public final class NvidiaDevices {

    /** One entry of the kernel's ag_devices map. */
    public record Entry(int major, int minor, int role, int index) {
    }

    private final List<Entry> entries;
    private final boolean driverLoaded;
    private final OptionalInt uvmMajor;

    private NvidiaDevices(List<Entry> entries, boolean driverLoaded, OptionalInt uvmMajor) {
        this.entries = List.copyOf(entries);
        this.driverLoaded = driverLoaded;
        this.uvmMajor = uvmMajor;
    }

    public static NvidiaDevices read(Path procDevices, List<GpuStandin> standins) {
        List<Entry> entries = new ArrayList<>();
        entries.add(new Entry(NV_MAJOR, AG_DEV_ANY_MINOR, AG_DEV_NVIDIA_MAJOR, 0));
        boolean driver = false;
        OptionalInt uvm = OptionalInt.empty();
        List<String> lines;
        try {
            lines = Files.exists(procDevices) ? Files.readAllLines(procDevices) : List.of();
        } catch (IOException e) {
            lines = List.of();
        }
        boolean character = false;
        for (String line : lines) {
            if (line.startsWith("Character devices")) {
                character = true;
                continue;
            }
            if (line.startsWith("Block devices")) {
                character = false;
                continue;
            }
            String[] f = line.trim().split("\\s+");
            if (!character || f.length != 2) {
                continue;
            }
            int major;
            try {
                major = Integer.parseInt(f[0]);
            } catch (NumberFormatException e) {
                continue;
            }
            String name = f[1];
            if (name.equals("nvidia-caps")) {
                entries.add(new Entry(major, AG_DEV_ANY_MINOR, AG_DEV_CAPS, 0));
                driver = true;
            } else if (name.equals("nvidia-uvm")) {
                uvm = OptionalInt.of(major);
                entries.add(new Entry(major, AG_DEV_ANY_MINOR, AG_DEV_UVM_MAJOR, 0));
                driver = true;
            } else if (major == NV_MAJOR || name.startsWith("nvidia")) {
                driver = true;
            }
        }
        for (GpuStandin s : standins) {
            entries.add(new Entry(s.major(), s.minor(), s.role(), s.index()));
        }
        return new NvidiaDevices(entries, driver, uvm);
    }

    /** Writes the entries into ag_devices (what is there already stays: devices do not go away). */
    public void write(MapImage map) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment key = a.allocate(DeviceKey.SIZEOF, 4);
            MemorySegment value = a.allocate(DeviceRoleValue.SIZEOF, 4);
            for (Entry e : entries) {
                key.set(JAVA_INT, DeviceKey.MAJOR, e.major());
                key.set(JAVA_INT, DeviceKey.MINOR, e.minor());
                value.set(JAVA_SHORT, DeviceRoleValue.ROLE, (short) e.role());
                value.set(JAVA_SHORT, DeviceRoleValue.INDEX, (short) e.index());
                map.update(key, value);
            }
        }
    }

    public List<Entry> entries() {
        return entries;
    }

    /** An NVIDIA driver is loaded (its majors are in /proc/devices). */
    public boolean driverLoaded() {
        return driverLoaded;
    }

    public OptionalInt uvmMajor() {
        return uvmMajor;
    }
}
