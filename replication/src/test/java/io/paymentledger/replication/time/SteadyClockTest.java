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
    /** The last leader published ledger time {@code ledgerNs}; this host read it between now - 2 s and now. */
    LedgerTimeReference published(long ledgerNs) {
        return new LedgerTimeReference(ledgerNs, mono - 2 * S, mono, 1_500_000_000L);
    }

    @Test
    void aNewTermOnAHostWhoseClockIsAheadGoesOnFromThePublishedLedgerTime() {
        long published = wall; // the last leader's ledger time, read just now; this host's clock is 2 min ahead
        LedgerTimeReference reference = published(published);
        wall += 120 * S;
        pass(10 * S); // the failover took 10 s
        clock.anchor(published - S, reference);
        // Before: ledger time jumped 2 min ahead with the wall clock (every hold 2 min early, transfers in the future).
        assertThat(clock.nowNs()).isEqualTo(published + 10 * S);
        assertThat(clock.anchorDisagreementNs()).isEqualTo(120 * S);
        pass(5 * S);
        assertThat(clock.nowNs() - published).as("then at the monotonic pace, slewing at most 500 ppm")
                .isBetween(15 * S, 15 * S + 5 * S * SteadyClock.SLEW_MAX_PPM / 1_000_000);
        assertThat(clock.wallOffsetNs()).as("what ledger_clock_offset_seconds shows (and LedgerClockDisagrees warns of)")
                .isEqualTo(120 * S - 5 * S * SteadyClock.SLEW_MAX_PPM / 1_000_000);
    }

    @Test
    void aNewTermOnAHostWhoseClockIsBehindGoesOnFromThePublishedLedgerTimeEvenAboveTheFloor() {
        long published = wall;
        LedgerTimeReference reference = published(published);
        wall -= 120 * S;
        pass(10 * S);
        clock.anchor(published - 60 * S, reference); // the last commit was a minute before
        assertThat(clock.nowNs()).isEqualTo(published + 10 * S);
        assertThat(clock.anchorDisagreementNs()).isEqualTo(-120 * S);
    }

    @Test
    void aWallClockThatAgreesWithThePublishedLedgerTimeWithinTheToleranceIsTakenAsItIs() {
        long published = wall;
        LedgerTimeReference reference = published(published);
        pass(10 * S);
        wall += 3 * S; // 3 s ahead of the lower bound: inside the 2 s read window plus 1.5 s
        clock.anchor(0, reference);
        assertThat(clock.nowNs()).isEqualTo(wall);
        assertThat(clock.anchorDisagreementNs()).isZero();
        // and with no reference, as before: the wall clock, never before the floor
        long floor = wall + 7 * S;
        clock.anchor(floor, null);
        assertThat(clock.nowNs()).isEqualTo(floor);
    }
}
