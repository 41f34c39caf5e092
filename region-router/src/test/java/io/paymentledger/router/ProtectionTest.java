package io.paymentledger.router;

import io.paymentledger.router.support.RouterFixture;

import io.paymentledger.router.support.ClientHeader;
import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.router.support.Calls;
import io.paymentledger.router.support.Calls.Reply;
import io.paymentledger.router.support.FakeRegion;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.grpc.common.GrpcStatus;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** What protects the regions and the merchants from each other. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ProtectionTest extends RouterFixture {

    static final String WRITE = "ledger.v1.LedgerService/CreateTransfers";
    static final String READ = "ledger.v1.LedgerService/LookupAccounts";

    Future<Reply<Buffer>> call(String method, String merchant) {
        return Calls.rawAsync(client, via(), method, List.of(Buffer.buffer()),
                merchant == null ? Map.of() : Map.of("x-merchant-id", merchant), 15_000);
    }

    @Test
    void consecutiveFailuresEjectTheUpstreamAndAProbeBringsItBack() {
        FakeRegion a = FakeRegion.start(vertx, "a", true, 1);
        AtomicInteger failures = new AtomicInteger(3);
        a.behavior = in -> {
            if (failures.getAndDecrement() > 0) {
                FakeRegion.fail(GrpcStatus.UNAVAILABLE, "database write failed (08006): connection lost").accept(in);
            } else {
                FakeRegion.okEmpty(in);
            }
        };
        router = RegionRouter.start(vertx, RouterConfig.builder().merchantResolver(ClientHeader.resolver()).upstream("a", "127.0.0.1", a.port())
                .healthCheckIntervalMs(50).outlierFailures(3).outlierEjectionMs(800).build());
        RouterTesting.awaitLeader(router, "a");

        // One idempotent write: three attempts fail, which ejects a; while ejected nothing is sent there (the call
        // waits, no panic routing); when the ejection ends one probe goes, succeeds, and closes the breaker.
        Future<Reply<Buffer>> write = call(WRITE, null);
        RouterTesting.await(() -> router.status().upstreams().get(0).ejected(), 5000, () -> "not ejected: " + router.status());
        RouterStatus.UpstreamStatus ua = router.status().upstreams().get(0);
        assertThat(ua.breaker()).isEqualTo("OPEN");
        assertThat(ua.ejections()).isEqualTo(1);
        assertThat(router.status().leaderUsable()).isFalse();
        assertThat(router.status().holdQueueDepth()).isEqualTo(1);
        assertThat(a.calls.get()).isEqualTo(3);
        assertThat(write.isComplete()).isFalse();

        Reply<Buffer> r = Calls.await(write);
        assertThat(r.status()).isEqualTo(GrpcStatus.OK);
        assertThat(a.calls.get()).isEqualTo(4);
        ua = router.status().upstreams().get(0);
        assertThat(ua.breaker()).isEqualTo("CLOSED");
        assertThat(ua.ejected()).isFalse();
        assertThat(ua.consecutiveCallFailures()).isZero();
    }

    @Test
    void aStreamThatProbesAnEjectedRegionDoesNotHoldEveryOtherCallForItsLifetime() {
        // Found by the drills' event subscriber: an event stream (open for minutes) took the half-open breaker's one
        // probe, so every write to the leader was held until the router's hold time and refused.
        FakeRegion a = FakeRegion.start(vertx, "a", true, 1);
        String stream = "ledger.v1.EventsService/SubscribeEvents";
        String notReplayed = "ledger.v1.EventsService/CreateWebhookEndpoint";
        java.util.concurrent.atomic.AtomicBoolean failing = new java.util.concurrent.atomic.AtomicBoolean(true);
        a.behavior = in -> {
            if (in.fullMethodName().equals(stream)) {
                // Headers now, then nothing: a stream that is caught up.
                in.handler(m -> ((io.vertx.grpc.common.impl.GrpcWriteStreamBase<?, ?>) in.response()).writeHead());
            } else if (failing.get()) {
                FakeRegion.fail(GrpcStatus.UNAVAILABLE, "database write failed (08006): connection lost").accept(in);
            } else {
                FakeRegion.okEmpty(in);
            }
        };
        router = RegionRouter.start(vertx, RouterConfig.builder().merchantResolver(ClientHeader.resolver()).upstream("a", "127.0.0.1", a.port())
                .healthCheckIntervalMs(50).outlierFailures(1).outlierEjectionMs(300).holdTimeMs(5_000).build());
        RouterTesting.awaitLeader(router, "a");

        // One failure (a call the router does not replay) ejects a for 300 ms; then the stream goes first: the probe.
        assertThat(Calls.await(call(notReplayed, null)).status()).isEqualTo(GrpcStatus.UNAVAILABLE);
        assertThat(router.status().upstreams().get(0).breaker()).isEqualTo("OPEN");
        failing.set(false);
        RouterTesting.await(() -> "HALF_OPEN".equals(router.status().upstreams().get(0).breaker()), 5000,
                () -> "the ejection did not end: " + router.status());
        Future<Reply<Buffer>> subscribed = call(stream, null);
        RouterTesting.await(() -> a.calls.get() == 2, 5000, () -> "the stream did not reach a: " + router.status());

        Reply<Buffer> write = Calls.await(call(WRITE, null));
        assertThat(write.status()).as(write.message()).isEqualTo(GrpcStatus.OK);
        assertThat(router.status().upstreams().get(0).breaker()).isEqualTo("CLOSED");
        assertThat(subscribed.isComplete()).as("the stream is still open").isFalse();
    }

    @Test
    void requestCausedErrorsDoNotEjectTheLeader() {
        FakeRegion a = FakeRegion.start(vertx, "a", true, 1);
        a.behavior = FakeRegion.fail(GrpcStatus.INTERNAL, "internal error");
        router = RegionRouter.start(vertx, RouterConfig.builder().merchantResolver(ClientHeader.resolver()).upstream("a", "127.0.0.1", a.port())
                .healthCheckIntervalMs(50).outlierFailures(2).build());
        RouterTesting.awaitLeader(router, "a");
        for (int i = 0; i < 5; i++) {
            Reply<Buffer> r = Calls.await(call(WRITE, "careless"));
            assertThat(r.status()).isEqualTo(GrpcStatus.INTERNAL);
            assertThat(r.message()).isEqualTo("internal error");
        }
        assertThat(router.status().upstreams().get(0).ejected()).isFalse();
        assertThat(router.status().leaderUsable()).isTrue();
    }

    @Test
    void aFailingStandbyIsEjectedAndBoundedReadsGoToTheLeaderInstead() {
        FakeRegion a = FakeRegion.start(vertx, "a", true, 1);
        FakeRegion b = FakeRegion.start(vertx, "b", false, 1);
        b.behavior = in -> in.connection().close(); // the standby drops every call
        router = RegionRouter.start(vertx, RouterConfig.builder().merchantResolver(ClientHeader.resolver()).upstream("a", "127.0.0.1", a.port())
                .upstream("b", "127.0.0.1", b.port()).healthCheckIntervalMs(50).outlierFailures(2)
                .outlierEjectionMs(60_000).outlierEjectionMaxMs(60_000).build());
        RouterTesting.awaitLeader(router, "a");
        RouterTesting.await(() -> router.status().upstreams().get(1).reachable(), 5000, () -> "b not checked");
        // LookupAccountsRequest{read: {consistency: BOUNDED_STALENESS, max_staleness_ms: 1000}}
        Buffer bounded = Buffer.buffer(new byte[] {0x12, 0x05, 0x08, 0x01, 0x10, (byte) 0xe8, 0x07});
        for (int i = 0; i < 2; i++) {
            Reply<Buffer> r = Calls.await(Calls.rawAsync(client, via(), READ, List.of(bounded), Map.of(), 10_000));
            assertThat(r.status()).as("retried on the leader").isEqualTo(GrpcStatus.OK);
            assertThat(r.header("x-ledger-region")).isEqualTo("a");
        }
        assertThat(b.calls.get()).isEqualTo(2);
        assertThat(router.status().upstreams().get(1).ejected()).isTrue();
        Reply<Buffer> r = Calls.await(Calls.rawAsync(client, via(), READ, List.of(bounded), Map.of(), 10_000));
        assertThat(r.status()).isEqualTo(GrpcStatus.OK);
        assertThat(r.header("x-ledger-region")).isEqualTo("a");
        assertThat(b.calls.get()).as("not tried while ejected").isEqualTo(2);
        assertThat(router.status().counters().boundedReadsToStandby()).isEqualTo(2);
    }

    @Test
    void oneMerchantAtItsLimitIsRefusedAtOnceWhileOthersGoOn() {
        FakeRegion a = FakeRegion.start(vertx, "a", true, 1);
        Promise<Void> release = Promise.promise();
        a.behavior = in -> {
            if ("greedy".equals(in.headers().get("x-merchant-id"))) {
                in.last().onSuccess(m -> release.future().onComplete(v -> in.response().end(Buffer.buffer())));
            } else {
                FakeRegion.okEmpty(in);
            }
        };
        router = RegionRouter.start(vertx, RouterConfig.builder().merchantResolver(ClientHeader.resolver()).upstream("a", "127.0.0.1", a.port())
                .healthCheckIntervalMs(50).merchantConcurrentCalls(2).build());
        RouterTesting.awaitLeader(router, "a");

        Future<Reply<Buffer>> g1 = call(WRITE, "greedy");
        Future<Reply<Buffer>> g2 = call(WRITE, "greedy");
        RouterTesting.await(() -> a.calls.get() == 2, 5000, () -> "greedy calls did not arrive");
        assertThat(router.status().merchantsInFlight()).containsEntry("greedy", 2);

        Reply<Buffer> refused = Calls.await(call(WRITE, "greedy"));
        assertThat(refused.status()).isEqualTo(GrpcStatus.RESOURCE_EXHAUSTED);
        assertThat(refused.message()).contains("merchant greedy already has 2 calls");
        assertThat(refused.header("retry-after-ms")).isNotBlank();

        for (int i = 0; i < 5; i++) {
            assertThat(Calls.await(call(READ, "polite")).status()).isEqualTo(GrpcStatus.OK);
            assertThat(Calls.await(call(WRITE, null)).status()).as("anonymous").isEqualTo(GrpcStatus.OK);
        }
        assertThat(g1.isComplete()).isFalse();
        assertThat(g2.isComplete()).isFalse();

        vertx.runOnContext(v -> release.complete());
        assertThat(Calls.await(g1).status()).isEqualTo(GrpcStatus.OK);
        assertThat(Calls.await(g2).status()).isEqualTo(GrpcStatus.OK);
        RouterTesting.await(() -> router.status().merchantsInFlight().isEmpty(), 5000, () -> "permits leaked");
        assertThat(Calls.await(call(WRITE, "greedy")).status()).isEqualTo(GrpcStatus.OK);
        assertThat(router.status().counters().rejectedMerchantLimit()).isEqualTo(1);
    }

    @Test
    void theUpstreamInFlightCapShedsLoadWithResourceExhausted() {
        FakeRegion a = FakeRegion.start(vertx, "a", true, 1);
        Promise<Void> release = Promise.promise();
        a.behavior = in -> in.last().onSuccess(m -> release.future().onComplete(v -> in.response().end(Buffer.buffer())));
        router = RegionRouter.start(vertx, RouterConfig.builder().merchantResolver(ClientHeader.resolver()).upstream("a", "127.0.0.1", a.port())
                .healthCheckIntervalMs(50).upstreamInFlightCalls(2).build());
        RouterTesting.awaitLeader(router, "a");
        Future<Reply<Buffer>> c1 = call(WRITE, "m1");
        Future<Reply<Buffer>> c2 = call(WRITE, "m2");
        RouterTesting.await(() -> a.calls.get() == 2, 5000, () -> "calls did not arrive");
        Reply<Buffer> shed = Calls.await(call(WRITE, "m3"));
        assertThat(shed.status()).isEqualTo(GrpcStatus.RESOURCE_EXHAUSTED);
        assertThat(shed.message()).contains("region a already has 2 calls in flight");
        vertx.runOnContext(v -> release.complete());
        assertThat(Calls.await(c1).status()).isEqualTo(GrpcStatus.OK);
        assertThat(Calls.await(c2).status()).isEqualTo(GrpcStatus.OK);
        assertThat(router.status().upstreams().get(0).inFlight()).isZero();
    }
}
