package io.paymentledger.router;

import io.paymentledger.router.support.RouterFixture;

import io.paymentledger.router.support.ClientHeader;
import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.router.support.Calls;
import io.paymentledger.router.support.Calls.Reply;
import io.paymentledger.router.support.FakeRegion;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.grpc.common.GrpcStatus;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** While no region leads, calls wait in the router, bounded in number and in time; then they go, or fail clearly. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class HoldTest extends RouterFixture {

    static final String WRITE = "ledger.v1.LedgerService/CreateTransfers";

    RouterConfig.Builder config(FakeRegion... regions) {
        RouterConfig.Builder b = RouterConfig.builder().merchantResolver(ClientHeader.resolver()).healthCheckIntervalMs(50).healthCheckTimeoutMs(200);
        for (FakeRegion r : regions) {
            b.upstream(r.region, "127.0.0.1", r.port());
        }
        return b;
    }

    Future<Reply<Buffer>> write(long timeoutMs) {
        return Calls.rawAsync(client, via(), WRITE, List.of(Buffer.buffer()), Map.of(), timeoutMs);
    }

    @Test
    void noLeaderForLongerThanTheHoldTimeGivesUnavailableWithARetryHint() {
        FakeRegion a = FakeRegion.start(vertx, "a", false, 1);
        router = RegionRouter.start(vertx, config(a).holdTimeMs(800).retryAfterMs(1500).build());
        RouterTesting.await(() -> router.status().upstreams().get(0).lastCheckAgoMs() >= 0, 5000, () -> "never checked");

        Reply<Buffer> r = Calls.await(write(20_000));
        assertThat(r.status()).isEqualTo(GrpcStatus.UNAVAILABLE);
        assertThat(r.message()).contains("hold time of 800 ms").contains("retry after 1500 ms").contains("no leader");
        assertThat(r.header("retry-after-ms")).isEqualTo("1500");
        assertThat(r.header("grpc-retry-pushback-ms")).isEqualTo("1500");
        assertThat(r.header("x-request-id")).isNotBlank();
        // Promptly: at the hold time, far from the call's own 20 s deadline (a bound against hangs, not a target).
        assertThat(r.millis()).isLessThan(10_000);
        assertThat(a.calls.get()).as("a non-leader never gets the write").isZero();
        assertThat(router.status().counters().rejectedHoldTimeout()).isEqualTo(1);
        // The answer can reach the client a moment before the router's event loop has dropped the call from the queue.
        RouterTesting.await(() -> router.status().holdQueueDepth() == 0, 5000, () -> "still held: " + router.status());
    }

    @Test
    void aFullHoldQueueAnswersUnavailableAtOnceAndHeldCallsGoWhenALeaderAppears() {
        FakeRegion a = FakeRegion.start(vertx, "a", false, 1);
        router = RegionRouter.start(vertx, config(a).holdQueueCalls(2).holdTimeMs(15_000).build());
        RouterTesting.await(() -> router.status().upstreams().get(0).lastCheckAgoMs() >= 0, 5000, () -> "never checked");

        Future<Reply<Buffer>> first = write(20_000);
        Future<Reply<Buffer>> second = write(20_000);
        RouterTesting.await(() -> router.status().holdQueueDepth() == 2, 5000, () -> "not held: " + router.status());
        assertThat(router.metrics().scrape()).as("what Prometheus sees of the hold queue")
                .contains("ledger_router_hold_queue_depth{process=\"router\"} 2");

        Reply<Buffer> third = Calls.await(write(20_000));
        assertThat(third.status()).isEqualTo(GrpcStatus.UNAVAILABLE);
        assertThat(third.message()).contains("hold queue is full (2 calls");
        assertThat(third.header("retry-after-ms")).isNotBlank();
        assertThat(first.isComplete()).as("the held calls still wait").isFalse();
        assertThat(second.isComplete()).isFalse();

        a.serving = true; // a leader appears: the held calls are forwarded
        assertThat(Calls.await(first).status()).isEqualTo(GrpcStatus.OK);
        assertThat(Calls.await(second).status()).isEqualTo(GrpcStatus.OK);
        assertThat(a.calls.get()).isEqualTo(2);
        RouterStatus st = router.status();
        assertThat(st.counters().rejectedHoldQueueFull()).isEqualTo(1);
        assertThat(st.counters().held()).isEqualTo(2);
        assertThat(st.holdQueueDepth()).isZero();
        assertThat(st.holdQueueBytes()).isZero();
        String metrics = router.metrics().scrape();
        assertThat(metrics).contains("ledger_router_hold_queue_depth{process=\"router\"} 0",
                "ledger_router_rejected_total{process=\"router\",reason=\"hold_queue_full\"} 1",
                "ledger_router_calls_held_total{process=\"router\"} 2");
        // Each answer by method and status: the refused one as UNAVAILABLE, the held ones OK once forwarded.
        assertThat(metrics).containsPattern("ledger_router_request_seconds_count\\{method=\"[^\"]+\",process=\"router\",status=\"UNAVAILABLE\"\\} 1\n");
        assertThat(metrics).containsPattern("ledger_router_request_seconds_count\\{method=\"[^\"]+\",process=\"router\",status=\"OK\"\\} 2\n");
    }

    @Test
    void whileNoRegionLeadsTheRouterChecksTenTimesAsOftenAndStopsOnceOneLeads() throws Exception {
        // A slow interval (3 s) makes the difference countable: without a leader the router asks every 300 ms, so a
        // held call goes soon after a new leader serves instead of up to an interval later (what a switchover paid).
        FakeRegion a = FakeRegion.start(vertx, "a", false, 1);
        router = RegionRouter.start(vertx, config(a).healthCheckIntervalMs(3_000).holdTimeMs(15_000).build());
        RouterTesting.await(() -> router.status().upstreams().get(0).lastCheckAgoMs() >= 0, 5000, () -> "never checked");
        int before = a.healthChecks.get();
        Thread.sleep(2_000);
        int leaderless = a.healthChecks.get() - before;
        assertThat(leaderless).as("health checks of a in 2 s without a leader (interval 3 s, fast checks every 300 ms)")
                .isGreaterThanOrEqualTo(4);

        Future<Reply<Buffer>> held = write(20_000);
        RouterTesting.await(() -> router.status().holdQueueDepth() == 1, 5000, () -> "not held: " + router.status());
        a.serving = true;
        assertThat(Calls.await(held).status()).as("the held write, once a leads").isEqualTo(GrpcStatus.OK);
        RouterTesting.awaitLeader(router, "a");

        int led = a.healthChecks.get();
        Thread.sleep(2_000);
        assertThat(a.healthChecks.get() - led).as("health checks of a in 2 s with a leader: back to the 3 s interval")
                .isLessThanOrEqualTo(1);
    }

    @Test
    void aCallWhoseDeadlineComesFirstGetsDeadlineExceeded() {
        FakeRegion a = FakeRegion.start(vertx, "a", false, 1);
        router = RegionRouter.start(vertx, config(a).holdTimeMs(15_000).build());
        RouterTesting.await(() -> router.status().upstreams().get(0).lastCheckAgoMs() >= 0, 5000, () -> "never checked");
        Reply<Buffer> r = Calls.await(write(300));
        assertThat(r.status()).isEqualTo(GrpcStatus.DEADLINE_EXCEEDED);
        // The client's own deadline timer may fire a moment before the router's (another event loop) lets go.
        RouterTesting.await(() -> router.status().holdQueueDepth() == 0, 2000, () -> "the expired call still waits in the router");
    }

    @Test
    void notTheLeaderAnswersAreRetriedWithinTheHoldTime() {
        FakeRegion a = FakeRegion.start(vertx, "a", true, 1);
        AtomicInteger refusals = new AtomicInteger(3);
        a.behavior = in -> {
            if (refusals.getAndDecrement() > 0) {
                FakeRegion.fail(GrpcStatus.UNAVAILABLE, "not the leader: drill").accept(in);
            } else {
                FakeRegion.okEmpty(in);
            }
        };
        router = RegionRouter.start(vertx, config(a).build());
        RouterTesting.awaitLeader(router, "a");
        Reply<Buffer> r = Calls.await(write(10_000));
        assertThat(r.status()).isEqualTo(GrpcStatus.OK);
        assertThat(a.calls.get()).isEqualTo(4);
        assertThat(router.status().counters().retries()).isEqualTo(3);
        // The same answer to a method that is not idempotent is retried too: "not the leader" means not applied.
        refusals.set(1);
        Reply<Buffer> switchover = Calls.await(Calls.rawAsync(client, via(), "ledger.v1.NodeService/Switchover",
                List.of(Buffer.buffer()), Map.of(), 10_000));
        assertThat(switchover.status()).isEqualTo(GrpcStatus.OK);
        // But a failure after it may have been applied is not.
        a.behavior = FakeRegion.fail(GrpcStatus.UNAVAILABLE, "database write failed");
        Reply<Buffer> failed = Calls.await(Calls.rawAsync(client, via(), "ledger.v1.NodeService/Switchover",
                List.of(Buffer.buffer()), Map.of(), 10_000));
        assertThat(failed.status()).isEqualTo(GrpcStatus.UNAVAILABLE);
        assertThat(failed.message()).contains("may or may not have been applied");
    }

    @Test
    void aCreateApiKeyThatMayHaveBeenAppliedIsNotReplayedAndItsOutcomeIsUnknown() {
        FakeRegion a = FakeRegion.start(vertx, "a", true, 1);
        FakeRegion b = FakeRegion.start(vertx, "b", false, 1);
        // Each region mints a key for every CreateApiKey it receives, as a node does before it answers.
        AtomicInteger minted = new AtomicInteger();
        AtomicInteger failures = new AtomicInteger(1);
        a.behavior = in -> in.last().onSuccess(m -> {
            minted.incrementAndGet();
            if (failures.getAndDecrement() > 0) {
                // Applied, then the answer is lost: what a node says when its commit's outcome is unknown.
                in.response().status(GrpcStatus.UNAVAILABLE).statusMessage("database unavailable").end();
            } else {
                in.response().end(Buffer.buffer());
            }
        });
        router = RegionRouter.start(vertx, config(a, b).holdTimeMs(10_000).build());
        RouterTesting.awaitLeader(router, "a");

        Reply<Buffer> failed = Calls.await(createApiKey());
        assertThat(failed.status()).isEqualTo(GrpcStatus.UNAVAILABLE);
        assertThat(failed.message()).contains("database unavailable").contains("the outcome is unknown")
                .contains("ledger.v1.NodeService/CreateApiKey is not idempotent");
        assertThat(minted.get()).as("no second key minted by a replay").isEqualTo(1);
        assertThat(router.status().counters().retries()).isZero();

        // A leader that is deposed while the call is in flight: the call is cut, and not replayed at the next leader.
        a.behavior = in -> in.last().onSuccess(m -> minted.incrementAndGet()); // applied, never answered
        b.behavior = in -> in.last().onSuccess(m -> {
            minted.incrementAndGet();
            in.response().end(Buffer.buffer());
        });
        Future<Reply<Buffer>> inFlight = createApiKey();
        RouterTesting.await(() -> minted.get() == 2, 5000, () -> "the call did not reach region a");
        a.serving = false;
        b.epoch = 2;
        b.serving = true;
        Reply<Buffer> cut = Calls.await(inFlight);
        assertThat(cut.status()).isEqualTo(GrpcStatus.UNAVAILABLE);
        assertThat(cut.message()).contains("the outcome is unknown").contains("not idempotent");
        RouterTesting.awaitLeader(router, "b");
        assertThat(b.calls.get()).as("the new leader never got the replay").isZero();
        assertThat(minted.get()).isEqualTo(2);
    }

    Future<Reply<Buffer>> createApiKey() {
        return Calls.rawAsync(client, via(), "ledger.v1.NodeService/CreateApiKey", List.of(Buffer.buffer()), Map.of(), 10_000);
    }

    @Test
    void theCoordinatorsPushDeposesTheOldLeaderAtOnce() {
        FakeRegion a = FakeRegion.start(vertx, "a", true, 1);
        FakeRegion b = FakeRegion.start(vertx, "b", false, 1);
        router = RegionRouter.start(vertx, config(a, b).holdTimeMs(15_000).build());
        RouterTesting.awaitLeader(router, "a");

        router.onLeaderChange("b", 2);
        // a still says SERVING with epoch 1, but epoch 2 exists now: a is deposed, b is not confirmed yet.
        RouterTesting.await(() -> router.status().highestEpochSeen() == 2, 5000, () -> "push ignored");
        assertThat(router.status().leaderRegion()).isEmpty();
        Future<Reply<Buffer>> held = write(20_000);
        RouterTesting.await(() -> router.status().holdQueueDepth() == 1, 5000, () -> "not held: " + router.status());

        b.serving = true;
        b.epoch = 2;
        Reply<Buffer> r = Calls.await(held);
        assertThat(r.status()).isEqualTo(GrpcStatus.OK);
        assertThat(r.header("x-ledger-region")).isEqualTo("b");
        assertThat(a.calls.get()).isZero();
        assertThat(router.status().leaderRegion()).isEqualTo("b");
    }

    @Test
    void whenTheLeadersProcessDiesCallsAreRetriedOnTheNextLeader() {
        FakeRegion a = FakeRegion.start(vertx, "a", true, 1);
        FakeRegion b = FakeRegion.start(vertx, "b", false, 1);
        a.behavior = in -> { }; // never answers: the call is in flight when the process dies
        router = RegionRouter.start(vertx, config(a, b).holdTimeMs(15_000).build());
        RouterTesting.awaitLeader(router, "a");
        Future<Reply<Buffer>> inFlight = write(20_000);
        RouterTesting.await(() -> a.calls.get() == 1, 5000, () -> "call did not arrive");

        a.close(); // connections reset, then refused
        Future<Reply<Buffer>> afterDeath = write(20_000);
        RouterTesting.await(() -> !router.status().upstreams().get(0).reachable(), 5000, () -> "a still reachable");
        assertThat(router.status().leaderRegion()).isEmpty();
        b.epoch = 2;
        b.serving = true;
        Reply<Buffer> first = Calls.await(inFlight);
        Reply<Buffer> second = Calls.await(afterDeath);
        assertThat(first.status()).isEqualTo(GrpcStatus.OK);
        assertThat(first.header("x-ledger-region")).isEqualTo("b");
        assertThat(second.status()).isEqualTo(GrpcStatus.OK);
        assertThat(second.header("x-ledger-region")).isEqualTo("b");
        assertThat(router.status().counters().retries()).isPositive();
    }
}
