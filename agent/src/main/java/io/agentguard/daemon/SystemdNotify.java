package io.agentguard.daemon;

import io.agentguard.bpf.Libc;

/**
 * sd_notify(3) without libsystemd: a datagram to $NOTIFY_SOCKET ("@" = abstract name).
 * Does nothing when not started by systemd with Type=notify.
 */
final class SystemdNotify {
    private SystemdNotify() {
    }

    /** Returns true when the message was sent. */
    static boolean send(String state) {
        String socket = System.getenv("NOTIFY_SOCKET");
        if (socket == null || socket.isEmpty()) {
            return false;
        }
        return Libc.sendUnixDatagram(socket, state) == 0;
    }
}
