package io.paymentledger.router;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.LedgerServiceGrpcClient;
import io.paymentledger.api.v1.LookupAccountsRequest;
import io.paymentledger.api.v1.LookupAccountsResponse;
import io.paymentledger.api.v1.ReadConsistency;
import io.paymentledger.api.v1.ReadOptions;
import io.paymentledger.ledger.support.TestLedger;
import io.paymentledger.router.support.Calls;
import io.paymentledger.router.support.Calls.Reply;
import io.paymentledger.router.support.ClientHeader;
import io.paymentledger.router.support.TestRegion;
import io.vertx.core.Vertx;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.common.GrpcStatus;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Bounded-staleness reads and a standby's reported staleness (issue #20 item 2): the router sends such a read to a
 * standby only while the standby's last health check, aged by the time since, is within the read's bound. A
 * standby cut off from the leader (staleness growing past the bound) gets none: before, the router asked it every
 * time, it declined, and each read was retried on the leader.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class BoundedReadRoutingTest {

    static final int MAX_STALENESS_MS = 5_000;

    @Test
    void aStandbyStalerThanTheBoundGetsNoBoundedReads() throws Exception {
        try (TestRegion ra = TestRegion.start("a"); TestRegion rb = TestRegion.start("b")) {
            Vertx vertx = Vertx.vertx();
            GrpcClient client = TestLedger.newClient(vertx);
            // b is a standby at the current epoch (it led with epoch 1 once, as a standby of a would know it).
            rb.lead(1);
            rb.stepDown("standby of a");
            ra.lead(1);
            RegionRouter router = RegionRouter.start(vertx, RouterConfig.builder().merchantResolver(ClientHeader.resolver())
                    .upstream("a", "127.0.0.1", ra.port())
                    .upstream("b", "127.0.0.1", rb.port())
                    .healthCheckIntervalMs(100)
                    .build());
            try {
                SocketAddress via = SocketAddress.inetSocketAddress(router.port(), "127.0.0.1");
                RouterTesting.awaitLeader(router, "a");

                rb.control.standbyStalenessMs = 10;
                RouterTesting.await(() -> "b".equals(boundedRead(client, via).header("x-ledger-region")), 15_000,
                        () -> "a fresh standby never served a bounded read: " + router.status());

                // b is cut off: its staleness passes the bound. Once the router has seen that, bounded reads go
                // straight to the leader: one attempt, no retry, b not asked.
                rb.control.standbyStalenessMs = 60_000;
                RouterTesting.await(() -> {
                    RouterStatus.Counters before = router.status().counters();
                    Reply<LookupAccountsResponse> r = boundedRead(client, via);
                    RouterStatus.Counters after = router.status().counters();
                    return r.status() == GrpcStatus.OK && "a".equals(r.header("x-ledger-region"))
                            && after.attempts() - before.attempts() == 1 && after.retries() == before.retries();
                }, 15_000, () -> "bounded reads still went to the stale standby first: " + router.status().summary());
                long toStandby = router.status().counters().boundedReadsToStandby();
                for (int i = 0; i < 5; i++) {
                    RouterStatus.Counters before = router.status().counters();
                    Reply<LookupAccountsResponse> r = boundedRead(client, via);
                    assertThat(r.status()).isEqualTo(GrpcStatus.OK);
                    assertThat(r.header("x-ledger-region")).isEqualTo("a");
                    assertThat(router.status().counters().attempts() - before.attempts()).as("b was not asked").isEqualTo(1);
                }
                assertThat(router.status().counters().boundedReadsToStandby()).isEqualTo(toStandby);

                // The link heals: b gets bounded reads again.
                rb.control.standbyStalenessMs = 10;
                RouterTesting.await(() -> "b".equals(boundedRead(client, via).header("x-ledger-region")), 15_000,
                        () -> "the standby never got bounded reads back: " + router.status());
            } finally {
                router.close();
                vertx.close().await();
            }
        }
    }

    private static Reply<LookupAccountsResponse> boundedRead(GrpcClient client, SocketAddress via) {
        return Calls.call(client, via, LedgerServiceGrpcClient.LookupAccounts, LookupAccountsRequest.newBuilder()
                .addIds("bounded-read-routing").setRead(ReadOptions.newBuilder()
                        .setConsistency(ReadConsistency.READ_CONSISTENCY_BOUNDED_STALENESS).setMaxStalenessMs(MAX_STALENESS_MS))
                .build(), Map.of(), 10_000);
    }
}
