package io.paymentledger.router;

import java.util.List;
import java.util.Map;

/**
 * A snapshot of the router for {@code ./ledger status}: whom it routes to and why, the health of every
 * upstream, what waits, and counters since start.
 *
 * @param leaderRegion     the region writes go to ("" when none is known)
 * @param leaderEpoch      the leader's epoch (0 when none)
 * @param highestEpochSeen the highest fencing token ever seen; upstreams below it never get a write
 * @param leaderUsable     a leader is known and not ejected: writes flow (the router's own health is SERVING)
 * @param explanation      a sentence an operator understands
 * @param upstreams        every configured node
 * @param holdQueueDepth   calls waiting in the router now (for a leader, or for their next retry)
 * @param holdQueueBytes   request bytes those calls buffer
 * @param merchantsInFlight calls in the router per merchant key, now
 * @param counters         since start
 */
public record RouterStatus(String leaderRegion, long leaderEpoch, long highestEpochSeen, boolean leaderUsable,
        String explanation, List<UpstreamStatus> upstreams, int holdQueueDepth, long holdQueueBytes,
        Map<String, Integer> merchantsInFlight, Counters counters) {

    /**
     * @param reachable          its last health checks answered
     * @param serving            it said SERVING (it leads, in its own opinion)
     * @param epoch              the epoch it reported
     * @param role               the role it reported (x-ledger-role)
     * @param leader             the router routes writes to it
     * @param ejected            its breaker is open (outlier ejection)
     * @param ejectedForMs       how much longer
     * @param breaker            CLOSED, OPEN or HALF_OPEN
     * @param inFlight           calls in flight to it now
     * @param consecutiveCallFailures failed calls in a row
     * @param ejections          since start
     * @param checkFailures      failed health checks in a row
     * @param lastCheckAgoMs     -1 when never checked
     * @param lastError          of the last failed health check ("" when the last one answered)
     */
    public record UpstreamStatus(String region, String address, boolean reachable, boolean serving, long epoch,
            String role, boolean leader, boolean ejected, long ejectedForMs, String breaker, int inFlight,
            int consecutiveCallFailures, long ejections, int checkFailures, long lastCheckAgoMs, String lastError) {}

    /** A few lines an operator reads (for {@code ./ledger status}). */
    public String summary() {
        StringBuilder sb = new StringBuilder();
        sb.append("router: ").append(explanation).append(leaderUsable ? "" : " (calls wait)").append('\n');
        for (UpstreamStatus u : upstreams) {
            sb.append(String.format("  %-8s %-21s %-11s %-11s epoch %-4d %s%s in-flight %d%s%n", u.region(), u.address(),
                    u.reachable() ? "reachable" : "UNREACHABLE", u.serving() ? "SERVING" : "NOT_SERVING", u.epoch(),
                    u.leader() ? "LEADER " : "", u.ejected() ? "EJECTED for " + u.ejectedForMs() + " ms" : "breaker " + u.breaker(),
                    u.inFlight(), u.lastError().isEmpty() ? "" : " (" + u.lastError() + ")"));
        }
        sb.append(String.format("  waiting %d calls (%d bytes); %d received, %d ok, %d held, %d retried, %d cut, %d refused"
                        + " (queue full %d, hold time %d, merchant limit %d, too large %d, invalid %d)",
                holdQueueDepth, holdQueueBytes, counters.received(), counters.completedOk(), counters.held(),
                counters.retries(), counters.cut(), counters.rejectedHoldQueueFull() + counters.rejectedHoldTimeout()
                        + counters.rejectedMerchantLimit() + counters.rejectedTooLarge() + counters.rejectedInvalid()
                        + counters.rejectedUpstreamLimit() + counters.rejectedRetriesExhausted(),
                counters.rejectedHoldQueueFull(), counters.rejectedHoldTimeout(), counters.rejectedMerchantLimit(),
                counters.rejectedTooLarge(), counters.rejectedInvalid()));
        return sb.toString();
    }

    public record Counters(long received, long completed, long completedOk, long attempts, long retries, long held,
            long cut, long boundedReadsToStandby, long rejectedHoldQueueFull, long rejectedHoldTimeout,
            long rejectedRetriesExhausted, long rejectedMerchantLimit, long rejectedUpstreamLimit, long rejectedInvalid,
            long rejectedTooLarge, long rejectedUnknownMethod, long deadlineExceeded, long clientCancelled,
            long leaderChanges, long writesOk) {}
}
