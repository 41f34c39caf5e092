package io.paymentledger.router;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * The router's counters since start (monotonic), as Prometheus counters of the router's registry (served at
 * {@code /metrics}) and as the snapshot {@code ./ledger status} shows. Refusals are one counter,
 * {@code ledger_router_rejected_total{reason}}, with a reason from the closed set below.
 */
public final class Counters {

    public final Counter received;
    public final Counter completed;
    public final Counter completedOk;
    /** Writes (ledger.v1 methods without read options) answered OK: the status page's live write rate. */
    public final Counter writesOk;
    public final Counter attempts;
    public final Counter retries;
    public final Counter held;
    public final Counter cut;
    public final Counter boundedReadsToStandby;
    public final Counter rejectedHoldQueueFull;
    public final Counter rejectedHoldTimeout;
    public final Counter rejectedRetriesExhausted;
    public final Counter rejectedMerchantLimit;
    public final Counter rejectedUpstreamLimit;
    public final Counter rejectedInvalid;
    public final Counter rejectedTooLarge;
    public final Counter rejectedUnknownMethod;
    public final Counter deadlineExceeded;
    public final Counter clientCancelled;
    public final Counter leaderChanges;

    public Counters(MeterRegistry r) {
        received = counter(r, "ledger_router_calls_received", "calls that reached the router");
        completed = counter(r, "ledger_router_calls_completed", "calls the router answered (any status)");
        completedOk = counter(r, "ledger_router_calls_ok", "calls answered OK");
        writesOk = counter(r, "ledger_router_writes_ok", "write calls answered OK");
        attempts = counter(r, "ledger_router_attempts", "attempts sent to a region (a retried call counts each)");
        retries = counter(r, "ledger_router_retries", "calls sent again after an attempt failed before it could apply");
        held = counter(r, "ledger_router_calls_held", "calls that waited in the hold queue for a leader");
        cut = counter(r, "ledger_router_calls_cut", "attempts the router cut because their region lost leadership");
        boundedReadsToStandby = counter(r, "ledger_router_bounded_reads_to_standby", "bounded-staleness reads served by a standby");
        rejectedHoldQueueFull = rejected(r, "hold_queue_full");
        rejectedHoldTimeout = rejected(r, "hold_timeout");
        rejectedRetriesExhausted = rejected(r, "retries_exhausted");
        rejectedMerchantLimit = rejected(r, "merchant_limit");
        rejectedUpstreamLimit = rejected(r, "upstream_limit");
        rejectedInvalid = rejected(r, "invalid");
        rejectedTooLarge = rejected(r, "too_large");
        rejectedUnknownMethod = rejected(r, "unknown_method");
        deadlineExceeded = counter(r, "ledger_router_deadline_exceeded", "calls whose deadline passed in the router");
        clientCancelled = counter(r, "ledger_router_client_cancelled", "calls the client reset or dropped");
        leaderChanges = counter(r, "ledger_router_leader_changes", "changes of the leader the router routes writes to");
    }

    private static Counter counter(MeterRegistry r, String name, String description) {
        return Counter.builder(name).description(description).register(r);
    }

    private static Counter rejected(MeterRegistry r, String reason) {
        return Counter.builder("ledger_router_rejected").description("calls the router refused itself, by reason")
                .tag("reason", reason).register(r);
    }

    public RouterStatus.Counters snapshot() {
        return new RouterStatus.Counters(n(received), n(completed), n(completedOk), n(attempts), n(retries), n(held), n(cut),
                n(boundedReadsToStandby), n(rejectedHoldQueueFull), n(rejectedHoldTimeout), n(rejectedRetriesExhausted),
                n(rejectedMerchantLimit), n(rejectedUpstreamLimit), n(rejectedInvalid), n(rejectedTooLarge),
                n(rejectedUnknownMethod), n(deadlineExceeded), n(clientCancelled), n(leaderChanges), n(writesOk));
    }

    private static long n(Counter c) {
        return (long) c.count();
    }
}
