package io.agentguard.rules;

import io.agentguard.log.Log;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Supplier;

/**
 * Reloads rules when their files change (polled) or on request (SIGHUP): the new set is
 * compiled off the consumer thread and swapped in whole; a set with an error is not
 * applied, the old one keeps running, and the error is logged and kept for status.
 *
 * <p>Nothing a rule file does ends the watch: whatever a reload throws, {@link Error}s
 * included (an OutOfMemoryError from a file that got past the limits, a StackOverflowError,
 * a bug), is caught, counted by reason and shown in status and metrics, and the next change
 * is looked at as usual. A scheduled task that throws is never run again, which is how a
 * rules bomb once stopped the watch without a word.
 */
public final class RuleReloader {
    /** Why a reload failed, for status and the metrics' reason label. */
    public enum FailureReason {
        /** The files say something wrong (syntax, unknown name, type). */
        INVALID,
        /** A limit of rules.limits.* refused a file. */
        LIMIT,
        /** A file could not be read. */
        IO,
        OUT_OF_MEMORY,
        STACK_OVERFLOW,
        /** Anything else thrown: a bug, reported rather than ending the watch. */
        INTERNAL;

        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** The outcome of the reload attempts so far. failedBy: counts indexed by FailureReason.ordinal(). */
    public record Status(long succeeded, long failed, String lastError, int rules, long[] failedBy,
                         FailureReason lastFailure, long watchChecks) {
    }

    private final Classifier classifier;
    private final List<String> paths;
    private final Supplier<RuleSet> loader;
    private final Log log;
    private final AtomicLong succeeded = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLongArray failedBy = new AtomicLongArray(FailureReason.values().length);
    private final AtomicLong watchChecks = new AtomicLong();
    private volatile String lastError = "";
    private volatile FailureReason lastFailure;
    private Map<Path, Long> seen;
    private volatile Runnable onSuccess = () -> { };
    private volatile java.util.function.BiConsumer<String, List<String>> onWeakened = (why, lines) -> { };

    public RuleReloader(Classifier classifier, boolean defaultPack, List<String> paths, Log log) {
        this(classifier, defaultPack, paths, RuleLimits.DEFAULT, log);
    }

    public RuleReloader(Classifier classifier, boolean defaultPack, List<String> paths, RuleLimits limits, Log log) {
        this(classifier, paths, () -> RuleLoader.load(defaultPack, paths, limits), log);
    }

    /** With another loader (tests: one that throws what no real file can any more). */
    RuleReloader(Classifier classifier, List<String> paths, Supplier<RuleSet> loader, Log log) {
        this.classifier = classifier;
        this.paths = paths;
        this.loader = loader;
        this.log = log;
        this.seen = RuleLoader.files(paths);
    }

    /**
     * Reloads if the set of files or a modification time changed. Housekeeping thread only;
     * never throws, so that the scheduled watch goes on after any failure.
     */
    public synchronized void checkForChanges() {
        try {
            watchChecks.incrementAndGet();
            Map<Path, Long> now;
            try {
                now = RuleLoader.files(paths);
            } catch (RuleException e) {
                return;
            }
            if (!now.equals(seen)) {
                seen = now;   // before the reload: a file that fails is not retried until it changes again
                reload("files changed");
            }
        } catch (Throwable t) {   // reload() catches everything; this is for what the listing itself might throw
            record(t, "files changed");
        }
    }

    /** Compiles and swaps; returns true when the new set was applied. Never throws. */
    public synchronized boolean reload(String why) {
        RuleSet next;
        try {
            next = loader.get();
        } catch (Throwable t) {
            record(t, why);
            return false;
        }
        RuleSet before = classifier.rules();
        classifier.swap(next);
        succeeded.incrementAndGet();
        lastError = "";
        try {
            List<String> weakened = RuleWeakening.between(before, next);
            if (!weakened.isEmpty()) {
                onWeakened.accept(why, weakened);
            }
            onSuccess.run();
            log.info("rules reloaded (" + why + "): " + next.size() + " rules from "
                    + next.sources().size() + " sources");
        } catch (Throwable t) {   // the new rules are in force; what ran after is reported
            log.warn("after the rules reload (" + why + "): " + t);
        }
        return true;
    }

    private void record(Throwable t, String why) {
        FailureReason reason = switch (t) {
            case RuleException e -> e.overLimit() ? FailureReason.LIMIT : FailureReason.INVALID;
            case java.io.UncheckedIOException e -> FailureReason.IO;
            case OutOfMemoryError e -> FailureReason.OUT_OF_MEMORY;
            case StackOverflowError e -> FailureReason.STACK_OVERFLOW;
            default -> FailureReason.INTERNAL;
        };
        String message = t instanceof RuleException || t instanceof java.io.UncheckedIOException ? t.getMessage()
                : t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
        // the reason and message first, the count last: a reader that sees the count sees why
        failedBy.incrementAndGet(reason.ordinal());
        lastFailure = reason;
        lastError = message;
        failed.incrementAndGet();
        try {
            log.warn("rules reload failed (" + why + "), keeping the previous " + classifier.rules().size()
                    + " rules (" + reason.label() + "): " + message);
        } catch (Throwable ignored) {   // the failure is counted and kept for status; the log may be what failed
        }
    }

    /** Runs after every successful reload (the enforcer re-arms its blast-radius guard). */
    public void onSuccess(Runnable action) {
        this.onSuccess = action;
    }

    /** Runs after a reload that took rules away (why, one line per weakening); see {@link RuleWeakening}. */
    public void onWeakened(java.util.function.BiConsumer<String, List<String>> action) {
        this.onWeakened = action;
    }

    public Status status() {
        long[] by = new long[FailureReason.values().length];
        for (int i = 0; i < by.length; i++) {
            by[i] = failedBy.get(i);
        }
        return new Status(succeeded.get(), failed.get(), lastError, classifier.rules().size(), by, lastFailure,
                watchChecks.get());
    }
}
