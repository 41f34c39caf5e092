package io.paymentledger.router.routing;

import io.paymentledger.router.Counters;
import io.paymentledger.router.health.LeaderTracker;
import io.paymentledger.router.health.Upstream;
import io.paymentledger.router.limits.HoldQueue;

/**
 * What a change of the leadership view means for the calls: parked calls are woken when there is somewhere to
 * send them (each goes back to its own event loop), and leader changes are counted. One for the whole router,
 * whatever the number of server verticles.
 */
public final class HoldWaker implements LeaderTracker.Listener {

    private final HoldQueue hold;
    private final Counters counters;

    public HoldWaker(HoldQueue hold, Counters counters) {
        this.hold = hold;
        this.counters = counters;
    }

    @Override
    public void onViewChanged(LeaderTracker.View previous, LeaderTracker.View current) {
        if (hold.hasParked() && (current.leader() != null || !current.standbys().isEmpty())) {
            hold.wakeAll();
        }
    }

    @Override
    public void onLeaderChanged(Upstream previous, Upstream current, long epoch, String reason) {
        counters.leaderChanges.increment();
    }
}
