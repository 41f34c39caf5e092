package io.paymentledger.ledger.write;

import java.util.function.LongSupplier;
import java.util.logging.Logger;

/**
 * Ledger time: what transfer timestamps and hold expiry are measured in (Unix nanoseconds). It follows the host's
 * wall clock, but only as fast as the monotonic clock lets it: between two readings it advances by the monotonic
 * time that passed, corrected toward the wall clock by at most {@link #SLEW_MAX_PPM} of that. The wall clock is
 * taken as it is only when the writer starts a term ({@link #anchor}).
 *
 * <p>Why: a step of the wall clock (NTP stepping a drifted clock, a restored VM, `date -s`, libfaketime in the chaos
 * drills) is not time passing. Read directly, a +30 s step expired every hold 30 s early — a merchant's 60 s
 * authorisation could not be captured 35 s after it was made — and a -30 s step froze ledger time (timestamps crept
 * by 1 ns per transfer) and let holds outlive their timeout by 30 s. Measured this way a step moves nothing at once;
 * ledger time drifts toward the stepped wall clock at 500 ppm (30 s take about 17 h), the rate ntpd slews at. The
 * writer still keeps timestamps strictly increasing on top of this ({@link LedgerRules}), also across terms.
 *
 * <p>Not thread-safe: the writer's applier thread is its only user.
 */
final class LedgerClock {

    private static final Logger LOG = Logger.getLogger(LedgerClock.class.getName());
    /** How much faster or slower than the monotonic clock ledger time may run while it follows the wall clock. */
    static final long SLEW_MAX_PPM = 500;
    /** A wall clock this far from ledger time is reported in the log (again whenever the gap changes this much). */
    static final long STEP_REPORT_NS = 1_000_000_000L;

    private final LongSupplier wallNanos;
    private final LongSupplier monotonicNanos;
    private boolean anchored;
    private long ledgerNs;
    private long monotonicAtNs;
    private long reportedGapNs;

    /**
     * @param wallNanos      the host's wall clock, Unix nanoseconds
     * @param monotonicNanos a clock that never steps ({@link System#nanoTime()})
     */
    LedgerClock(LongSupplier wallNanos, LongSupplier monotonicNanos) {
        this.wallNanos = wallNanos;
        this.monotonicNanos = monotonicNanos;
    }

    /** A new term: ledger time is the wall clock again (the timestamps' own order is kept by the caller). */
    void anchor() {
        ledgerNs = wallNanos.getAsLong();
        monotonicAtNs = monotonicNanos.getAsLong();
        anchored = true;
        reportedGapNs = 0;
    }

    /** Ledger time now; never less than at the previous call. */
    long nowNs() {
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
            LOG.warning(() -> Math.abs(gap) < STEP_REPORT_NS ? "writer: the wall clock agrees with ledger time again"
                    : "writer: the wall clock is " + (gap / 1_000_000) + " ms from ledger time (a clock step); transfer"
                    + " timestamps and hold expiry keep the monotonic clock's pace and follow the wall clock at "
                    + SLEW_MAX_PPM + " ppm");
        }
        return ledgerNs;
    }
}
