package io.paymentledger.router;

import io.paymentledger.router.support.RouterFixture;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.router.limits.MerchantResolver;
import io.paymentledger.router.support.Calls;
import io.paymentledger.router.support.Calls.Reply;
import io.paymentledger.router.support.FakeRegion;
import io.paymentledger.security.identity.Identities;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.grpc.common.GrpcStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The router vouches only for identities it verified: by default for nobody (a client's {@code x-merchant-id} never
 * reaches a node), and an API key gets its merchant's budget only once a node said whose key it is. The fake node
 * here plays the ledger node's part: it "verifies" exactly one key and says so in {@link Identities#CALLER_HEADER}.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class VerifiedApiKeysTest extends RouterFixture {

    static final String READ = "ledger.v1.LedgerService/LookupAccounts";
    static final String REAL_KEY = "lk_shop-1_0123456789abcdef_" + "A".repeat(43);
    /** Well formed, names the same merchant and key id, wrong secret: not the merchant's key. */
    static final String FORGED_KEY = "lk_shop-1_0123456789abcdef_" + "B".repeat(43);

    Future<Reply<Buffer>> call(Map<String, String> headers) {
        return Calls.rawAsync(client, via(), READ, List.of(Buffer.buffer()), headers, 15_000);
    }

    @Test
    void byDefaultTheRouterVouchesForNobody() {
        FakeRegion a = FakeRegion.start(vertx, "a", true, 1);
        router = RegionRouter.start(vertx, RouterConfig.builder().upstream("a", "127.0.0.1", a.port()).healthCheckIntervalMs(50).build());
        RouterTesting.awaitLeader(router, "a");
        assertThat(Calls.await(call(Map.of(MerchantResolver.HEADER, "shop-2"))).status()).isEqualTo(GrpcStatus.OK);
        assertThat(a.headersSeen.get(a.headersSeen.size() - 1).get(MerchantResolver.HEADER))
                .as("a client's own identity header is not forwarded").isNull();
    }

    @Test
    void unverifiedKeysShareOneSmallBudgetAndNeverSpendTheMerchants() {
        FakeRegion a = FakeRegion.start(vertx, "a", true, 1);
        List<Promise<Void>> held = new ArrayList<>();
        a.behavior = in -> {
            String auth = in.headers().get("authorization");
            in.last().onSuccess(m -> {
                if (("Bearer " + REAL_KEY).equals(auth)) {
                    in.response().headers().set(Identities.CALLER_HEADER, "shop-1");
                    in.response().end(Buffer.buffer());
                } else if (("Bearer " + FORGED_KEY).equals(auth)) {
                    // A slow "invalid key" answer: the forged calls stay in the router meanwhile.
                    Promise<Void> p = Promise.promise();
                    held.add(p);
                    p.future().onComplete(v -> in.response().status(GrpcStatus.UNAUTHENTICATED).statusMessage("API key not valid").end());
                } else {
                    in.response().end(Buffer.buffer());
                }
            });
        };
        router = RegionRouter.start(vertx, RouterConfig.builder().upstream("a", "127.0.0.1", a.port()).healthCheckIntervalMs(50)
                .merchantResolver(MerchantResolver.certificateOrApiKey("ledger.test"))
                .merchantConcurrentCalls(4).unverifiedConcurrentCalls(2).build());
        RouterTesting.awaitLeader(router, "a");

        // The real key, once: the node verifies it, the router learns it is shop-1's.
        assertThat(Calls.await(call(Map.of("authorization", "Bearer " + REAL_KEY))).status()).isEqualTo(GrpcStatus.OK);
        assertThat(a.headersSeen.get(a.headersSeen.size() - 1).get(MerchantResolver.HEADER))
                .as("an API key is the node's to check: the router vouches for no merchant").isNull();

        // Forged keys naming shop-1 fill the shared unverified budget, not shop-1's.
        Future<Reply<Buffer>> f1 = call(Map.of("authorization", "Bearer " + FORGED_KEY));
        Future<Reply<Buffer>> f2 = call(Map.of("authorization", "Bearer " + FORGED_KEY));
        RouterTesting.await(() -> router.status().merchantsInFlight().getOrDefault(MerchantResolver.UNVERIFIED, 0) == 2, 5000,
                () -> "forged calls not in flight: " + router.status().merchantsInFlight());
        Reply<Buffer> third = Calls.await(call(Map.of("authorization", "Bearer " + FORGED_KEY)));
        assertThat(third.status()).isEqualTo(GrpcStatus.RESOURCE_EXHAUSTED);
        assertThat(third.message()).contains("unverifiedConcurrentCalls");
        assertThat(router.status().merchantsInFlight()).doesNotContainKey("shop-1");
        // The real merchant keeps its own budget meanwhile.
        for (int i = 0; i < 3; i++) {
            assertThat(Calls.await(call(Map.of("authorization", "Bearer " + REAL_KEY))).status()).isEqualTo(GrpcStatus.OK);
        }
        vertx.runOnContext(v -> held.forEach(Promise::complete));
        assertThat(Calls.await(f1).status()).isEqualTo(GrpcStatus.UNAUTHENTICATED);
        assertThat(Calls.await(f2).status()).isEqualTo(GrpcStatus.UNAUTHENTICATED);
    }
}
