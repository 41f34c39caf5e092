package io.paymentledger.router;

import java.util.concurrent.atomic.LongAdder;

/** The router's counters since start (monotonic). */
public final class Counters {

    public final LongAdder received = new LongAdder();
    public final LongAdder completed = new LongAdder();
    public final LongAdder completedOk = new LongAdder();
    /** Writes (ledger.v1 methods without read options) answered OK: the status page's live write rate. */
    public final LongAdder writesOk = new LongAdder();
    public final LongAdder attempts = new LongAdder();
    public final LongAdder retries = new LongAdder();
    public final LongAdder held = new LongAdder();
    public final LongAdder cut = new LongAdder();
    public final LongAdder boundedReadsToStandby = new LongAdder();
    public final LongAdder rejectedHoldQueueFull = new LongAdder();
    public final LongAdder rejectedHoldTimeout = new LongAdder();
    public final LongAdder rejectedRetriesExhausted = new LongAdder();
    public final LongAdder rejectedMerchantLimit = new LongAdder();
    public final LongAdder rejectedUpstreamLimit = new LongAdder();
    public final LongAdder rejectedInvalid = new LongAdder();
    public final LongAdder rejectedTooLarge = new LongAdder();
    public final LongAdder rejectedUnknownMethod = new LongAdder();
    public final LongAdder deadlineExceeded = new LongAdder();
    public final LongAdder clientCancelled = new LongAdder();
    public final LongAdder leaderChanges = new LongAdder();

    public RouterStatus.Counters snapshot() {
        return new RouterStatus.Counters(received.sum(), completed.sum(), completedOk.sum(), attempts.sum(),
                retries.sum(), held.sum(), cut.sum(), boundedReadsToStandby.sum(), rejectedHoldQueueFull.sum(),
                rejectedHoldTimeout.sum(), rejectedRetriesExhausted.sum(), rejectedMerchantLimit.sum(),
                rejectedUpstreamLimit.sum(), rejectedInvalid.sum(), rejectedTooLarge.sum(),
                rejectedUnknownMethod.sum(), deadlineExceeded.sum(), clientCancelled.sum(), leaderChanges.sum(), writesOk.sum());
    }
}
