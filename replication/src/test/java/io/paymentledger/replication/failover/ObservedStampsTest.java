package io.paymentledger.replication.failover;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** A report's age on this process's clock: from when its stamp was seen to change, whatever the stamp says. */
class ObservedStampsTest {

    @Test
    void aReportSeenForTheFirstTimeHasNoKnownAgeUntilItsStampChanges() {
        ObservedStamps seen = new ObservedStamps();
        assertThat(seen.observedAt("keeper", 1_000, 50_000)).as("first sight: its age is unknown").isZero();
        assertThat(seen.observedAt("keeper", 1_000, 50_400)).isZero();
        assertThat(seen.observedAt("keeper", 1_500, 50_500)).as("changed: made by now, on my clock").isEqualTo(50_500);
    }

    @Test
    void aReporterThatStopsAgesFromTheLastChangeSeenWhateverItsClockSays() {
        ObservedStamps seen = new ObservedStamps();
        seen.observedAt("keeper", 10, 1_000);
        // A reporter whose clock is far behind (stamps 10, 510, ...) or ahead: only the changes count.
        assertThat(seen.observedAt("keeper", 510, 1_500)).isEqualTo(1_500);
        assertThat(seen.observedAt("keeper", 1_010, 2_000)).isEqualTo(2_000);
        // It stops: the same stamp from now on; its report ages on my clock.
        assertThat(seen.observedAt("keeper", 1_010, 5_500)).isEqualTo(2_000);
        assertThat(seen.observedAt("keeper", 1_010, 9_000)).isEqualTo(2_000);
    }

    @Test
    void noReportIsNeverFreshAndReportsAreKeptApart() {
        ObservedStamps seen = new ObservedStamps();
        assertThat(seen.observedAt("keeper", 0, 1_000)).isZero();
        seen.observedAt("region a", 100, 1_000);
        seen.observedAt("region b", 100, 1_000);
        assertThat(seen.observedAt("region a", 200, 2_000)).isEqualTo(2_000);
        assertThat(seen.observedAt("region b", 100, 2_000)).isZero();
    }
}
