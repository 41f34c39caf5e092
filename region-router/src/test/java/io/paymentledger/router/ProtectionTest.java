package io.paymentledger.router;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.ledger.support.TestLedger;
import io.paymentledger.router.support.Calls;
import io.paymentledger.router.support.Calls.Reply;
import io.paymentledger.router.support.FakeRegion;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.common.GrpcStatus;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** What protects the regions and the merchants from each other. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ProtectionTest {

    static final String WRITE = "ledger.v1.LedgerService/CreateTransfers";
    static final String READ = "ledger.v1.LedgerService/LookupAccounts";

    Vertx vertx;
    GrpcClient client;
    RegionRouter router;

    @BeforeEach
    void start() {
        vertx = Vertx.vertx();
        client = TestLedger.newClient(vertx);
    }

    @AfterEach
    void stop() {
        if (router != null) {
            router.close();
        }
        vertx.close().await();
    }

    SocketAddress via() {
        return SocketAddress.inetSocketAddress(router.port(), "127.0.0.1");
    }

    Future<Reply<Buffer>> call(String method, String merchant) {
        return Calls.rawAsync(client, via(), method, List.of(Buffer.buffer()),
                merchant == null ? Map.of() : Map.of("x-merchant-id", merchant), 15_000);
    }

    @Test
    void consecutiveFailuresEjectTheUpstreamAndAProbeBringsItBack() {
        FakeRegion a = FakeRegion.start(vertx, "a", true, 1);
        a.behavior = FakeRegion.fail(GrpcStatus.INTERNAL, "disk on fire");
        router = RegionRouter.start(vertx, RouterConfig.builder().upstream("a", "127.0.0.1", a.port())
                .healthCheckIntervalMs(50).outlierFailures(3).outlierEjectionMs(600).build());
        RouterTesting.awaitLeader(router, "a");

        for (int i = 0; i < 3; i++) {
            Reply<Buffer> r = Calls.await(call(WRITE, null));
            assertThat(r.status()).isEqualTo(GrpcStatus.INTERNAL);
            assertThat(r.message()).isEqualTo("disk on fire");
        }
        RouterStatus.UpstreamStatus ua = router.status().upstreams().get(0);
        assertThat(ua.ejected()).isTrue();
        assertThat(ua.breaker()).isEqualTo("OPEN");
        assertThat(ua.ejections()).isEqualTo(1);
        assertThat(router.status().leaderUsable()).isFalse();

        // While ejected nothing is sent there (no panic routing): the call waits; after the ejection, one probe goes.
        a.behavior = FakeRegion::okEmpty;
        Future<Reply<Buffer>> waiting = call(WRITE, null);
        RouterTesting.await(() -> router.status().holdQueueDepth() == 1, 5000, () -> "not held: " + router.status());
        assertThat(a.calls.get()).isEqualTo(3);
        Reply<Buffer> r = Calls.await(waiting);
        assertThat(r.status()).isEqualTo(GrpcStatus.OK);
        assertThat(a.calls.get()).isEqualTo(4);
        ua = router.status().upstreams().get(0);
        assertThat(ua.breaker()).isEqualTo("CLOSED");
        assertThat(ua.ejected()).isFalse();
        assertThat(ua.consecutiveCallFailures()).isZero();
    }

    @Test
    void aFailingStandbyIsEjectedAndBoundedReadsGoToTheLeaderInstead() {
        FakeRegion a = FakeRegion.start(vertx, "a", true, 1);
        FakeRegion b = FakeRegion.start(vertx, "b", false, 1);
        b.behavior = FakeRegion.fail(GrpcStatus.UNKNOWN, "standby broken");
        router = RegionRouter.start(vertx, RouterConfig.builder().upstream("a", "127.0.0.1", a.port())
                .upstream("b", "127.0.0.1", b.port()).healthCheckIntervalMs(50).outlierFailures(2)
                .outlierEjectionMs(60_000).outlierEjectionMaxMs(60_000).build());
        RouterTesting.awaitLeader(router, "a");
        // LookupAccountsRequest{read: {consistency: BOUNDED_STALENESS, max_staleness_ms: 1000}}
        Buffer bounded = Buffer.buffer(new byte[] {0x12, 0x05, 0x08, 0x01, 0x10, (byte) 0xe8, 0x07});
        for (int i = 0; i < 2; i++) {
            Reply<Buffer> r = Calls.await(Calls.rawAsync(client, via(), READ, List.of(bounded), Map.of(), 10_000));
            assertThat(r.status()).isEqualTo(GrpcStatus.UNKNOWN);
            assertThat(r.header("x-ledger-region")).isEqualTo("b");
        }
        Reply<Buffer> r = Calls.await(Calls.rawAsync(client, via(), READ, List.of(bounded), Map.of(), 10_000));
        assertThat(r.status()).isEqualTo(GrpcStatus.OK);
        assertThat(r.header("x-ledger-region")).isEqualTo("a");
        assertThat(router.status().upstreams().get(1).ejected()).isTrue();
        assertThat(b.calls.get()).isEqualTo(2);
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
        router = RegionRouter.start(vertx, RouterConfig.builder().upstream("a", "127.0.0.1", a.port())
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
        router = RegionRouter.start(vertx, RouterConfig.builder().upstream("a", "127.0.0.1", a.port())
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
