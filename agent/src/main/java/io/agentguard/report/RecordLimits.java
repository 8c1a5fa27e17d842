package io.agentguard.report;

import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ProcessInfo;
import io.agentguard.proto.v1.Record;
import io.agentguard.proto.v1.Violation;

import java.nio.charset.StandardCharsets;

/**
 * Shrinks a record that is over a size limit so that it can be spooled and delivered instead
 * of being refused (RESOURCE_EXHAUSTED) again and again. Deterministic: the same record and
 * limit always give the same bytes, so a resend is recognised by the collector as identical.
 * A violation keeps its rule, priority, time, action, cgroup and process identity; evidence
 * and ancestry go first, then long text is cut; it gains the tag {@value #TAG} and a note at
 * the end of its output saying what was removed. An event keeps its header and process; its
 * kind goes last.
 */
public final class RecordLimits {
    /** Tag of a violation that was shrunk to fit. */
    public static final String TAG = "agentguard:truncated";
    /** The smallest limit {@link #fit} is asked for (the reporter never goes below it). */
    public static final int MIN_LIMIT = 64 << 10;
    private static final int TEXT = 1024;

    private RecordLimits() {
    }

    /** The record itself if it fits in limit bytes, else a shrunk copy that does (limit >= {@link #MIN_LIMIT}). */
    public static Record fit(Record r, int limit) {
        int original = r.getSerializedSize();
        if (original <= limit) {
            return r;
        }
        if (r.hasViolation()) {
            Violation v = r.getViolation();
            Violation.Builder b = v.toBuilder().clearEvidence().addTags(TAG)
                    .setOutput(v.getOutput() + note(original, limit, "evidence removed"));
            Record shrunk = r.toBuilder().setViolation(b).build();
            if (shrunk.getSerializedSize() <= limit) {
                return shrunk;
            }
            b = Violation.newBuilder().setTime(v.getTime()).setRule(cut(v.getRule(), TEXT)).setPriority(v.getPriority())
                    .setDescription(cut(v.getDescription(), TEXT)).setAction(v.getAction())
                    .setCgroupPath(cut(v.getCgroupPath(), TEXT))
                    .setRuleSource(cut(v.getRuleSource(), TEXT));
            if (v.hasProcess()) {
                b.setProcess(identity(v.getProcess()));
            }
            if (v.hasWorkload()) {   // the ids the collector files it under stay; runtime labels go
                b.setWorkload(v.getWorkload().toBuilder().clearLabels());
            }
            for (int i = 0; i < Math.min(16, v.getTagsCount()); i++) {
                b.addTags(cut(v.getTags(i), 256));
            }
            b.addTags(TAG);
            String note = note(original, limit, "evidence and ancestry removed, text cut");
            int room = limit - r.toBuilder().setViolation(b).build().getSerializedSize()
                    - note.getBytes(StandardCharsets.UTF_8).length - 16;
            return r.toBuilder().setViolation(b.setOutput(cut(v.getOutput(), Math.max(0, room)) + note)).build();
        }
        Event e = r.getEvent();
        Event.Builder b = e.toBuilder();
        if (e.hasProcess()) {
            b.setProcess(identity(e.getProcess()));
        }
        Record shrunk = r.toBuilder().setEvent(b).build();
        if (shrunk.getSerializedSize() <= limit) {
            return shrunk;
        }
        return r.toBuilder().setEvent(b.clearKind()).build();
    }

    private static String note(int original, int limit, String what) {
        return " [agentguard: record of " + original + " bytes over the " + limit + "-byte limit: " + what + "]";
    }

    /** Who the process is, without its long text. */
    private static ProcessInfo identity(ProcessInfo p) {
        ProcessInfo.Builder b = p.toBuilder().setComm(cut(p.getComm(), 64)).setCgroupPath(cut(p.getCgroupPath(), TEXT))
                .setExe(cut(p.getExe(), TEXT)).setCmdline(cut(p.getCmdline(), TEXT));
        if (p.hasWorkload()) {
            b.getWorkloadBuilder().clearLabels();
        }
        return b.build();
    }

    /** At most max UTF-8 bytes of s, cut at a character boundary. */
    static String cut(String s, int max) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length <= max) {
            return s;
        }
        int end = max;
        while (end > 0 && (b[end] & 0xC0) == 0x80) {
            end--;   // not inside a multi-byte character
        }
        return new String(b, 0, end, StandardCharsets.UTF_8);
    }
}
