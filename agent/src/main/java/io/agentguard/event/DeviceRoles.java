package io.agentguard.event;

import io.agentguard.proto.v1.DeviceRole;

import static io.agentguard.abi.KernelAbi.*;

/** enum ag_device_role to and from the wire's DeviceRole. */
final class DeviceRoles {
    private DeviceRoles() {
    }

    static DeviceRole toProto(int role) {
        return switch (role) {
            case AG_DEV_CONTROL -> DeviceRole.DEVICE_ROLE_CONTROL;
            case AG_DEV_GPU -> DeviceRole.DEVICE_ROLE_GPU;
            case AG_DEV_UVM -> DeviceRole.DEVICE_ROLE_UVM;
            case AG_DEV_MODESET -> DeviceRole.DEVICE_ROLE_MODESET;
            case AG_DEV_UVM_TOOLS -> DeviceRole.DEVICE_ROLE_UVM_TOOLS;
            case AG_DEV_CAPS -> DeviceRole.DEVICE_ROLE_CAPS;
            case AG_DEV_BLOCK -> DeviceRole.DEVICE_ROLE_BLOCK;
            default -> DeviceRole.DEVICE_ROLE_UNSPECIFIED;
        };
    }

    static int toKernel(DeviceRole role) {
        return switch (role) {
            case DEVICE_ROLE_CONTROL -> AG_DEV_CONTROL;
            case DEVICE_ROLE_GPU -> AG_DEV_GPU;
            case DEVICE_ROLE_UVM -> AG_DEV_UVM;
            case DEVICE_ROLE_MODESET -> AG_DEV_MODESET;
            case DEVICE_ROLE_UVM_TOOLS -> AG_DEV_UVM_TOOLS;
            case DEVICE_ROLE_CAPS -> AG_DEV_CAPS;
            case DEVICE_ROLE_BLOCK -> AG_DEV_BLOCK;
            default -> AG_DEV_NONE;
        };
    }
}
