package io.paymentledger.replication.time;

import java.util.function.LongSupplier;
import java.util.logging.Logger;

/**
 * A wall clock that does not step: what transfer timestamps and hold expiry are measured in (the writer's ledger
 * time), and what Hazelcast reads ({@link HazelcastClock}: heartbeats, CP sessions). Unix nanoseconds. It follows the host's
 * wall clock, but only as fast as the monotonic clock lets it: between two readings it advances by the monotonic
 * time that passed, corrected toward the wall clock by at most {@link #SLEW_MAX_PPM} of that. The wall clock is
 * taken as it is only when the writer starts a term ({@link #anchor}), and then only if it agrees with the ledger time
 * the last leader published ({@link LedgerTimeReference}).
 *
 * <p>Why: a step of the wall clock (NTP stepping a drifted clock, a restored VM, `date -s`, libfaketime in the chaos
 * drills) is not time passing. Read directly, a +30 s step expired every hold 30 s early — a merchant's 60 s
 * authorisation could not be captured 35 s after it was made — and a -30 s step froze ledger time (timestamps crept
 * by 1 ns per transfer) and let holds outlive their timeout by 30 s; Hazelcast, which stamps its membership heartbeats
 * with the wall clock, dropped every heartbeat of a member 30 s off and that member never rejoined the CP group (the
 * cluster failed over and stayed one CP member short). Measured this way a step moves nothing at once;
 * ledger time drifts toward the stepped wall clock at 500 ppm (30 s take about 17 h), the rate ntpd slews at. The
 * writer still keeps timestamps strictly increasing on top of this (LedgerRules), also across terms.
 */
public final class SteadyClock {

    private static final Logger LOG = Logger.getLogger(SteadyClock.class.getName());
    /** How much faster or slower than the monotonic clock ledger time may run while it follows the wall clock. */
    public static final long SLEW_MAX_PPM = 500;
    /** A wall clock this far from ledger time is reported in the log (again whenever the gap changes this much). */
    static final long STEP_REPORT_NS = 1_000_000_000L;

    private final LongSupplier wallNanos;
    private final LongSupplier monotonicNanos;
    private boolean anchored;
    private long ledgerNs;
    private long monotonicAtNs;
    private long reportedGapNs;
    private long anchorDisagreementNs;

    /**
     * @param wallNanos      the host's wall clock, Unix nanoseconds
     * @param monotonicNanos a clock that never steps ({@link System#nanoTime()})
     */
    public SteadyClock(LongSupplier wallNanos, LongSupplier monotonicNanos) {
        this.wallNanos = wallNanos;
        this.monotonicNanos = monotonicNanos;
    }

    /** The host's clocks. */
    public static SteadyClock system() {
        return new SteadyClock(SteadyClock::wallClockNanos, System::nanoTime);
    }

    /** The host's wall clock in Unix nanoseconds (as precise as {@link java.time.Instant#now()}). */
    public static long wallClockNanos() {
        java.time.Instant now = java.time.Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }

    /** A new term: steady time is the wall clock again (the timestamps' own order is kept by the caller). */
    public synchronized void anchor() {
        anchor(Long.MIN_VALUE);
    }

    /**
     * A new term: steady time is the wall clock again, but never before {@code floorNs} (the last timestamp the ledger
     * committed, under any leader): a wall clock behind it would freeze ledger time until it caught up. From there it
     * follows the wall clock at {@link #SLEW_MAX_PPM} as after a step. With no reference to check it against, a wall
     * clock ahead of the ledger's is taken as it is: this host cannot tell a skew from the time the failover took.
     */
    public synchronized void anchor(long floorNs) {
        anchor(floorNs, null);
    }

    /**
     * A new term, checked against the ledger time the last leader published ({@code reference}, null when this host
     * has none): the wall clock is taken only when it {@linkplain LedgerTimeReference#agrees agrees} with it; otherwise
     * ledger time goes on from the reference's lower bound, and the disagreement is logged and kept for
     * {@link #anchorDisagreementNs}. Never before {@code floorNs}. Issue #20, item 10: a new leader whose clock ran
     * minutes ahead stamped its transfers minutes in the future and expired every hold that much early (and after a
     * failover back, ledger time stood still until the other host's clock caught up).
     */
    public synchronized void anchor(long floorNs, LedgerTimeReference reference) {
        long wall = wallNanos.getAsLong();
        long mono = monotonicNanos.getAsLong();
        long base = wall;
        anchorDisagreementNs = 0;
        if (reference != null && reference.agrees(wall, mono)) {
            long fromLow = wall - reference.lowNs(mono);
            LOG.info(() -> "steady clock: the wall clock agrees with the ledger time the last leader published (" + fromLow / 1_000_000
                    + " ms past its lower bound, window " + (reference.highNs(mono) - reference.lowNs(mono)) / 1_000_000
                    + " ms, tolerance " + reference.toleranceNs() / 1_000_000 + " ms)");
        } else if (reference != null) {
            base = reference.lowNs(mono);
            long off = wall - base;
            anchorDisagreementNs = off;
            LOG.warning(() -> "steady clock: this host's wall clock is " + off / 1_000_000 + " ms from the ledger time the last"
                    + " leader published in the CP group (tolerance " + reference.toleranceNs() / 1_000_000 + " ms): ledger"
                    + " time goes on from the published one, at the monotonic clock's pace, and follows this wall clock at "
                    + SLEW_MAX_PPM + " ppm; check this host's time synchronisation");
        }
        ledgerNs = Math.max(base, floorNs);
        monotonicAtNs = mono;
        anchored = true;
        // A disagreement logged above is not reported again by the next reading as if it were a clock step.
        reportedGapNs = anchorDisagreementNs != 0 ? wall - ledgerNs : 0;
    }

    /**
     * How far this host's wall clock was from the published ledger time when the term began (positive: ahead), 0 when
     * it agreed or there was no reference.
     */
    public synchronized long anchorDisagreementNs() {
        return anchorDisagreementNs;
    }

    /**
     * This host's wall clock minus ledger time now (positive: the wall clock is ahead): what a clock step or a term
     * begun on a wall clock that disagreed with the published ledger time left, shrinking at {@link #SLEW_MAX_PPM}.
     */
    public synchronized long wallOffsetNs() {
        long ledger = nowNs();
        return wallNanos.getAsLong() - ledger;
    }

    /** Whether a term anchored this clock (before that, {@link #nowNs} anchors it to the wall clock). */
    public synchronized boolean isAnchored() {
        return anchored;
    }

    /** Steady time now; never less than at the previous call. */
    public synchronized long nowNs() {
        if (!anchored) {
            anchor();
            return ledgerNs;
        }
        long mono = monotonicNanos.getAsLong();
        long elapsed = mono - monotonicAtNs;
        if (elapsed <= 0) {
            return ledgerNs;
        }
        monotonicAtNs = mono;
        long advanced = ledgerNs + elapsed;
        long gap = wallNanos.getAsLong() - advanced;
        long slewMax = elapsed / 1_000_000 * SLEW_MAX_PPM + elapsed % 1_000_000 * SLEW_MAX_PPM / 1_000_000;
        ledgerNs = advanced + Math.clamp(gap, -slewMax, slewMax);
        if (Math.abs(gap - reportedGapNs) >= STEP_REPORT_NS) {
            reportedGapNs = gap;
            LOG.warning(() -> Math.abs(gap) < STEP_REPORT_NS ? "steady clock: the wall clock agrees with it again"
                    : "steady clock: the wall clock is " + (gap / 1_000_000) + " ms from it (a clock step); transfer timestamps,"
                    + " hold expiry and Hazelcast keep the monotonic clock's pace and follow the wall clock at "
                    + SLEW_MAX_PPM + " ppm");
        }
        return ledgerNs;
    }
}
