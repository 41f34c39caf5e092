package io.paymentledger.ledger.grpc;

import io.paymentledger.api.v1.ReadConsistency;
import io.paymentledger.api.v1.ReadOptions;
import io.paymentledger.ledger.Limits;
import io.vertx.core.Future;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;

/**
 * May this node answer a read? Linearizable reads only while it leads (within its lease); bounded-staleness
 * reads also on a standby that has proven, within the bound, that its data is complete: its WAL stream said so
 * (PgProbe.STANDBY_QUERY), and the time since keeps counting, so a standby cut off from the leader refuses once the
 * bound has passed (UNAVAILABLE "... behind"; the router retries such a read at the leader).
 */
public interface ReadGate {

    /** True while this node leads and its lease is valid. */
    boolean leads();

    /** Why it does not lead (for the error message). */
    String notLeadingReason();

    /**
     * How far this node's data may be behind the leader's, in ms (Long.MAX_VALUE when unknown). An upper bound
     * that grows while nothing proves freshness; never "0" for a standby that has merely replayed all it received.
     */
    long stalenessMs();

    /**
     * The second half of a linearizable read, after its query: a node that stopped leading while the query ran (its
     * lease ran out during a pause, a cut-off, a failover) may have read state a new leader has moved past, so the
     * answer is refused (UNAVAILABLE; the client or the router retries at the leader) rather than returned. Checking
     * only before the query let a deposed leader answer after its lease.
     */
    default <T> Future<T> confirm(ReadOptions options, Future<T> answer) {
        if (options.getConsistency() == ReadConsistency.READ_CONSISTENCY_BOUNDED_STALENESS) {
            return answer;
        }
        return answer.compose(result -> leads() ? Future.succeededFuture(result)
                : Future.failedFuture(new StatusException(GrpcStatus.UNAVAILABLE, "not the leader any more ("
                        + notLeadingReason() + "): this node's lease ended while the read ran; linearizable reads are served"
                        + " by the leader only")));
    }

    /** Throws UNAVAILABLE (or INVALID_ARGUMENT for bad options) when this node may not serve the read. */
    default void check(ReadOptions options) throws StatusException {
        if (options.getConsistencyValue() != ReadConsistency.READ_CONSISTENCY_LINEARIZABLE_VALUE
                && options.getConsistencyValue() != ReadConsistency.READ_CONSISTENCY_BOUNDED_STALENESS_VALUE) {
            throw Unary.invalid("read.consistency: unknown value " + options.getConsistencyValue());
        }
        boolean bounded = options.getConsistency() == ReadConsistency.READ_CONSISTENCY_BOUNDED_STALENESS;
        if (bounded && (options.getMaxStalenessMs() < 1 || options.getMaxStalenessMs() > Limits.STALENESS_MS_MAX)) {
            throw Unary.invalid("read.max_staleness_ms must be 1.." + Limits.STALENESS_MS_MAX);
        }
        if (leads()) {
            return;
        }
        if (!bounded) {
            throw new StatusException(GrpcStatus.UNAVAILABLE, "not the leader (" + notLeadingReason()
                    + "): linearizable reads are served by the leader only");
        }
        long lag = stalenessMs();
        if (lag > options.getMaxStalenessMs()) {
            throw new StatusException(GrpcStatus.UNAVAILABLE, "this standby is "
                    + (lag == Long.MAX_VALUE ? "an unknown time" : lag + " ms") + " behind, more than max_staleness_ms "
                    + options.getMaxStalenessMs());
        }
    }
}
