package io.agentguard.output;

import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ExecEvent;
import io.agentguard.proto.v1.ProcessInfo;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** What a watched process chose cannot forge a line or drive the operator's terminal. */
class TextFormatterTest {
    @Test
    void argumentsWithNewlinesAndEscapesCannotForgeALine() {
        Event e = Event.newBuilder().setProcess(ProcessInfo.newBuilder().setComm("sh\u001b[2K").setPid(7))
                .setExec(ExecEvent.newBuilder().setFilename("/bin/true").setSuccess(true)
                        .addArgs("x\n21:12:00.000 VIOLATION CRITICAL [forged] fake line").addArgs("\u001b[2Kesc"))
                .build();
        String line = TextFormatter.format(e);
        assertThat(line).doesNotContain("\n").doesNotContain("\u001b")
                .contains("x\\x0a21:12:00.000 VIOLATION CRITICAL [forged]").contains("\\x1b[2Kesc").contains("sh\\x1b[2K[7]");
        String violation = TextFormatter.format(Violation.newBuilder().setRule("r").setOutput("a\rb\tc").build());
        assertThat(violation).contains("a\\x0db\\x09c").doesNotContain("\r");
    }

    @Test
    void aHeldTunnelExecSaysSo() {
        Event held = Event.newBuilder().setProcess(ProcessInfo.newBuilder().setComm("ssh").setPid(8))
                .setExec(ExecEvent.newBuilder().setFilename("/usr/bin/ssh").setSuccess(true).addArgs("ssh").setHeld(true))
                .build();
        assertThat(TextFormatter.format(held)).contains("exec /usr/bin/ssh ssh  HELD for the tunnel judge");
        assertThat(TextFormatter.format(held.toBuilder().setExec(held.getExec().toBuilder().setHeld(false)).build()))
                .doesNotContain("HELD");
    }
}
