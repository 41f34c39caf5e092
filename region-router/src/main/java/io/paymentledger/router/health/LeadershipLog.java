package io.paymentledger.router.health;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * The router's own record of leadership changes, as merchants felt them: when writes had no usable leader and for
 * how long, and who led before and after. The status page shows it ("recent failovers and their durations").
 * Bounded: the newest {@link #CHANGES_KEPT}. Written on the tracker's context, read from any thread.
 */
public final class LeadershipLog implements LeaderTracker.Listener {

    /** Leadership changes kept (the page shows them newest first). */
    public static final int CHANGES_KEPT = 20;

    /**
     * @param atMs            wall-clock time the router started routing to {@code to} (or lost {@code from})
     * @param from            the previous leader ("" when none was known: the router's start)
     * @param to              the new leader ("" while there is none)
     * @param epoch           the highest epoch at the change
     * @param withoutLeaderMs how long writes had no usable leader before {@code to} got them (-1: unknown, at start)
     * @param reason          the tracker's words
     */
    public record Change(long atMs, String from, String to, long epoch, long withoutLeaderMs, String reason) {}

    private final LongSupplier wallClockMs;
    private final LongSupplier monotonicMs;
    private final Deque<Change> changes = new ArrayDeque<>();
    private long lostAtMs = -1;
    private String lostRegion = "";

    public LeadershipLog() {
        this(System::currentTimeMillis, () -> System.nanoTime() / 1_000_000L);
    }

    /** With injected clocks (tests). */
    public LeadershipLog(LongSupplier wallClockMs, LongSupplier monotonicMs) {
        this.wallClockMs = wallClockMs;
        this.monotonicMs = monotonicMs;
    }

    @Override
    public void onViewChanged(LeaderTracker.View previous, LeaderTracker.View current) {
    }

    @Override
    public void onLeaderChanged(Upstream previous, Upstream current, long epoch, String reason) {
        changed(previous == null ? "" : previous.region(), current == null ? "" : current.region(), epoch, reason);
    }

    /** A change from {@code from} to {@code to} ("" for none). */
    synchronized void changed(String from, String to, long epoch, String reason) {
        long now = monotonicMs.getAsLong();
        if (to.isEmpty()) {
            if (lostAtMs < 0) {
                lostAtMs = now;
                lostRegion = from;
            }
            add(new Change(wallClockMs.getAsLong(), from, "", epoch, 0, reason));
            return;
        }
        boolean hadOne = lostAtMs >= 0 || !from.isEmpty();
        add(new Change(wallClockMs.getAsLong(), from.isEmpty() ? lostRegion : from, to, epoch,
                lostAtMs >= 0 ? now - lostAtMs : hadOne ? 0 : -1, reason));
        lostAtMs = -1;
        lostRegion = "";
    }

    private void add(Change c) {
        changes.addFirst(c);
        while (changes.size() > CHANGES_KEPT) {
            changes.removeLast();
        }
    }

    /** Newest first. */
    public synchronized List<Change> changes() {
        return new ArrayList<>(changes);
    }
}
