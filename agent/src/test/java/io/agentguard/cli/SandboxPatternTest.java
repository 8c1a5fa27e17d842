package io.agentguard.cli;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;

import static org.assertj.core.api.Assertions.assertThat;

/** `agentguard sandbox` needs one cgroup by name: a pattern is refused, never made as a literal "job_*" directory. */
class SandboxPatternTest {
    @Test
    void aPatternAsTheSandboxCgroupIsRefusedAndTheCommandDoesNotRun() {
        PrintStream savedErr = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true));
        int code;
        try {
            code = Main.execute(new String[] {"sandbox", "--cgroup", "agentguard/job_*", "--", "/bin/true"});
        } finally {
            System.setErr(savedErr);
        }
        assertThat(code).isEqualTo(2);
        assertThat(err.toString()).contains("'agentguard/job_*' is a pattern").contains("CMD did not run");
    }
}
