package io.agentguard.gpu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;

import static io.agentguard.abi.KernelAbi.*;

/**
 * A character device declared to stand in for an NVIDIA device node (labs and tests
 * without a GPU): {@code PATH=ROLE} with ROLE one of control, gpuN, uvm, uvm-tools,
 * modeset. Identified by device number, like real NVIDIA nodes.
 */
public record GpuStandin(Path path, int role, int index, int major, int minor) {
    private static final int S_IFMT = 0170000;
    private static final int S_IFCHR = 0020000;

    public static GpuStandin parse(String spec) {
        int eq = spec.lastIndexOf('=');
        if (eq <= 0 || eq == spec.length() - 1) {
            throw new IllegalArgumentException("GPU stand-in '" + spec + "' is not PATH=ROLE (ROLE: control, gpuN, uvm, uvm-tools, modeset)");
        }
        Path path = Path.of(spec.substring(0, eq));
        String roleText = spec.substring(eq + 1).trim().toLowerCase(Locale.ROOT);
        int role;
        int index = 0;
        switch (roleText) {
            case "control" -> role = AG_DEV_CONTROL;
            case "uvm" -> role = AG_DEV_UVM;
            case "uvm-tools" -> role = AG_DEV_UVM_TOOLS;
            case "modeset" -> role = AG_DEV_MODESET;
            default -> {
                if (!roleText.matches("gpu[0-9]{1,3}")) {
                    throw new IllegalArgumentException("GPU stand-in '" + spec + "': unknown role '" + roleText
                            + "' (expected control, gpuN, uvm, uvm-tools or modeset)");
                }
                role = AG_DEV_GPU;
                index = Integer.parseInt(roleText.substring(3));
                if (index > NV_MINOR_GPU_MAX) {
                    throw new IllegalArgumentException("GPU stand-in '" + spec + "': GPU index " + index + " > " + NV_MINOR_GPU_MAX);
                }
            }
        }
        int mode;
        long rdev;
        try {
            mode = (Integer) Files.getAttribute(path, "unix:mode");
            rdev = (Long) Files.getAttribute(path, "unix:rdev");
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("GPU stand-in '" + spec + "': " + path + " does not exist");
        } catch (IOException e) {
            throw new IllegalArgumentException("GPU stand-in '" + spec + "': cannot stat " + path + ": " + e.getMessage());
        }
        if ((mode & S_IFMT) != S_IFCHR) {
            throw new IllegalArgumentException("GPU stand-in '" + spec + "': " + path + " is not a character device");
        }
        return new GpuStandin(path, role, index, major(rdev), minor(rdev));
    }

    /** glibc's dev_t encoding (gnu_dev_major / gnu_dev_minor). */
    static int major(long dev) {
        return (int) (((dev >>> 8) & 0xfff) | ((dev >>> 32) & ~0xfffL));
    }

    static int minor(long dev) {
        return (int) ((dev & 0xff) | ((dev >>> 12) & ~0xffL));
    }

    @Override
    public String toString() {
        String r = switch (role) {
            case AG_DEV_CONTROL -> "control";
            case AG_DEV_GPU -> "gpu" + index;
            case AG_DEV_UVM -> "uvm";
            case AG_DEV_UVM_TOOLS -> "uvm-tools";
            default -> "modeset";
        };
        return path + "=" + r + " (" + major + ":" + minor + ")";
    }
}
