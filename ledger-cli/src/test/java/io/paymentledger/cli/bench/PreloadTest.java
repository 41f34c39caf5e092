package io.paymentledger.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** `./ledger bench --preload N` without a deployment: the option, the plan of what to write, the lines it prints. */
class PreloadTest {

    @Test
    void parsesWholeCountsWithSeparatorsAndSuffixes() {
        assertThat(Preload.parseCount("0")).isZero();
        assertThat(Preload.parseCount("1000000")).isEqualTo(1_000_000);
        assertThat(Preload.parseCount(" 1_000_000 ")).isEqualTo(1_000_000);
        assertThat(Preload.parseCount("1,000,000")).isEqualTo(1_000_000);
        assertThat(Preload.parseCount("250k")).isEqualTo(250_000);
        assertThat(Preload.parseCount("1M")).isEqualTo(1_000_000);
        assertThat(Preload.parseCount("2.5M")).isEqualTo(2_500_000);
        assertThat(Preload.parseCount("5m")).isEqualTo(5_000_000);
    }

    @Test
    void refusesWhatIsNotAWholeCountAtLeastZero() {
        for (String bad : new String[] {"-1", "", " ", "abc", "1.5", "1.0000005M", "M", "1e6", "0x10", "1MB", "--"}) {
            assertThatThrownBy(() -> Preload.parseCount(bad)).as(bad).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("--preload takes a whole number of transfers >= 0");
        }
        assertThatThrownBy(() -> Preload.parseCount("2000M")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at most 1000000000");
    }

    @Test
    void plansWhatIsMissingInFullRequestsAndOneRest() {
        Preload.Plan p = new Preload.Plan(1_000_000, 123_456);
        assertThat(p.toWrite()).isEqualTo(876_544);
        assertThat(p.requests()).isEqualTo(110); // 109 × 8,000 + 4,544
        long sum = 0;
        for (long k = 0; k < p.requests(); k++) {
            int n = p.requestSize(k);
            assertThat(n).isBetween(1, Preload.BATCH);
            sum += n;
        }
        assertThat(sum).isEqualTo(p.toWrite());
        assertThat(p.requestSize(0)).isEqualTo(8_000);
        assertThat(p.requestSize(109)).isEqualTo(4_544);
        assertThatThrownBy(() -> p.requestSize(110)).isInstanceOf(IndexOutOfBoundsException.class);

        Preload.Plan exact = new Preload.Plan(16_000, 0);
        assertThat(exact.requests()).isEqualTo(2);
        assertThat(exact.requestSize(1)).isEqualTo(8_000);
        assertThat(new Preload.Plan(1, 0).requestSize(0)).isEqualTo(1);
        assertThat(p.describe()).startsWith("preload: the ledger holds 123,456 transfers; writing 876,544 more to reach 1,000,000 (110"
                + " CreateTransfers of up to 8,000, 4 in flight, zipf over 10,000 fresh accounts");
    }

    @Test
    void aLedgerThatHoldsEnoughAlreadyNeedsNothing() {
        for (Preload.Plan p : new Preload.Plan[] {new Preload.Plan(1_000, 1_000), new Preload.Plan(1_000, 5_000), new Preload.Plan(0, 0)}) {
            assertThat(p.nothingToDo()).isTrue();
            assertThat(p.toWrite()).isZero();
            assertThat(p.requests()).isZero();
        }
        assertThat(new Preload.Plan(1_000, 5_000).describe())
                .isEqualTo("preload: the ledger already holds 5,000 transfers (>= 1,000): nothing to write");
        assertThatThrownBy(() -> new Preload.Plan(-1, 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theSummaryLineSaysWhatTheLedgerHoldsAndHowFast() {
        assertThat(Preload.summary(1_000_000, 876_544, 43.8))
                .isEqualTo("preload: 1,000,000 transfers in the ledger (876,544 written in 43.8 s, 20,012/s)");
        assertThat(Preload.summary(5_000, 0, 0)).isEqualTo("preload: 5,000 transfers in the ledger (0 written in 0.0 s, 0/s)");
    }
}
