package io.agentguard.bpf;

import java.lang.foreign.MemorySegment;

/** One program of a {@link BpfObject}: set up before load, attached after. */
public final class BpfProgram {
    /** enum bpf_prog_type values this agent sets by hand. */
    public static final int TYPE_CGROUP_SOCK_ADDR = 18;
    /** enum bpf_attach_type: cgroup/connect_unix, kernel 6.7+, unknown to libbpf 1.1. */
    public static final int ATTACH_CGROUP_UNIX_CONNECT = 49;
    /** enum bpf_attach_type: cgroup/sendmsg_unix, kernel 6.7+ with connect_unix, unknown to libbpf 1.1. */
    public static final int ATTACH_CGROUP_UNIX_SENDMSG = 50;

    private final BpfObject owner;
    private final MemorySegment program;
    private final String name;

    BpfProgram(BpfObject owner, MemorySegment program, String name) {
        this.owner = owner;
        this.program = program;
        this.name = name;
    }

    public String name() {
        return name;
    }

    public BpfProgram autoload(boolean on) {
        Libbpf.checkInt("bpf_program__set_autoload", name, Libbpf.programSetAutoload(program, on));
        return this;
    }

    public BpfProgram type(int progType, int expectedAttachType) {
        Libbpf.checkInt("bpf_program__set_type", name, Libbpf.programSetType(program, progType));
        Libbpf.checkInt("bpf_program__set_expected_attach_type", name,
                Libbpf.programSetExpectedAttachType(program, expectedAttachType));
        return this;
    }

    public int fd() {
        return Libbpf.programFd(program);
    }

    /** Attaches where the section name says (tracepoints, tp_btf, lsm). */
    public BpfLink attach() {
        return owner.register(new BpfLink(owner, Libbpf.programAttach(program, name), name));
    }

    /** Attaches to a cgroup (and its whole subtree) given an open directory fd. */
    public BpfLink attachCgroup(int cgroupFd, String cgroupPath) {
        MemorySegment link = Libbpf.programAttachCgroup(program, cgroupFd, name + " on cgroup " + cgroupPath);
        return owner.register(new BpfLink(owner, link, name + "@" + cgroupPath));
    }
}
