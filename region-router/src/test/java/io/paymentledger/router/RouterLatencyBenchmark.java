package io.paymentledger.router;

import static io.paymentledger.ledger.support.Fixtures.account;
import static io.paymentledger.ledger.support.Fixtures.id;
import static io.paymentledger.ledger.support.Fixtures.transfer;
import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.LedgerServiceGrpcClient;
import io.paymentledger.api.v1.LookupAccountsRequest;
import io.paymentledger.ledger.support.TestLedger;
import io.paymentledger.router.support.Calls;
import io.paymentledger.router.support.TestRegion;
import io.vertx.core.Vertx;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.common.GrpcStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Added latency of the router: the same calls to a real ledger node directly and through the router, at a
 * moderate load (a few concurrent callers, each waiting for its answer), on the same machine. Not part of the
 * default test run; run it with
 * {@code ./mvnw -o -pl region-router test -Dgroups=benchmark -Drouter.excludedGroups=none -Dtest=RouterLatencyBenchmark}
 * and read the figures in target/surefire-reports/io.paymentledger.router.RouterLatencyBenchmark-output.txt.
 */
@Tag("benchmark")
class RouterLatencyBenchmark {

    static final int CALLERS = Integer.getInteger("bench.callers", 8);
    /** Calls per second offered in all (paced, not as fast as possible: a moderate load). */
    static final int RATE = Integer.getInteger("bench.rate", 400);
    static final int CALLS = Integer.getInteger("bench.calls", 1600);
    static final int ROUNDS = 2;

    @Test
    void routerAddedLatency() throws Exception {
        try (TestRegion region = TestRegion.start("a")) {
            region.lead(1);
            Vertx routerVertx = Vertx.vertx();
            Vertx clientVertx = Vertx.vertx();
            RegionRouter router = RegionRouter.start(routerVertx, RouterConfig.builder()
                    .upstream("a", "127.0.0.1", region.port()).merchantConcurrentCalls(10_000).build());
            try {
                GrpcClient client = TestLedger.newClient(clientVertx);
                SocketAddress direct = SocketAddress.inetSocketAddress(region.port(), "127.0.0.1");
                SocketAddress routed = SocketAddress.inetSocketAddress(router.port(), "127.0.0.1");
                RouterTesting.awaitLeader(router, "a");
                String a = id("a"), b = id("b");
                assertThat(Calls.call(client, direct, LedgerServiceGrpcClient.CreateAccounts, CreateAccountsRequest.newBuilder()
                        .addAccounts(account(a, "EUR")).addAccounts(account(b, "EUR")).build(), Map.of(), 10_000).status())
                        .isEqualTo(GrpcStatus.OK);

                for (String kind : List.of("read", "write")) {
                    Histogram d = new Histogram(3_600_000_000L, 3);
                    Histogram r = new Histogram(3_600_000_000L, 3);
                    run(client, direct, kind, a, b, CALLS / 4, new Histogram(3_600_000_000L, 3)); // warm-up
                    run(client, routed, kind, a, b, CALLS / 4, new Histogram(3_600_000_000L, 3));
                    double directRate = 0;
                    double routedRate = 0;
                    for (int round = 0; round < ROUNDS; round++) {
                        directRate += run(client, direct, kind, a, b, CALLS, d);
                        routedRate += run(client, routed, kind, a, b, CALLS, r);
                    }
                    System.out.printf("BENCH %-5s callers=%d rate=%d/s calls=%d: direct p50 %.3f ms p99 %.3f ms (%.0f/s) |"
                                    + " routed p50 %.3f ms p99 %.3f ms (%.0f/s) | added p50 %.3f ms p99 %.3f ms%n",
                            kind, CALLERS, RATE, CALLS * ROUNDS, ms(d, 50), ms(d, 99), directRate / ROUNDS, ms(r, 50), ms(r, 99),
                            routedRate / ROUNDS, ms(r, 50) - ms(d, 50), ms(r, 99) - ms(d, 99));
                    assertThat(r.getTotalCount()).isEqualTo((long) CALLS * ROUNDS);
                }
                System.out.println("BENCH router status: " + router.status().counters());
            } finally {
                router.close();
                routerVertx.close().await();
                clientVertx.close().await();
            }
        }
    }

    /**
     * {@code calls} calls from {@link #CALLERS} callers, paced to {@link #RATE} per second in all (a caller that
     * falls behind its schedule sends at once); returns the achieved calls per second.
     */
    static double run(GrpcClient client, SocketAddress to, String kind, String a, String b, int calls, Histogram h)
            throws InterruptedException {
        AtomicInteger left = new AtomicInteger(calls);
        AtomicInteger errors = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        long start = System.nanoTime();
        long intervalNanos = 1_000_000_000L * CALLERS / RATE;
        for (int i = 0; i < CALLERS; i++) {
            long first = start + intervalNanos * i / CALLERS;
            threads.add(Thread.ofPlatform().start(() -> {
                long next = first;
                while (left.decrementAndGet() >= 0) {
                    long wait = next - System.nanoTime();
                    if (wait > 0) {
                        java.util.concurrent.locks.LockSupport.parkNanos(wait);
                    }
                    next += intervalNanos;
                    long t0 = System.nanoTime();
                    GrpcStatus s = "read".equals(kind)
                            ? Calls.call(client, to, LedgerServiceGrpcClient.LookupAccounts,
                                    LookupAccountsRequest.newBuilder().addIds(a).build(), Map.of(), 10_000).status()
                            : Calls.call(client, to, LedgerServiceGrpcClient.CreateTransfers, CreateTransfersRequest.newBuilder()
                                    .addTransfers(transfer(id("t"), a, b, 1, "EUR")).build(), Map.of(), 10_000).status();
                    long took = System.nanoTime() - t0;
                    synchronized (h) {
                        h.recordValue(took);
                    }
                    if (s != GrpcStatus.OK) {
                        errors.incrementAndGet();
                    }
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        assertThat(errors.get()).isZero();
        return calls / seconds;
    }

    static double ms(Histogram h, double percentile) {
        return h.getValueAtPercentile(percentile) / 1e6;
    }
}
