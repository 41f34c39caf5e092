package io.paymentledger.router;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.router.support.Calls;
import io.paymentledger.router.support.Calls.Reply;
import io.paymentledger.router.support.ClientHeader;
import io.paymentledger.router.support.FakeRegion;
import io.paymentledger.router.support.RouterFixture;
import io.paymentledger.router.support.StallingLink;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.grpc.common.GrpcStatus;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue #19: the link to the leader is cut silently (no reset, as a partition gives), b leads meanwhile, then — once the
 * link is back — a leads again (a partition's "restart: a leads again"). The calls of a merchant who retries with
 * the same id must not wait out their deadline on the router's connections to a, which a silent cut leaves stalled
 * (TCP backs their retransmissions off for tens of seconds): every call is answered OK, by the region leading then.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SilentLinkTest extends RouterFixture {

    static final String WRITE = "ledger.v1.LedgerService/CreateTransfers";
    /** A merchant's deadline. */
    static final long DEADLINE_MS = 5_000;

    Future<Reply<Buffer>> write() {
        return Calls.rawAsync(client, via(), WRITE, List.of(Buffer.buffer()), Map.of(), DEADLINE_MS);
    }

    @Test
    void aLeaderReachedAgainAfterASilentCutIsCalledOverFreshConnectionsAndNoCallWaitsOutItsDeadline() throws Exception {
        FakeRegion a = FakeRegion.start(vertx, "a", true, 1);
        FakeRegion b = FakeRegion.start(vertx, "b", false, 1);
        try (StallingLink toA = new StallingLink(a.port())) {
            router = RegionRouter.start(vertx, RouterConfig.builder().merchantResolver(ClientHeader.resolver())
                    .upstream("a", "127.0.0.1", toA.port()).upstream("b", "127.0.0.1", b.port())
                    .healthCheckIntervalMs(100).healthCheckTimeoutMs(300).build());
            RouterTesting.awaitLeader(router, "a");
            assertThat(Calls.await(write()).status()).as("through a, before the cut").isEqualTo(GrpcStatus.OK);

            // The cut, with a call in flight to a: a is silent; b takes over with epoch 2.
            a.behavior = in -> { }; // would never answer anyway: nothing reaches it
            toA.cut();
            Future<Reply<Buffer>> inFlight = write();
            Thread.sleep(300);
            a.serving = false;
            b.serving = true;
            b.epoch = 2;
            Reply<Buffer> duringCut = Calls.await(inFlight);
            assertThat(duringCut.status()).as("the call in flight when a went silent: " + duringCut.message()).isEqualTo(GrpcStatus.OK);
            assertThat(duringCut.header("x-ledger-region")).isEqualTo("b");

            // The link is back and a leads again (epoch 3); b no longer serves.
            Thread.sleep(2_000);
            a.behavior = FakeRegion::okEmpty;
            toA.heal();
            b.behavior = FakeRegion.fail(GrpcStatus.UNAVAILABLE, "not the leader: a leads again");
            b.serving = false;
            a.epoch = 3;
            a.serving = true;
            for (int i = 0; i < 3; i++) {
                Reply<Buffer> after = Calls.await(write());
                assertThat(after.status()).as("call %d after the cut: %s", i, after.message()).isEqualTo(GrpcStatus.OK);
                assertThat(after.header("x-ledger-region")).isEqualTo("a");
            }
        }
    }
}
