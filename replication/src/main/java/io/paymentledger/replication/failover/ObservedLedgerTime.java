package io.paymentledger.replication.failover;

import io.paymentledger.replication.time.LedgerTimeReference;
import java.util.HashMap;
import java.util.Map;

/**
 * The ledger time other regions' leaders published with their reports, pinned to this process's monotonic clock
 * (issue #20, item 10; the same idea as {@link ObservedStamps}): a value counts only once it was seen to change
 * between two reads, so that when it was written is known on this clock to within one read interval. A value seen
 * once only (this process started after that leader stopped reporting) has no known age and gives no reference.
 */
final class ObservedLedgerTime {

    private record LastRead(long ledgerNs, long startedMonoNs) {}

    private final long toleranceNs;
    private final Map<String, LastRead> lastReads = new HashMap<>();
    private LedgerTimeReference latest;

    /** @param toleranceNs how far from the published time a new leader's wall clock may be (the references' tolerance) */
    ObservedLedgerTime(long toleranceNs) {
        this.toleranceNs = toleranceNs;
    }

    /**
     * A read of {@code region}'s report, begun at {@code startedMonoNs} and ended at {@code endedMonoNs} on this
     * process's monotonic clock, returned {@code ledgerNs} (0: its writer does not lead).
     */
    synchronized void read(String region, long ledgerNs, long startedMonoNs, long endedMonoNs) {
        LastRead previous = lastReads.put(region, new LastRead(ledgerNs, startedMonoNs));
        if (ledgerNs > 0 && previous != null && previous.ledgerNs() != ledgerNs) {
            latest = new LedgerTimeReference(ledgerNs, previous.startedMonoNs(), endedMonoNs, toleranceNs);
        }
    }

    /** The most recently changed ledger time of any other region's leader, or null when none was seen to change. */
    synchronized LedgerTimeReference reference() {
        return latest;
    }

    /**
     * This node leads now: from here on ledger time is its own writer's, and a later term of its own must not be
     * checked against the other leader's value from before, aged over this node's whole term on two monotonic clocks
     * that may drift apart by seconds over days. The next reference is the next value the other region publishes.
     */
    synchronized void forget() {
        latest = null;
    }
}
