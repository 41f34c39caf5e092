package io.paymentledger.replication.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.replication.time.LedgerTimeReference;
import org.junit.jupiter.api.Test;

/** The ledger time another region's leader published, pinned to this process's monotonic clock by its changes. */
class ObservedLedgerTimeTest {

    static final long S = 1_000_000_000L;

    @Test
    void aValueSeenOnceHasNoKnownAgeAndGivesNoReference() {
        ObservedLedgerTime seen = new ObservedLedgerTime(S);
        seen.read("a", 1_000 * S, 10 * S, 10 * S + 1_000);
        seen.read("a", 1_000 * S, 12 * S, 12 * S + 1_000);
        assertThat(seen.reference()).as("the leader may have stopped long before this process started").isNull();
    }

    @Test
    void aChangedValueWasWrittenBetweenTheTwoReadsAndAgesOnThisClockOnceTheLeaderStops() {
        ObservedLedgerTime seen = new ObservedLedgerTime(S);
        seen.read("a", 0, 10 * S, 10 * S + 1_000);            // a follows: no ledger time
        seen.read("a", 5_000 * S, 12 * S, 12 * S + 2_000);    // a leads now
        seen.read("a", 5_002 * S, 14 * S, 14 * S + 3_000);
        LedgerTimeReference r = seen.reference();
        assertThat(r).isEqualTo(new LedgerTimeReference(5_002 * S, 12 * S, 14 * S + 3_000, S));
        // a dies: the same value from now on; 30 s later its ledger time would be at least 30 s past it, at most 32 s
        seen.read("a", 5_002 * S, 16 * S, 16 * S + 1_000);
        seen.read("a", 5_002 * S, 44 * S, 44 * S + 1_000);
        assertThat(seen.reference()).isSameAs(r);
        assertThat(r.lowNs(44 * S + 3_000)).isEqualTo(5_032 * S);
        assertThat(r.highNs(44 * S + 3_000)).isEqualTo(5_034 * S + 3_000);
    }

    @Test
    void onceThisNodeLeadsTheOtherLeadersOldValueIsForgottenUntilItPublishesAgain() {
        ObservedLedgerTime seen = new ObservedLedgerTime(S);
        seen.read("a", 5_000 * S, 10 * S, 10 * S);
        seen.read("a", 5_002 * S, 12 * S, 12 * S);
        assertThat(seen.reference()).isNotNull();
        seen.forget(); // this node took over
        seen.read("a", 5_002 * S, 14 * S, 14 * S); // a's last value, still in the CP group
        seen.read("a", 0, 100 * S, 100 * S);       // a follows (it rejoined)
        assertThat(seen.reference()).as("a later term of this node is not checked against a's value from before").isNull();
        seen.read("a", 9_000 * S, 102 * S, 102 * S); // a leads again and publishes
        assertThat(seen.reference()).isEqualTo(new LedgerTimeReference(9_000 * S, 100 * S, 102 * S, S));
    }
}
