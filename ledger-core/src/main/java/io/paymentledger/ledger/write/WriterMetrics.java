package io.paymentledger.ledger.write;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The single writer's meters: where a write's time goes between the queue and the acknowledgement.
 * <ul>
 *   <li>{@code ledger_writer_queue_wait_seconds}: from submit until the applier took the request</li>
 *   <li>{@code ledger_writer_apply_seconds}: applying one chunk of requests to the open batch (lookups, rules)</li>
 *   <li>{@code ledger_writer_rows_seconds}: writing one batch's new rows (accounts, transfers by COPY, holds, payments)
 *       on its commit lane, while the batch before it may still wait for its COMMIT</li>
 *   <li>{@code ledger_writer_commit_seconds}: the part of a batch's transaction that waits for the batch before it: the
 *       epoch check, balances and journal row, then the COMMIT; batches pass through it one at a time, so its mean is
 *       the writer's time per batch at full load</li>
 *   <li>{@code ledger_writer_commit_wait_seconds}: the COMMIT statement alone: local WAL flush plus the wait until a
 *       second site holds the batch (quorum commit): what a slow standby or WAL keeper shows up in</li>
 *   <li>{@code ledger_writer_batch_items}: items per committed batch</li>
 *   <li>{@code ledger_failovers_total}: terms this node started leading (a first start, a failover, a switchover)</li>
 * </ul>
 */
final class WriterMetrics {

    /** Latency buckets: 100 µs (an apply) to 10 s (a commit waiting for a lost standby). */
    private static final Duration[] LATENCY_BUCKETS = {
            Duration.ofNanos(100_000), Duration.ofNanos(250_000), Duration.ofNanos(500_000), Duration.ofMillis(1),
            Duration.ofMillis(2), Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(20), Duration.ofMillis(50),
            Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(10)};
    /** Batch-size buckets, up to a full batch ({@link BatchWriter.Config#batchItemsMax()}, 16,380 by default). */
    private static final double[] BATCH_ITEM_BUCKETS = {1, 4, 16, 64, 256, 1024, 4096, 8190, 16380};

    final Timer queueWait;
    final Timer apply;
    final Timer rows;
    final Timer commit;
    final Timer commitWait;
    final DistributionSummary batchItems;
    final Counter failovers;

    WriterMetrics(MeterRegistry registry) {
        queueWait = timer(registry, "ledger_writer_queue_wait", "from submit until the writer took the request");
        apply = timer(registry, "ledger_writer_apply", "applying a chunk of requests to the open batch (lookups, rules)");
        rows = timer(registry, "ledger_writer_rows", "writing one batch's new rows (accounts, transfers, holds, payments),"
                + " overlapping the previous batch's commit");
        commit = timer(registry, "ledger_writer_commit", "one batch's epoch check, balances, journal row and COMMIT (one at"
                + " a time, in order), incl. the synchronous wait for a second site");
        commitWait = timer(registry, "ledger_writer_commit_wait", "the COMMIT statement: WAL flush plus the wait until a"
                + " second site holds the batch");
        batchItems = DistributionSummary.builder("ledger_writer_batch_items").description("items per committed batch")
                .serviceLevelObjectives(BATCH_ITEM_BUCKETS).register(registry);
        failovers = Counter.builder("ledger_failovers").description("terms this node started leading (start, failover,"
                + " switchover)").register(registry);
    }

    /** Meters that record nothing (a writer without a registry, e.g. in tools). */
    static WriterMetrics none() {
        return new WriterMetrics(new CompositeMeterRegistry());
    }

    private static Timer timer(MeterRegistry registry, String name, String description) {
        return Timer.builder(name).description(description).serviceLevelObjectives(LATENCY_BUCKETS).register(registry);
    }

    static void record(Timer t, long nanos) {
        t.record(nanos, TimeUnit.NANOSECONDS);
    }
}
