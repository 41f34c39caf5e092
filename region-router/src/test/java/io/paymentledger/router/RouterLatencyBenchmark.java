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
 * {@code ./mvnw -B -pl region-router -am verify -Dgroups=benchmark -Drouter.excludedGroups=none -Dtest=RouterLatencyBenchmark -Dsurefire.failIfNoSpecifiedTests=false}
 * and read the figures in target/surefire-reports/io.paymentledger.router.RouterLatencyBenchmark-output.txt.
 */
@Tag("benchmark")
class RouterLatencyBenchmark {

    static final int CALLERS = Integer.getInteger("bench.callers", 8);
    /** Calls per second offered in all (paced, not as fast as possible: a moderate load). */
    static final int RATE = Integer.getInteger("bench.rate", 400);
    /** Calls per path (direct, routed) and kind (read, write). */
    static final int CALLS = Integer.getInteger("bench.calls", 5000);

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
                    run(client, direct, routed, kind, a, b, CALLS / 4, new Histogram(3_600_000_000L, 3),
                            new Histogram(3_600_000_000L, 3)); // warm-up
                    Histogram d = new Histogram(3_600_000_000L, 3);
                    Histogram r = new Histogram(3_600_000_000L, 3);
                    double rate = run(client, direct, routed, kind, a, b, CALLS, d, r);
                    System.out.printf("BENCH %-5s callers=%d rate=%.0f/s calls=%d+%d: direct p50 %.3f ms p99 %.3f ms |"
                                    + " routed p50 %.3f ms p99 %.3f ms | added p50 %.3f ms p99 %.3f ms, mean %.3f ms%n",
                            kind, CALLERS, rate, d.getTotalCount(), r.getTotalCount(), ms(d, 50), ms(d, 99), ms(r, 50),
                            ms(r, 99), ms(r, 50) - ms(d, 50), ms(r, 99) - ms(d, 99),
                            (r.getMean() - d.getMean()) / 1e6);
                    assertThat(r.getTotalCount()).isEqualTo((long) CALLS);
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
     * {@code calls} calls direct and {@code calls} through the router, interleaved (each caller alternates, so both
     * paths see the same machine at the same time), from {@link #CALLERS} callers paced to {@link #RATE} calls per
     * second in all (a caller that falls behind sends at once); returns the achieved calls per second.
     */
    static double run(GrpcClient client, SocketAddress direct, SocketAddress routed, String kind, String a, String b,
            int calls, Histogram d, Histogram r) throws InterruptedException {
        AtomicInteger leftDirect = new AtomicInteger(calls);
        AtomicInteger leftRouted = new AtomicInteger(calls);
        AtomicInteger errors = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        long start = System.nanoTime();
        long intervalNanos = 1_000_000_000L * CALLERS / RATE;
        for (int i = 0; i < CALLERS; i++) {
            long first = start + intervalNanos * i / CALLERS;
            boolean routedFirst = i % 2 == 0;
            threads.add(Thread.ofPlatform().start(() -> {
                long next = first;
                int n = 0;
                while (true) {
                    boolean preferRouted = (n++ % 2 == 0) == routedFirst;
                    boolean viaRouter;
                    if ((preferRouted ? leftRouted : leftDirect).decrementAndGet() >= 0) {
                        viaRouter = preferRouted;
                    } else if ((preferRouted ? leftDirect : leftRouted).decrementAndGet() >= 0) {
                        viaRouter = !preferRouted;
                    } else {
                        break;
                    }
                    long wait = next - System.nanoTime();
                    if (wait > 0) {
                        java.util.concurrent.locks.LockSupport.parkNanos(wait);
                    }
                    next += intervalNanos;
                    SocketAddress to = viaRouter ? routed : direct;
                    Histogram h = viaRouter ? r : d;
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
        return calls * 2 / seconds;
    }

    static double ms(Histogram h, double percentile) {
        return h.getValueAtPercentile(percentile) / 1e6;
    }
}
