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
            // The webhook methods go the same way (this test node has no sealing key: its answer comes back whole).
            Reply<io.paymentledger.api.v1.CreateWebhookEndpointResponse> hook = Calls.call(client, via,
                    EventsServiceGrpcClient.CreateWebhookEndpoint, io.paymentledger.api.v1.CreateWebhookEndpointRequest.newBuilder()
                            .setUrl("https://example.com/hook").build(), Map.of(), 10_000);
            assertThat(hook.status()).isEqualTo(GrpcStatus.FAILED_PRECONDITION);
            assertThat(hook.message()).contains("no webhook sealing key");

            // A consumer whose process goes away (its connection closes): the router ends the call to the region too.
            io.vertx.core.Vertx gone = io.vertx.core.Vertx.vertx();
            io.vertx.grpc.client.GrpcClient goneClient = TestLedger.newClient(gone);
            LinkedBlockingQueue<Event> first = new LinkedBlockingQueue<>();
            subscribe(goneClient, via, page.body().getNextCursor(), first, new CompletableFuture<>());
            String id = "ev-t-" + System.nanoTime();
            assertThat(Calls.call(client, via, LedgerServiceGrpcClient.CreateTransfers, CreateTransfersRequest.newBuilder()
                    .addTransfers(transfer(id, x, y, 3, "EUR")).build(), Map.of(), 10_000).status()).isEqualTo(GrpcStatus.OK);
            Event e = first.poll(20, TimeUnit.SECONDS);
            assertThat(e).isNotNull();
            assertThat(e.getTransfer().getId()).isEqualTo(id);
            assertThat(ra.node.eventStreams().open()).isEqualTo(1);
            goneClient.close().await();
            gone.close().await();
            RouterTesting.await(() -> ra.node.eventStreams().open() == 0, 20_000,
                    () -> "the region still streams to a consumer that went away");

            LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();
            CompletableFuture<GrpcStatus> ended = new CompletableFuture<>();
            subscribe(client, via, e.getCursor(), events, ended);
            String id2 = "ev-t-" + System.nanoTime();
            assertThat(Calls.call(client, via, LedgerServiceGrpcClient.CreateTransfers, CreateTransfersRequest.newBuilder()
                    .addTransfers(transfer(id2, x, y, 3, "EUR")).build(), Map.of(), 10_000).status()).isEqualTo(GrpcStatus.OK);
            Event e2 = events.poll(20, TimeUnit.SECONDS);
            assertThat(e2).isNotNull();
            assertThat(e2.getTransfer().getId()).as("resumed after the cursor it had: nothing repeated").isEqualTo(id2);

            ra.stepDown("test: region a stops leading");
            assertThat(ended.get(20, TimeUnit.SECONDS)).isEqualTo(GrpcStatus.UNAVAILABLE);
            assertThat(events).isEmpty();
        }
    }

    /**
     * Not awaited: the router sends a stream's headers with its first message (until then it may still retry it
     * elsewhere), and the first message is a transfer the test writes afterwards.
     */
    private static void subscribe(io.vertx.grpc.client.GrpcClient c, SocketAddress via, String after, LinkedBlockingQueue<Event> events,
            CompletableFuture<GrpcStatus> ended) {
        c.request(via, EventsServiceGrpcClient.SubscribeEvents).compose(req -> {
            req.end(SubscribeEventsRequest.newBuilder().setAfterCursor(after).build());
            return req.response().map(resp -> {
                resp.handler(events::add);
                resp.endHandler(v -> ended.complete(resp.status()));
                resp.exceptionHandler(err -> ended.complete(GrpcStatus.CANCELLED));
                return resp;
            });
        });
    }
}
