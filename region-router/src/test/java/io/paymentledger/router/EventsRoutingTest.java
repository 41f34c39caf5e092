package io.paymentledger.router;

import static io.paymentledger.ledger.support.Fixtures.account;
import static io.paymentledger.ledger.support.Fixtures.transfer;
import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.Event;
import io.paymentledger.api.v1.EventsServiceGrpcClient;
import io.paymentledger.api.v1.LedgerServiceGrpcClient;
import io.paymentledger.api.v1.ListEventsRequest;
import io.paymentledger.api.v1.ListEventsResponse;
import io.paymentledger.api.v1.SubscribeEventsRequest;
import io.paymentledger.router.support.Calls;
import io.paymentledger.router.support.Calls.Reply;
import io.paymentledger.router.support.ClientHeader;
import io.paymentledger.router.support.RouterFixture;
import io.paymentledger.router.support.TestRegion;
import io.paymentledger.ledger.support.TestLedger;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.common.GrpcStatus;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The event stream through the router (issue #21): pages and streams reach the leader, errors keep their status and
 * EventsError code, and a stream whose region stops leading ends UNAVAILABLE, for the client to resume from its cursor.
 */
class EventsRoutingTest extends RouterFixture {

    @Test
    void pagesAndStreamsCrossTheRouterAndAStreamEndsRetryableWhenItsRegionStopsLeading() throws Exception {
        try (TestRegion ra = TestRegion.start("a")) {
            ra.lead(1);
            router = RegionRouter.start(vertx, RouterConfig.builder().merchantResolver(ClientHeader.resolver())
                    .upstream("a", "127.0.0.1", ra.port()).healthCheckIntervalMs(100).build());
            RouterTesting.awaitLeader(router, "a");
            SocketAddress via = via();
            String x = "ev-x-" + System.nanoTime(), y = "ev-y-" + System.nanoTime();
            assertThat(Calls.call(client, via, LedgerServiceGrpcClient.CreateAccounts, CreateAccountsRequest.newBuilder()
                    .addAccounts(account(x, "EUR")).addAccounts(account(y, "EUR")).build(), Map.of(), 10_000).status()).isEqualTo(GrpcStatus.OK);

            Reply<ListEventsResponse> page = Calls.call(client, via, EventsServiceGrpcClient.ListEvents, ListEventsRequest.getDefaultInstance(),
                    Map.of(), 10_000);
            assertThat(page.status()).isEqualTo(GrpcStatus.OK);
            assertThat(page.body().getEventsList()).extracting(e -> e.getAccount().getId()).containsExactly(x, y);
            Reply<ListEventsResponse> bad = Calls.call(client, via, EventsServiceGrpcClient.ListEvents,
                    ListEventsRequest.newBuilder().setAfterCursor("nonsense").build(), Map.of(), 10_000);
            assertThat(bad.status()).isEqualTo(GrpcStatus.INVALID_ARGUMENT);
            assertThat(bad.message()).startsWith("EVENTS_ERROR_INVALID_CURSOR: ");

            LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();
            CompletableFuture<GrpcStatus> ended = new CompletableFuture<>();
            // Not awaited: the router sends a stream's headers with its first message (until then it may still retry it
            // elsewhere), and the first message is the transfer written below.
            client.request(via, EventsServiceGrpcClient.SubscribeEvents).compose(req -> {
                req.end(SubscribeEventsRequest.newBuilder().setAfterCursor(page.body().getNextCursor()).build());
                return req.response().map(resp -> {
                    resp.handler(events::add);
                    resp.endHandler(v -> ended.complete(resp.status()));
                    resp.exceptionHandler(e -> ended.complete(GrpcStatus.CANCELLED));
                    return resp;
                });
            });
            String id = "ev-t-" + System.nanoTime();
            assertThat(Calls.call(client, via, LedgerServiceGrpcClient.CreateTransfers, CreateTransfersRequest.newBuilder()
                    .addTransfers(transfer(id, x, y, 3, "EUR")).build(), Map.of(), 10_000).status()).isEqualTo(GrpcStatus.OK);
            Event e = events.poll(20, TimeUnit.SECONDS);
            assertThat(e).isNotNull();
            assertThat(e.getTransfer().getId()).isEqualTo(id);

            ra.stepDown("test: region a stops leading");
            assertThat(ended.get(20, TimeUnit.SECONDS)).isEqualTo(GrpcStatus.UNAVAILABLE);
            assertThat(events).isEmpty();
        }
    }
}
