package io.paymentledger.replication.time;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * Ledger time under steps of the host's wall clock, on injected clocks: a step moves neither transfer timestamps nor
 * hold expiry at once (the chaos drill `./ledger chaos clock node-a +30` proves the same on a real deployment).
 */
class SteadyClockTest {

    static final long S = 1_000_000_000L;
    static final long START_NS = 1_800_000_000L * S;

    long wall = START_NS;
    long mono = 77 * S;
    final SteadyClock clock = new SteadyClock(() -> wall, () -> mono);

    void pass(long ns) {
        wall += ns;
        mono += ns;
    }

    @Test
    void aForwardStepDoesNotExpireAHoldEarly() {
        long created = clock.nowNs();
        long expiresAt = created + 60 * S; // a 60 s authorisation
        pass(5 * S);
        wall += 30 * S; // the host's clock jumps forward: no time passed
        pass(30 * S);
        // 35 s after the hold was made: it must still be held (reading the wall clock said 65 s)
        assertThat(clock.nowNs()).isLessThan(expiresAt);
        assertThat(clock.nowNs() - created).isBetween(35 * S, 35 * S + 35 * S * SteadyClock.SLEW_MAX_PPM / 1_000_000);
    }

    @Test
    void aBackwardStepKeepsLedgerTimeMovingAtThePaceOfRealTime() {
        long before = clock.nowNs();
        wall -= 30 * S;
        pass(2 * S);
        long after = clock.nowNs();
        // Reading the wall clock directly froze time for 30 s (timestamps crept 1 ns per transfer, holds outlived
        // their timeout); ledger time went on by the 2 s that passed, less at most the slew.
        assertThat(after - before).isBetween(2 * S - 2 * S * SteadyClock.SLEW_MAX_PPM / 1_000_000, 2 * S);
    }

    @Test
    void ledgerTimeFollowsASteppedWallClockOnlyAtTheSlewRate() {
        long before = clock.nowNs();
        wall += 30 * S;
        for (int i = 0; i < 1_000; i++) {
            pass(S);
            clock.nowNs();
        }
        long slewed = clock.nowNs() - before - 1_000 * S;
        assertThat(slewed).isEqualTo(1_000 * S * SteadyClock.SLEW_MAX_PPM / 1_000_000);
        // and it never overshoots: once caught up it sits on the wall clock
        for (int i = 0; i < 70; i++) {
            pass(1_000 * S);
        }
        assertThat(clock.nowNs()).isEqualTo(wall);
    }

    @Test
    void ledgerTimeNeverGoesBackEvenWhenTheWallClockDoes() {
        long last = clock.nowNs();
        for (int i = 0; i < 100; i++) {
            wall -= (i % 3) * S;
            pass(1_000_000);
            long now = clock.nowNs();
            assertThat(now).isGreaterThanOrEqualTo(last);
            last = now;
        }
    }

    @Test
    void aNewTermTakesTheWallClockAsItIs() {
        clock.nowNs();
        wall += 30 * S;
        pass(S);
        clock.anchor();
        assertThat(clock.nowNs()).isEqualTo(wall);
    }
}
