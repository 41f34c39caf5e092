package io.paymentledger.ledger;

import static io.paymentledger.ledger.support.Fixtures.account;
import static io.paymentledger.ledger.support.Fixtures.id;
import static io.paymentledger.ledger.support.Fixtures.transfer;
import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateTransferStatus;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.Event;
import io.paymentledger.api.v1.EventFilter;
import io.paymentledger.api.v1.EventType;
import io.paymentledger.api.v1.EventsServiceGrpcClient;
import io.paymentledger.api.v1.LedgerServiceGrpcClient;
import io.paymentledger.api.v1.SubscribeEventsRequest;
import io.paymentledger.ledger.grpc.CallerResolver;
import io.paymentledger.ledger.node.LedgerNode;
import io.paymentledger.ledger.node.StandaloneControl;
import io.paymentledger.ledger.support.TestLedger;
import io.paymentledger.ledger.write.BatchWriter;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.common.GrpcStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A subscriber resumes on a new leader from the last cursor it received, with nothing lost and nothing repeated
 * (issue #21): node a leads, steps down (its streams end UNAVAILABLE), node b takes over the same database with a
 * higher epoch (a new term: its event horizon starts from the journal head it confirms), and the stream resumed at b
 * from a's cursor gets what a acknowledged but never delivered, then b's own writes.
 */
class EventsFailoverTest {

    record Stream(LinkedBlockingQueue<Event> events, CompletableFuture<GrpcStatus> ended) {
        Event next() throws InterruptedException {
            Event e = events.poll(20, TimeUnit.SECONDS);
            assertThat(e).as("an event within 20 s").isNotNull();
            return e;
        }
    }

    static Stream subscribe(GrpcClient grpc, SocketAddress at, SubscribeEventsRequest request) {
        LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();
        CompletableFuture<GrpcStatus> ended = new CompletableFuture<>();
        return grpc.request(at, EventsServiceGrpcClient.SubscribeEvents).compose(req -> {
            req.end(request);
            return req.response().map(response -> {
                response.handler(events::add);
                response.endHandler(v -> ended.complete(response.status()));
                response.exceptionHandler(e -> ended.complete(GrpcStatus.CANCELLED));
                return new Stream(events, ended);
            });
        }).await();
    }

    static void pay(LedgerServiceGrpcClient client, String id, String from, String to) {
        assertThat(client.createTransfers(CreateTransfersRequest.newBuilder().addTransfers(transfer(id, from, to, 1, "EUR")).build())
                .await().getResults(0).getStatus()).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
    }

    @Test
    void aStreamResumedOnTheNewLeaderFromItsLastCursorLosesAndRepeatsNothing() throws Exception {
        try (TestLedger a = TestLedger.start()) {
            String x = id("fx"), y = id("fy");
            a.ledger.createAccounts(CreateAccountsRequest.newBuilder().addAccounts(account(x, "EUR")).addAccounts(account(y, "EUR"))
                    .build()).await();
            EventFilter transfers = EventFilter.newBuilder().addTypes(EventType.EVENT_TYPE_TRANSFER_POSTED).build();
            Stream onA = subscribe(a.grpc, a.address, SubscribeEventsRequest.newBuilder().setFilter(transfers).build());
            List<String> written = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                String t = id("on-a");
                pay(a.ledger, t, x, y);
                written.add(t);
            }
            // The consumer took the first event only (then its connection dropped, say): that cursor is all it keeps.
            Event last = onA.next();
            assertThat(last.getTransfer().getId()).isEqualTo(written.get(0));

            a.node.writer().stepDown("test: leadership moves to b");
            assertThat(onA.ended().get(20, TimeUnit.SECONDS)).as("a stream on a node that no longer leads ends, retryable")
                    .isEqualTo(GrpcStatus.UNAVAILABLE);

            try (LedgerNode b = LedgerNode.start(new LedgerNode.Config("b", new HttpServerOptions().setHost("127.0.0.1").setPort(0),
                    TestLedger.database(a.postgres), 4, BatchWriter.Config.defaults()), new StandaloneControl(), CallerResolver.TRUST_ALL_AS_OPERATOR)) {
                SocketAddress bAddress = SocketAddress.inetSocketAddress(b.grpcPort(), "127.0.0.1");
                LedgerServiceGrpcClient bLedger = LedgerServiceGrpcClient.create(a.grpc, bAddress);
                for (int i = 0; i < 2; i++) {
                    String t = id("on-b");
                    pay(bLedger, t, x, y);
                    written.add(t);
                }
                Stream onB = subscribe(a.grpc, bAddress, SubscribeEventsRequest.newBuilder().setAfterCursor(last.getCursor())
                        .setFilter(transfers).build());
                List<Event> resumed = new ArrayList<>();
                for (int i = 1; i < written.size(); i++) {
                    resumed.add(onB.next());
                }
                assertThat(resumed.stream().map(e -> e.getTransfer().getId()).toList()).containsExactlyElementsOf(written.subList(1, written.size()));
                // Ids and cursors do not depend on the node that serves them.
                assertThat(resumed).allMatch(e -> e.getCell().equals(last.getCell()));
                String afterB = id("after");
                pay(bLedger, afterB, x, y);
                assertThat(onB.next().getTransfer().getId()).isEqualTo(afterB);
                assertThat(onB.events()).isEmpty();
            }
        }
    }
}
