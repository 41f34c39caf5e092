package io.paymentledger.ledger;

import static io.paymentledger.ledger.support.Fixtures.account;
import static io.paymentledger.ledger.support.Fixtures.id;
import static io.paymentledger.ledger.support.Fixtures.pending;
import static io.paymentledger.ledger.support.Fixtures.post;
import static io.paymentledger.ledger.support.Fixtures.transfer;
import static io.paymentledger.ledger.support.Fixtures.voidOf;
import static io.paymentledger.ledger.support.Fixtures.wallet;
import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.Account;
import io.paymentledger.api.v1.AuthorizeRequest;
import io.paymentledger.api.v1.CaptureRequest;
import io.paymentledger.api.v1.CreateAccountStatus;
import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateTransferStatus;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.Event;
import io.paymentledger.api.v1.EventFilter;
import io.paymentledger.api.v1.EventType;
import io.paymentledger.api.v1.EventsServiceGrpcClient;
import io.paymentledger.api.v1.LedgerServiceGrpcClient;
import io.paymentledger.api.v1.ListEventsRequest;
import io.paymentledger.api.v1.ListEventsResponse;
import io.paymentledger.api.v1.PaymentResult;
import io.paymentledger.api.v1.PaymentsServiceGrpcClient;
import io.paymentledger.api.v1.RefundRequest;
import io.paymentledger.api.v1.SubscribeEventsRequest;
import io.paymentledger.api.v1.Transfer;
import io.paymentledger.api.v1.VoidRequest;
import io.paymentledger.ledger.support.LedgerAssertions;
import io.paymentledger.ledger.support.TestLedger;
import io.paymentledger.ledger.transfer.TransferSpec;
import io.paymentledger.ledger.transfer.TransferStatus;
import io.paymentledger.ledger.write.TransferResult;
import io.paymentledger.ledger.write.WriteCommand;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.common.GrpcStatus;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The event stream on a real PostgreSQL (issue #21, docs/decisions/0006-events.md): read from the journal in commit
 * order, never ahead of what is acknowledged, every acknowledged change once, nothing refused, nothing of another
 * merchant; streams resume from a cursor, also on a new leader.
 */
class EventsTest {

    static final String M1 = "shop-1";
    static final String M2 = "shop-2";

    private static TestLedger t;

    @BeforeAll
    static void start() {
        t = TestLedger.startWithMerchants();
    }

    @AfterAll
    static void stop() throws Exception {
        if (t != null) {
            try (Connection c = t.sql()) {
                LedgerAssertions.assertConsistent(c);
            } finally {
                t.close();
            }
        }
    }

    // ------------------------------------------------------------------ helpers

    static Account owned(String id, String owner) {
        return wallet(id, "EUR").toBuilder().setOwner(owner).build();
    }

    private static void createAccounts(String merchant, Account... accounts) {
        assertThat(t.as(merchant, LedgerServiceGrpcClient.CreateAccounts, CreateAccountsRequest.newBuilder()
                .addAllAccounts(List.of(accounts)).build()).body().getResultsList())
                .allMatch(r -> r.getStatus() == CreateAccountStatus.CREATE_ACCOUNT_CREATED);
    }

    private static CreateTransferStatus transferAs(String merchant, Transfer tr) {
        return t.as(merchant, LedgerServiceGrpcClient.CreateTransfers, CreateTransfersRequest.newBuilder().addTransfers(tr).build())
                .body().getResults(0).getStatus();
    }

    private static ListEventsResponse list(String merchant, String after, EventFilter filter, int limit) {
        TestLedger.Answer<ListEventsResponse> a = t.as(merchant, EventsServiceGrpcClient.ListEvents, ListEventsRequest.newBuilder()
                .setAfterCursor(after).setFilter(filter).setLimit(limit).build());
        assertThat(a.status()).as(a.message()).isEqualTo(GrpcStatus.OK);
        return a.body();
    }

    /** Every event from {@code after} up to what is acknowledged now, paging with {@code limit}. */
    private static List<Event> all(String merchant, String after, EventFilter filter, int limit) {
        List<Event> out = new ArrayList<>();
        String cursor = after;
        while (true) {
            ListEventsResponse page = list(merchant, cursor, filter, limit);
            out.addAll(page.getEventsList());
            if (page.getNextCursor().equals(cursor)) {
                return out;
            }
            cursor = page.getNextCursor();
        }
    }

    /** The cursor of "now": after everything acknowledged so far. */
    private static String now() {
        String cursor = "";
        while (true) {
            String next = list(null, cursor, EventFilter.getDefaultInstance(), 1000).getNextCursor();
            if (next.equals(cursor)) {
                return cursor;
            }
            cursor = next;
        }
    }

    private static CompletableFuture<List<TransferResult>> submit(String id, String from, String to, long amount) {
        CompletableFuture<List<TransferResult>> done = new CompletableFuture<>();
        t.node.writer().submit(new WriteCommand.CreateTransfers(Caller.OPERATOR, List.of(new TransferSpec(id, from, to, amount, "EUR", 1, 0,
                "", 0, Map.of(), null)), new TransferStatus[1], 0, done));
        return done;
    }

    private static long count(String sql) throws Exception {
        try (Connection c = t.sql()) {
            return LedgerAssertions.count(c, sql);
        }
    }

    private static void await(String what, java.util.function.BooleanSupplier condition) throws Exception {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > until) {
                throw new AssertionError("never happened: " + what);
            }
            Thread.sleep(20);
        }
    }

    private static List<String> transferIds(List<Event> events) {
        return events.stream().filter(Event::hasTransfer).map(e -> e.getTransfer().getId()).toList();
    }

    /** A stream as merchant (null: operator): events as they arrive, and how it ended. */
    record Stream(LinkedBlockingQueue<Event> events, CompletableFuture<GrpcStatus> ended, io.vertx.grpc.client.GrpcClientResponse<?, Event> response) {
        Event next() throws InterruptedException {
            Event e = events.poll(20, TimeUnit.SECONDS);
            assertThat(e).as("an event within 20 s").isNotNull();
            return e;
        }
    }

    private static Stream subscribe(SocketAddress at, String merchant, SubscribeEventsRequest request) {
        LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();
        CompletableFuture<GrpcStatus> ended = new CompletableFuture<>();
        var response = t.grpc.request(at, EventsServiceGrpcClient.SubscribeEvents).compose(req -> {
            if (merchant != null) {
                req.headers().set(TestLedger.TEST_MERCHANT_HEADER, merchant);
            }
            req.end(request);
            return req.response();
        }).await();
        response.handler(events::add);
        response.endHandler(v -> ended.complete(response.status()));
        response.exceptionHandler(e -> ended.complete(GrpcStatus.CANCELLED));
        return new Stream(events, ended, response);
    }

    // ------------------------------------------------------------------ the source: commit order, never ahead

    @Test
    void withTwoCommitLanesCursorOrderIsCommitOrderAndNothingShowsBeforeItsCommitReturns() throws Exception {
        String a = id("ea"), b = id("eb");
        createAccounts(null, account(a, "EUR"), account(b, "EUR"));
        String start = now();
        String first = id("first"), second = id("second");
        CompletableFuture<List<TransferResult>> one;
        CompletableFuture<List<TransferResult>> two;
        try (Connection blocker = t.sql()) {
            // Holding the leadership row: batch N's commit waits on its epoch check, as on a slow synchronous standby.
            blocker.setAutoCommit(false);
            try (Statement st = blocker.createStatement()) {
                st.execute("select epoch from leadership for update");
            }
            one = submit(first, a, b, 5);
            await("batch N waits in its commit", () -> uncheckedCount("select count(*) from pg_stat_activity where application_name"
                    + " = 'ledger-writer-a' and wait_event_type = 'Lock'") == 1);
            two = submit(second, a, b, 7);
            // N+1's rows go in on the other lane while N waits: two writer transactions that wrote something.
            await("batch N+1's rows written meanwhile", () -> uncheckedCount("select count(*) from pg_stat_activity where"
                    + " application_name = 'ledger-writer-a' and backend_xid is not null") == 2);
            assertThat(transferIds(all(null, start, EventFilter.getDefaultInstance(), 100))).as("nothing before its commit").isEmpty();
            blocker.rollback();
        }
        long tsOne = one.get(20, TimeUnit.SECONDS).get(0).timestampNs();
        long tsTwo = two.get(20, TimeUnit.SECONDS).get(0).timestampNs();
        List<Event> events = all(null, start, EventFilter.getDefaultInstance(), 1);
        assertThat(transferIds(events)).containsExactly(first, second);
        assertThat(count("select batch_seq from transfer where id = '" + second + "'"))
                .as("two batches, committed one after the other").isEqualTo(count("select batch_seq from transfer where id = '" + first + "'") + 1);
        assertThat(events.get(0).getTimestampNs()).isEqualTo(tsOne);
        assertThat(events.get(1).getTimestampNs()).isEqualTo(tsTwo);
        // Resuming after the first event's cursor gives exactly the second.
        assertThat(transferIds(all(null, events.get(0).getCursor(), EventFilter.getDefaultInstance(), 10))).containsExactly(second);
    }

    private static long uncheckedCount(String sql) {
        try {
            return count(sql);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aCommitWhoseQuorumWaitWasCancelledIsNotShownUntilALaterBatchIsAcknowledged() throws Exception {
        String a = id("qa"), b = id("qb");
        createAccounts(null, account(a, "EUR"), account(b, "EUR"));
        String start = now();
        try (Connection admin = t.sql(); Statement st = admin.createStatement()) {
            st.execute("alter system set synchronous_standby_names = 'nobody'");
            st.execute("select pg_reload_conf()");
        }
        String cancelled = null;
        CompletableFuture<List<TransferResult>> write = null;
        try {
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            // The reload takes effect when the checkpointer reads it: until then a commit does not wait.
            while (System.nanoTime() < until) {
                cancelled = id("cancelled");
                write = submit(cancelled, a, b, 5);
                if (awaitSyncRepWait(2_000)) {
                    break;
                }
                write.get(10, TimeUnit.SECONDS);
            }
            assertThat(count("select count(*) from pg_stat_activity where application_name = 'ledger-writer-a' and wait_event = 'SyncRep'"))
                    .isEqualTo(1);
            try (Connection admin = t.sql(); Statement st = admin.createStatement()) {
                st.execute("select pg_cancel_backend(pid) from pg_stat_activity where application_name = 'ledger-writer-a'"
                        + " and wait_event = 'SyncRep'");
            }
            CompletableFuture<List<TransferResult>> w = write;
            await("the cancelled commit is answered", w::isDone);
            assertThat(w).isCompletedExceptionally();
        } finally {
            try (Connection admin = t.sql(); Statement st = admin.createStatement()) {
                st.execute("alter system reset synchronous_standby_names");
                st.execute("select pg_reload_conf()");
            }
        }
        // Committed here (PostgreSQL's WARNING), not confirmed by a second site: in the table, not in the stream.
        assertThat(count("select count(*) from transfer where id = '" + cancelled + "'")).isEqualTo(1);
        assertThat(transferIds(all(null, start, EventFilter.getDefaultInstance(), 100))).doesNotContain(cancelled);
        // A later acknowledged batch confirms everything before it in the WAL: now it shows, once, in order.
        String later = id("later");
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        TransferResult r = null;
        while (r == null && System.nanoTime() < until) {
            try {
                r = submit(later, a, b, 1).get(20, TimeUnit.SECONDS).get(0);
            } catch (java.util.concurrent.ExecutionException e) {
                Thread.sleep(100); // the writer rebuilds its state after the failed commit
            }
        }
        assertThat(r).isNotNull();
        List<String> shown = transferIds(all(null, start, EventFilter.getDefaultInstance(), 100));
        assertThat(shown.stream().filter(id -> id.startsWith("cancelled-")).toList()).containsExactly(cancelled);
        assertThat(shown.getLast()).isEqualTo(later);
        assertThat(shown.indexOf(cancelled)).isLessThan(shown.indexOf(later));
    }

    private static boolean awaitSyncRepWait(long ms) throws Exception {
        long until = System.nanoTime() + ms * 1_000_000;
        while (System.nanoTime() < until) {
            if (count("select count(*) from pg_stat_activity where application_name = 'ledger-writer-a' and wait_event = 'SyncRep'") == 1) {
                return true;
            }
            Thread.sleep(20);
        }
        return false;
    }
}
