package io.paymentledger.router;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.function.BooleanSupplier;

/** Waiting for the router to see something, bounded. */
final class RouterTesting {

    private RouterTesting() {}

    static void awaitLeader(RegionRouter router, String region) {
        await(() -> region.equals(router.status().leaderRegion()) && router.status().leaderUsable(), 15_000,
                () -> "router never saw " + region + " as leader: " + router.status());
    }

    static void await(BooleanSupplier condition, long timeoutMs, java.util.function.Supplier<String> what) {
        long end = System.nanoTime() + timeoutMs * 1_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - end > 0) {
                assertThat(condition.getAsBoolean()).as(what.get()).isTrue();
                return;
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }
}
