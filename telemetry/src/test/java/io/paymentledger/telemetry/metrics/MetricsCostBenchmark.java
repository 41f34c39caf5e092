package io.paymentledger.telemetry.metrics;

import io.micrometer.core.instrument.Counter;
import io.vertx.grpc.common.GrpcStatus;

/**
 * What a recorded call costs in isolation (a benchmark, not a test: run it by hand, docs/benchmarks.md): the router's
 * path through {@link RequestMetrics} (method lookup, status timer, histogram bucket) and a counter increment.
 *
 * <pre>{@code
 * ./mvnw -q -B -pl telemetry test-compile
 * java -cp "telemetry/target/test-classes:telemetry/target/classes:ledger-cli/target/lib/*" \
 *     io.paymentledger.telemetry.metrics.MetricsCostBenchmark
 * }</pre>
 */
public final class MetricsCostBenchmark {

    /** Records per round; five rounds, the first ones warm the JIT. */
    static final int CALLS_PER_ROUND = 5_000_000;
    static final int ROUNDS = 5;

    public static void main(String[] args) {
        ProcessMetrics metrics = new ProcessMetrics("router");
        RequestMetrics requests = new RequestMetrics(metrics.registry(), "ledger_router_request", "benchmark");
        Counter counter = Counter.builder("ledger_benchmark").register(metrics.registry());
        for (int round = 0; round < ROUNDS; round++) {
            long start = System.nanoTime();
            for (int i = 0; i < CALLS_PER_ROUND; i++) {
                requests.method("ledger.v1.LedgerService/CreateTransfers").record(GrpcStatus.OK, start);
            }
            long recorded = System.nanoTime();
            for (int i = 0; i < CALLS_PER_ROUND; i++) {
                counter.increment();
            }
            long counted = System.nanoTime();
            System.out.printf("round %d: method lookup + histogram record %.0f ns/call; counter increment %.0f ns%n", round,
                    (recorded - start) / (double) CALLS_PER_ROUND, (counted - recorded) / (double) CALLS_PER_ROUND);
        }
    }
}
