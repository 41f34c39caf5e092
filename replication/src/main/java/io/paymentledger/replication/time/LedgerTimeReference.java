package io.paymentledger.replication.time;

/**
 * What the ledger time was on another host, pinned to this host's monotonic clock ({@link System#nanoTime()} scale):
 * the leader publishes its writer's ledger time with its region report in the CP group; a follower notes on its own
 * monotonic clock between which two of its reads the value changed. The value was sampled before the read that first
 * returned it ended ({@code seenByMonoNs}), so {@link #lowNs} is a lower bound of the ledger time the last leader would
 * show now, whatever either host's wall clock says; it was written, usually, after the previous read began
 * ({@code seenAfterMonoNs}), which makes {@link #highNs} about the upper bound (a write delayed in the CP group can
 * make the true value a little later). Issue #20, item 10: a new leader's wall clock is taken for ledger time only
 * within {@code toleranceNs} of this window.
 *
 * @param ledgerNs        the ledger time the leader published (Unix nanoseconds)
 * @param seenAfterMonoNs this host's monotonic time when the read before the one that first returned it began
 * @param seenByMonoNs    this host's monotonic time when the read that first returned it ended
 * @param toleranceNs     how far outside the window a new leader's wall clock may be and still be taken as it is
 */
public record LedgerTimeReference(long ledgerNs, long seenAfterMonoNs, long seenByMonoNs, long toleranceNs) {

    public LedgerTimeReference {
        if (seenByMonoNs - seenAfterMonoNs < 0 || toleranceNs < 0) {
            throw new IllegalArgumentException("not a window: seen after " + seenAfterMonoNs + ", by " + seenByMonoNs
                    + ", tolerance " + toleranceNs);
        }
    }

    /** The earliest the last leader's ledger time can be at monotonic instant {@code monoNs}. */
    public long lowNs(long monoNs) {
        return ledgerNs + (monoNs - seenByMonoNs);
    }

    /** About the latest it can be then. */
    public long highNs(long monoNs) {
        return ledgerNs + (monoNs - seenAfterMonoNs);
    }

    /** Whether a wall clock reading {@code wallNs} at {@code monoNs} agrees with this reference. */
    public boolean agrees(long wallNs, long monoNs) {
        return wallNs - (lowNs(monoNs) - toleranceNs) >= 0 && (highNs(monoNs) + toleranceNs) - wallNs >= 0;
    }
}
