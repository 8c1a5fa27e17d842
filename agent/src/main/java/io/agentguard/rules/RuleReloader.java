package io.agentguard.rules;

import io.agentguard.log.Log;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Reloads rules when their files change (polled) or on request (SIGHUP): the new set is
 * compiled off the consumer thread and swapped in whole; a set with an error is not
 * applied, the old one keeps running, and the error is logged and kept for status.
 */
public final class RuleReloader {
    /** The outcome of the last reload attempt. */
    public record Status(long succeeded, long failed, String lastError, int rules) {
    }

    private final Classifier classifier;
    private final boolean defaultPack;
    private final List<String> paths;
    private final Log log;
    private final AtomicLong succeeded = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private volatile String lastError = "";
    private Map<Path, Long> seen;
    private volatile Runnable onSuccess = () -> { };
    private volatile java.util.function.BiConsumer<String, List<String>> onWeakened = (why, lines) -> { };

    public RuleReloader(Classifier classifier, boolean defaultPack, List<String> paths, Log log) {
        this.classifier = classifier;
        this.defaultPack = defaultPack;
        this.paths = paths;
        this.log = log;
        this.seen = RuleLoader.files(paths);
    }

    /** Reloads if the set of files or a modification time changed. Housekeeping thread only. */
    public synchronized void checkForChanges() {
        Map<Path, Long> now;
        try {
            now = RuleLoader.files(paths);
        } catch (RuleException e) {
            return;
        }
        if (!now.equals(seen)) {
            seen = now;
            reload("files changed");
        }
    }

    /** Compiles and swaps; returns true when the new set was applied. */
    public synchronized boolean reload(String why) {
        try {
            RuleSet next = RuleLoader.load(defaultPack, paths);
            List<String> weakened = RuleWeakening.between(classifier.rules(), next);
            classifier.swap(next);
            if (!weakened.isEmpty()) {
                onWeakened.accept(why, weakened);
            }
            succeeded.incrementAndGet();
            onSuccess.run();
            lastError = "";
            log.info("rules reloaded (" + why + "): " + next.size() + " rules from "
                    + next.sources().size() + " sources");
            return true;
        } catch (RuleException | java.io.UncheckedIOException e) {
            failed.incrementAndGet();
            lastError = e.getMessage();
            log.warn("rules reload failed (" + why + "), keeping the previous "
                    + classifier.rules().size() + " rules: " + e.getMessage());
            return false;
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
        return new Status(succeeded.get(), failed.get(), lastError, classifier.rules().size());
    }
}
