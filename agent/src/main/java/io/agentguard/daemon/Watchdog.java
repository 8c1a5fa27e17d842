package io.agentguard.daemon;

import io.agentguard.log.Log;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The systemd watchdog (WatchdogSec= in the unit, sd_watchdog_enabled(3)): WATCHDOG=1 every half
 * interval, but only while the daemon is doing its work: the ring consumer and the housekeeping
 * thread must each have shown progress within the interval. A daemon stopped (SIGSTOP, a
 * debugger), frozen (cgroup.freeze) or stuck in one of them stops pinging, and systemd kills
 * and restarts it; the pinned kernel enforcement is not affected meanwhile.
 *
 * <p>Its own platform thread: a stuck housekeeping executor must not be what keeps it quiet or
 * alive. Reads the heartbeats only; the threads it watches write them.
 */
final class Watchdog {
    /** What systemd asked for: WATCHDOG_USEC, for this process (WATCHDOG_PID, where set). */
    record Settings(long intervalUs) {
        /** null when systemd does not watch this process. */
        static Settings fromEnvironment(java.util.Map<String, String> env, long pid) {
            String usec = env.get("WATCHDOG_USEC");
            if (usec == null || usec.isBlank()) {
                return null;
            }
            String forPid = env.get("WATCHDOG_PID");
            if (forPid != null && !forPid.isBlank() && !forPid.trim().equals(Long.toString(pid))) {
                return null;   // meant for another process (a wrapper that exec'd us would keep its pid)
            }
            long us;
            try {
                us = Long.parseLong(usec.trim());
            } catch (NumberFormatException e) {
                return null;
            }
            return us > 0 ? new Settings(us) : null;
        }
    }

    /** The ping, the stall judgement, and the heartbeats, apart from the thread (tests). */
    static final class Judge {
        private final long intervalNs;
        private final LongSupplier consumerNs;
        private final LongSupplier housekeepingNs;

        Judge(long intervalNs, LongSupplier consumerNs, LongSupplier housekeepingNs) {
            this.intervalNs = intervalNs;
            this.consumerNs = consumerNs;
            this.housekeepingNs = housekeepingNs;
        }

        /** null: all is well, ping; else which thread has been silent, and for how long. */
        String stalled(long nowNs) {
            long consumerSilentNs = nowNs - consumerNs.getAsLong();
            if (consumerSilentNs > intervalNs) {
                return "ring consumer silent for " + consumerSilentNs / 1_000_000 + " ms";
            }
            long housekeepingSilentNs = nowNs - housekeepingNs.getAsLong();
            if (housekeepingSilentNs > intervalNs) {
                return "housekeeping silent for " + housekeepingSilentNs / 1_000_000 + " ms";
            }
            return null;
        }
    }

    static final long MIN_SILENCE_NS = 2_000_000_000L;

    private final Settings settings;
    private final Judge judge;
    private final Log log;
    private final Thread thread;
    private final AtomicLong pings = new AtomicLong();
    private final AtomicLong withheld = new AtomicLong();
    private volatile String lastStall = "";
    private volatile boolean running = true;

    Watchdog(Settings settings, LongSupplier consumerHeartbeatNs, LongSupplier housekeepingHeartbeatNs, Log log) {
        this.settings = settings;
        // silent for the whole interval: systemd would have had one ping at most. Not below 2 s:
        // an idle consumer wakes every half second, housekeeping once a second.
        this.judge = new Judge(Math.max(settings.intervalUs() * 1000, MIN_SILENCE_NS), consumerHeartbeatNs,
                housekeepingHeartbeatNs);
        this.log = log;
        this.thread = Thread.ofPlatform().daemon().name("agentguard-watchdog").unstarted(this::run);
    }

    void start() {
        thread.start();
    }

    private void run() {
        long periodMs = Math.max(1, settings.intervalUs() / 2000);
        boolean wasStalled = false;
        while (running) {
            try {
                String stall = judge.stalled(System.nanoTime());
                if (stall == null) {
                    if (SystemdNotify.send("WATCHDOG=1")) {
                        pings.incrementAndGet();
                    }
                    if (wasStalled) {
                        log.info("watchdog: the daemon makes progress again; pinging systemd again");
                    }
                } else {
                    withheld.incrementAndGet();
                    lastStall = stall;
                    if (!wasStalled) {
                        log.error("watchdog: " + stall + "; not pinging systemd, which restarts the daemon after "
                                + settings.intervalUs() / 1000 + " ms without a ping");
                    }
                }
                wasStalled = stall != null;
                Thread.sleep(periodMs);
            } catch (InterruptedException e) {
                return;
            } catch (Throwable t) {   // the pinger must outlive anything a ping can throw
                log.warn("watchdog: " + t);
            }
        }
    }

    void stop() {
        running = false;
        thread.interrupt();
    }

    long intervalMs() {
        return settings.intervalUs() / 1000;
    }

    long pings() {
        return pings.get();
    }

    long withheld() {
        return withheld.get();
    }

    String lastStall() {
        return lastStall;
    }
}
