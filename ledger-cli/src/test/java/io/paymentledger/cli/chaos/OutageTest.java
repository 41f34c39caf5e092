package io.paymentledger.cli.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The outage a chaos run reports for a fault: the longest window without an acknowledged write that overlaps it. */
class OutageTest {

    private static long ms(long t) {
        return t * 1_000_000L;
    }

    private static long[] acks(long... times) {
        long[] a = new long[times.length];
        for (int i = 0; i < times.length; i++) {
            a[i] = ms(times[i]);
        }
        return a;
    }

    @Test
    void theWindowRunsFromTheLastAckBeforeTheFaultToTheFirstAfterIt() {
        // fault 1000..4000; acks stop at 900 and resume at 5000
        assertThat(ChaosRun.outageMs(acks(100, 500, 900, 5_000, 5_100), ms(1_000), ms(4_000), ms(10_000))).isEqualTo(4_100);
    }

    @Test
    void theLongestOfSeveralWindowsDuringTheFaultCounts() {
        assertThat(ChaosRun.outageMs(acks(900, 1_500, 3_800, 4_100), ms(1_000), ms(4_000), ms(10_000))).isEqualTo(2_300);
    }

    @Test
    void writesThatNeverResumedCountUntilTheRunEnded() {
        assertThat(ChaosRun.outageMs(acks(900), ms(1_000), ms(4_000), ms(10_000))).isEqualTo(9_100);
    }

    @Test
    void windowsOutsideTheFaultDoNotCount() {
        // a 5 s lull before the fault and after it; during the fault acks every 100 ms
        assertThat(ChaosRun.outageMs(acks(0, 5_000, 5_100, 5_200, 5_300, 10_300), ms(5_050), ms(5_250), ms(20_000)))
                .isEqualTo(100);
    }
}
