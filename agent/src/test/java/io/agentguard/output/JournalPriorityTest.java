package io.agentguard.output;

import io.agentguard.config.OutputFormat;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.ProcessInfo;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** `journalctl -p crit` finds critical violations: sd-daemon prefixes on the journal's stream, and only there. */
class JournalPriorityTest {
    private static List<String> written(boolean journal, OutputFormat format) {
        StringWriter out = new StringWriter();
        EventWriter w = new EventWriter(out, format, 16, journal);
        w.acceptViolation(Violation.newBuilder().setRule("miner").setPriority(Priority.PRIORITY_CRITICAL).setOutput("x").build());
        w.acceptViolation(Violation.newBuilder().setRule("egress").setPriority(Priority.PRIORITY_WARNING).setOutput("y").build());
        w.acceptViolation(Violation.newBuilder().setRule("dbg").setPriority(Priority.PRIORITY_DEBUG).setOutput("z").build());
        w.accept(Event.newBuilder().setProcess(ProcessInfo.newBuilder().setPid(7)).build());
        w.close();
        return out.toString().lines().toList();
    }

    @Test
    void onTheJournalEachLineCarriesItsPriorityViolationsByTheirsEventsAtInfo() {
        for (OutputFormat f : OutputFormat.values()) {
            List<String> lines = written(true, f);
            assertThat(lines).hasSize(4);
            assertThat(lines.get(0)).startsWith("<2>");   // CRITICAL: journalctl -p crit
            assertThat(lines.get(1)).startsWith("<4>");   // WARNING
            assertThat(lines.get(2)).startsWith("<7>");   // DEBUG
            assertThat(lines.get(3)).startsWith("<6>");   // an event: info
        }
    }

    @Test
    void onATerminalOrAFileLinesAreBare() {
        for (OutputFormat f : OutputFormat.values()) {
            assertThat(written(false, f)).hasSize(4).noneMatch(l -> l.startsWith("<"));
        }
    }

    @Test
    void stdoutIsTheJournalOnlyWhenJournalStreamNamesThatVeryStream(@TempDir Path dir) throws Exception {
        Path journal = Files.writeString(dir.resolve("journal-socket-stand-in"), "");
        Path file = Files.writeString(dir.resolve("redirected"), "");
        Map<String, Object> st = Files.readAttributes(journal, "unix:dev,ino");
        String env = st.get("dev") + ":" + st.get("ino");
        assertThat(JournalStream.matches(env, journal)).isTrue();
        assertThat(JournalStream.matches(env, file)).isFalse();      // JOURNAL_STREAM inherited, stdout redirected
        assertThat(JournalStream.matches(null, journal)).isFalse();  // not under systemd: a terminal
        assertThat(JournalStream.matches("garbage", journal)).isFalse();
    }
}
