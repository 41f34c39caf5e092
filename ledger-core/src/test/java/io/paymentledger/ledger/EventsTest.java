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
    record Stream(LinkedBlockingQueue<Event> events, CompletableFuture<GrpcStatus> ended, io.vertx.grpc.client.GrpcClientRequest<?, Event> request,
            io.vertx.grpc.client.GrpcClientResponse<?, Event> response) {
        void cancel() {
            request.cancel();
        }

        Event next() throws InterruptedException {
            Event e = events.poll(20, TimeUnit.SECONDS);
            assertThat(e).as("an event within 20 s").isNotNull();
            return e;
        }
    }

    private static Stream subscribe(SocketAddress at, String merchant, SubscribeEventsRequest request) {
        LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();
        CompletableFuture<GrpcStatus> ended = new CompletableFuture<>();
        return t.grpc.request(at, EventsServiceGrpcClient.SubscribeEvents).compose(req -> {
            if (merchant != null) {
                req.headers().set(TestLedger.TEST_MERCHANT_HEADER, merchant);
            }
            req.end(request);
            // Handlers set as the response arrives, on its event loop: nothing it delivers can come before them.
            return req.response().map(response -> {
                response.handler(events::add);
                response.endHandler(v -> ended.complete(response.status()));
                response.exceptionHandler(e -> ended.complete(GrpcStatus.CANCELLED));
                return new Stream(events, ended, req, response);
            });
        }).await();
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
        String c = cancelled;
        assertThat(shown.stream().filter(id -> id.equals(c)).toList()).as("once").hasSize(1);
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

    // ------------------------------------------------------------------ what a merchant relies on

    private static PaymentResult pay(String merchant, Object request) {
        TestLedger.Answer<io.paymentledger.api.v1.PaymentResponse> a = switch (request) {
            case AuthorizeRequest r -> t.as(merchant, PaymentsServiceGrpcClient.Authorize, r);
            case CaptureRequest r -> t.as(merchant, PaymentsServiceGrpcClient.Capture, r);
            case VoidRequest r -> t.as(merchant, PaymentsServiceGrpcClient.VoidPayment, r);
            case RefundRequest r -> t.as(merchant, PaymentsServiceGrpcClient.Refund, r);
            default -> throw new IllegalArgumentException();
        };
        assertThat(a.status()).as(a.message()).isEqualTo(GrpcStatus.OK);
        return a.body().getResult();
    }

    private static AuthorizeRequest authorize(String payment, String payer, String merchant, long amount, int expiresInSeconds) {
        return AuthorizeRequest.newBuilder().setPaymentId(payment).setPayerAccountId(payer).setMerchantAccountId(merchant)
                .setAmount(amount).setCurrency("EUR").setExpiresInSeconds(expiresInSeconds).build();
    }

    @Test
    void everyAcknowledgedStepAppearsOnceInOrderWithItsBalancesAndARefusedOneNever() throws Exception {
        String start = now();
        String bank = id("bank"), wallet = id("m1-wallet"), shop = id("m1-shop");
        createAccounts(null, account(bank, "EUR"));
        createAccounts(M1, owned(wallet, M1), owned(shop, M1));
        String fund = id("fund"), hold = id("hold"), postIt = id("post"), hold2 = id("hold2"), voidIt = id("void"),
                shortHold = id("short"), refused = id("refused");
        List<String> expected = new ArrayList<>();
        assertThat(transferAs(null, transfer(fund, bank, wallet, 1_000, "EUR"))).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
        assertThat(transferAs(M1, pending(transfer(hold, wallet, shop, 100, "EUR"), 3600))).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
        assertThat(transferAs(M1, post(postIt, hold, 60))).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
        assertThat(transferAs(M1, pending(transfer(hold2, wallet, shop, 10, "EUR"), 3600))).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
        assertThat(transferAs(M1, voidOf(voidIt, hold2))).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
        // Refused: more than the wallet holds. Never an event.
        assertThat(transferAs(M1, transfer(refused, wallet, shop, 1_000_000, "EUR"))).isNotEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
        // A retry of an acknowledged transfer: EXISTS, no second event.
        assertThat(transferAs(null, transfer(fund, bank, wallet, 1_000, "EUR"))).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_EXISTS);
        assertThat(transferAs(M1, pending(transfer(shortHold, wallet, shop, 5, "EUR"), 1))).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
        String payment = id("pay"), capture = id("cap"), refund = id("ref"), payment2 = id("pay2"), void2 = id("void2"), payment3 = id("pay3");
        assertThat(pay(M1, authorize(payment, wallet, shop, 200, 3600))).isEqualTo(PaymentResult.PAYMENT_RESULT_OK);
        assertThat(pay(M1, CaptureRequest.newBuilder().setPaymentId(payment).setCaptureId(capture).setAmount(150).build()))
                .isEqualTo(PaymentResult.PAYMENT_RESULT_OK);
        assertThat(pay(M1, RefundRequest.newBuilder().setPaymentId(payment).setRefundId(refund).setAmount(50).build()))
                .isEqualTo(PaymentResult.PAYMENT_RESULT_OK);
        // Refused: refunds above what was captured.
        assertThat(pay(M1, RefundRequest.newBuilder().setPaymentId(payment).setRefundId(id("too-much")).setAmount(500).build()))
                .isNotEqualTo(PaymentResult.PAYMENT_RESULT_OK);
        assertThat(pay(M1, authorize(payment2, wallet, shop, 20, 3600))).isEqualTo(PaymentResult.PAYMENT_RESULT_OK);
        assertThat(pay(M1, VoidRequest.newBuilder().setPaymentId(payment2).setVoidId(void2).build())).isEqualTo(PaymentResult.PAYMENT_RESULT_OK);
        assertThat(pay(M1, authorize(payment3, wallet, shop, 30, 1))).isEqualTo(PaymentResult.PAYMENT_RESULT_OK);
        // The ledger releases the two short holds by itself once their time is up.
        EventFilter mine = EventFilter.newBuilder().addAccountIds(wallet).addAccountIds(shop).build();
        await("both expiries in the stream", () -> transferIds(all(M1, start, mine, 1000)).containsAll(List.of(
                shortHold + "#expired", payment3 + "#expired")));

        List<Event> events = all(M1, start, mine, 3);
        List<EventType> types = events.stream().map(Event::getType).toList();
        assertThat(types.subList(0, 2)).containsExactly(EventType.EVENT_TYPE_ACCOUNT_CREATED, EventType.EVENT_TYPE_ACCOUNT_CREATED);
        assertThat(events.subList(0, 2).stream().map(e -> e.getAccount().getId()).toList()).containsExactly(wallet, shop);
        List<String> ids = transferIds(events);
        // The two expiries come in the order the ledger released them; everything else in the order it was acknowledged.
        assertThat(ids.subList(0, ids.size() - 2)).containsExactly(fund, hold, postIt, hold2, voidIt, shortHold, payment, capture,
                refund, payment2, void2, payment3);
        assertThat(ids.subList(ids.size() - 2, ids.size())).containsExactlyInAnyOrder(shortHold + "#expired", payment3 + "#expired");
        assertThat(ids).doesNotContain(refused);
        assertThat(types.subList(2, types.size() - 2)).containsExactly(EventType.EVENT_TYPE_TRANSFER_POSTED,
                EventType.EVENT_TYPE_PENDING_CREATED, EventType.EVENT_TYPE_PENDING_POSTED, EventType.EVENT_TYPE_PENDING_CREATED,
                EventType.EVENT_TYPE_PENDING_VOIDED, EventType.EVENT_TYPE_PENDING_CREATED, EventType.EVENT_TYPE_PAYMENT_AUTHORIZED,
                EventType.EVENT_TYPE_PAYMENT_CAPTURED, EventType.EVENT_TYPE_PAYMENT_REFUNDED, EventType.EVENT_TYPE_PAYMENT_AUTHORIZED,
                EventType.EVENT_TYPE_PAYMENT_VOIDED, EventType.EVENT_TYPE_PAYMENT_AUTHORIZED);
        assertThat(types.subList(types.size() - 2, types.size())).containsExactlyInAnyOrder(EventType.EVENT_TYPE_PENDING_EXPIRED,
                EventType.EVENT_TYPE_PAYMENT_EXPIRED);
        // Ids unique and stable, cursors increasing, timestamps increasing.
        assertThat(new HashSet<>(events.stream().map(Event::getId).toList())).hasSize(events.size());
        assertThat(events).allMatch(e -> e.getId().startsWith(e.getCell() + ":") && e.getCursor().startsWith(e.getCell() + ":"));
        for (int i = 1; i < events.size(); i++) {
            assertThat(events.get(i).getTimestampNs()).isGreaterThan(events.get(i - 1).getTimestampNs());
        }
        assertThat(all(M1, start, mine, 1000)).as("the same events on a second read, ids and cursors alike").isEqualTo(events);
        // Payment events carry the payment; refunds pay the payer back.
        Event refunded = events.stream().filter(e -> e.getType() == EventType.EVENT_TYPE_PAYMENT_REFUNDED).findFirst().orElseThrow();
        assertThat(refunded.getPayment().getPaymentId()).isEqualTo(payment);
        assertThat(refunded.getPayment().getPayerAccountId()).isEqualTo(wallet);
        assertThat(refunded.getPayment().getMerchantAccountId()).isEqualTo(shop);
        assertThat(refunded.getPayment().getAmount()).isEqualTo(50);
        // The balances after each event: replaying the events' own amounts gives the same wallet balance.
        Event last = events.getLast();
        var finalWallet = t.as(M1, LedgerServiceGrpcClient.LookupAccounts, io.paymentledger.api.v1.LookupAccountsRequest.newBuilder()
                .addIds(wallet).build()).body().getResults(0).getAccount().getBalance();
        var lastWallet = events.reversed().stream().flatMap(e -> e.getBalancesList().stream())
                .filter(b -> b.getAccountId().equals(wallet)).findFirst().orElseThrow().getBalance();
        assertThat(lastWallet).isEqualTo(finalWallet);
        Event funded = events.get(2);
        assertThat(funded.getBalancesList()).as("the bank's balance is not M1's to see")
                .extracting(b -> b.getAccountId()).containsExactly(wallet);
        assertThat(funded.getBalances(0).getBalance().getCreditsPosted()).isEqualTo(1_000);
        assertThat(last.getTimestampNs()).isPositive();
    }

    @Test
    void aMerchantSeesNothingOfAnothersAndTheOperatorSeesBoth() throws Exception {
        String start = now();
        String bank = id("bank"), m1a = id("m1a"), m1b = id("m1b"), m2a = id("m2a"), m2b = id("m2b");
        createAccounts(null, account(bank, "EUR"));
        createAccounts(M1, owned(m1a, M1), owned(m1b, M1));
        createAccounts(M2, owned(m2a, M2), owned(m2b, M2));
        List<String> m1Transfers = new ArrayList<>();
        assertThat(transferAs(null, transfer(id("fund"), bank, m1a, 500, "EUR"))).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
        assertThat(transferAs(null, transfer(id("fund"), bank, m2a, 500, "EUR"))).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
        for (int i = 0; i < 5; i++) {
            String x = id("m1t");
            m1Transfers.add(x);
            assertThat(transferAs(M1, transfer(x, m1a, m1b, 1, "EUR"))).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
        }
        String m2Payment = id("m2pay");
        assertThat(pay(M2, authorize(m2Payment, m2a, m2b, 7, 3600))).isEqualTo(PaymentResult.PAYMENT_RESULT_OK);

        List<Event> m2 = all(M2, start, EventFilter.getDefaultInstance(), 2);
        assertThat(m2).isNotEmpty().allMatch(e -> e.hasAccount() ? e.getAccount().getOwner().equals(M2)
                : List.of(m2a, m2b).contains(e.getTransfer().getDebitAccountId()) || List.of(m2a, m2b).contains(e.getTransfer().getCreditAccountId()));
        assertThat(transferIds(m2)).doesNotContainAnyElementsOf(m1Transfers).contains(m2Payment);
        assertThat(m2.stream().flatMap(e -> e.getBalancesList().stream()).map(b -> b.getAccountId())).allMatch(a -> a.equals(m2a) || a.equals(m2b));
        // Asking for another merchant's accounts by name gives nothing either (as for accounts that do not exist).
        assertThat(all(M2, start, EventFilter.newBuilder().addAccountIds(m1a).addAccountIds(m1b).build(), 100)).isEmpty();
        // The cursor after M2's two account events is the same whether M1 wrote 5 transfers meanwhile or not: it
        // reveals nothing of others; here we check that consecutive M2 cursors are not in clear (no timestamps).
        assertThat(m2.getFirst().getCursor()).doesNotContain(Long.toString(m2.getFirst().getTimestampNs()));
        List<Event> operator = all(null, start, EventFilter.getDefaultInstance(), 1000);
        assertThat(transferIds(operator)).containsAll(m1Transfers).contains(m2Payment);
        // M2's events are the operator's, filtered: same ids, cursors and order.
        assertThat(operator.stream().filter(e -> m2.stream().anyMatch(x -> x.getId().equals(e.getId()))).map(Event::getCursor).toList())
                .isEqualTo(m2.stream().map(Event::getCursor).toList());
    }

    @Test
    void aMerchantsStreamThroughThousandsOfOthersRowsHasExactlyItsOwnEventsInOrder() throws Exception {
        // M1's few events among M2's 3,000 transfers: the stream's scan grows past a page's worth to find them, and one
        // that sees everything (M2) stays at a page; both must deliver exactly their own events, once, in order.
        String start = now();
        String bank = id("bank"), m1a = id("m1a"), m1b = id("m1b"), m2a = id("m2a"), m2b = id("m2b");
        createAccounts(null, account(bank, "EUR"));
        createAccounts(M1, owned(m1a, M1), owned(m1b, M1));
        createAccounts(M2, owned(m2a, M2), owned(m2b, M2));
        assertThat(transferAs(null, transfer(id("fund"), bank, m1a, 1_000, "EUR"))).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
        assertThat(transferAs(null, transfer(id("fund"), bank, m2a, 100_000, "EUR"))).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
        List<String> m1Transfers = new ArrayList<>();
        List<String> m2Transfers = new ArrayList<>();
        for (int round = 0; round < 6; round++) {
            CreateTransfersRequest.Builder batch = CreateTransfersRequest.newBuilder();
            for (int i = 0; i < 500; i++) {
                String x = id("m2t");
                m2Transfers.add(x);
                batch.addTransfers(transfer(x, m2a, m2b, 1, "EUR"));
            }
            assertThat(t.as(M2, LedgerServiceGrpcClient.CreateTransfers, batch.build()).body().getResultsList())
                    .allMatch(r -> r.getStatus() == CreateTransferStatus.CREATE_TRANSFER_CREATED);
            String x = id("m1t");
            m1Transfers.add(x);
            assertThat(transferAs(M1, transfer(x, m1a, m1b, 1, "EUR"))).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
        }
        EventFilter onlyTransfers = EventFilter.newBuilder().addTypes(io.paymentledger.api.v1.EventType.EVENT_TYPE_TRANSFER_POSTED).build();
        Stream m1 = subscribe(t.address, M1, SubscribeEventsRequest.newBuilder().setAfterCursor(start).setFilter(onlyTransfers).build());
        Stream m2 = subscribe(t.address, M2, SubscribeEventsRequest.newBuilder().setAfterCursor(start).setFilter(onlyTransfers).build());
        List<String> m1Seen = new ArrayList<>();
        while (m1Seen.size() < m1Transfers.size() + 1) { // + the bank's funding of m1a (M1 may read m1a)
            m1Seen.add(m1.next().getTransfer().getId());
        }
        List<String> m2Seen = new ArrayList<>();
        while (m2Seen.size() < m2Transfers.size() + 1) {
            m2Seen.add(m2.next().getTransfer().getId());
        }
        m1.cancel();
        m2.cancel();
        assertThat(m1Seen.subList(1, m1Seen.size())).as("M1's own transfers, once, in commit order").isEqualTo(m1Transfers);
        assertThat(m2Seen.subList(1, m2Seen.size())).as("M2's own transfers, once, in commit order").isEqualTo(m2Transfers);
        assertThat(m1.events()).as("nothing more for M1").isEmpty();
    }

    @Test
    void badRequestsAreRefusedWithTheirCode() throws Exception {
        createAccounts(null, account(id("x"), "EUR"));
        String cursor = now();
        record Bad(ListEventsRequest request, String code) {}
        String cell = cursor.substring(0, cursor.lastIndexOf(':'));
        for (Bad bad : List.of(
                new Bad(ListEventsRequest.newBuilder().setAfterCursor("nonsense").build(), "EVENTS_ERROR_INVALID_CURSOR"),
                new Bad(ListEventsRequest.newBuilder().setAfterCursor(cell + ":AAAAAAAAAAAAAAAAAAAAAA").build(), "EVENTS_ERROR_INVALID_CURSOR"),
                new Bad(ListEventsRequest.newBuilder().setAfterCursor("other-cell" + cursor.substring(cursor.lastIndexOf(':'))).build(),
                        "EVENTS_ERROR_CURSOR_OF_ANOTHER_CELL"),
                new Bad(ListEventsRequest.newBuilder().setFilter(EventFilter.newBuilder().addTypesValue(99)).build(), "EVENTS_ERROR_INVALID_TYPE"),
                new Bad(ListEventsRequest.newBuilder().setFilter(EventFilter.newBuilder().addTypes(EventType.EVENT_TYPE_UNSPECIFIED)).build(),
                        "EVENTS_ERROR_INVALID_TYPE"),
                new Bad(ListEventsRequest.newBuilder().setFilter(EventFilter.newBuilder().addAccountIds("bad id!")).build(),
                        "EVENTS_ERROR_INVALID_ACCOUNT_ID"),
                new Bad(ListEventsRequest.newBuilder().setFilter(EventFilter.newBuilder().addAllAccountIds(
                        java.util.stream.IntStream.range(0, 257).mapToObj(i -> "a" + i).toList())).build(), "EVENTS_ERROR_TOO_MANY_ACCOUNTS"),
                new Bad(ListEventsRequest.newBuilder().setLimit(1001).build(), "EVENTS_ERROR_INVALID_LIMIT"))) {
            TestLedger.Answer<ListEventsResponse> a = t.as(M1, EventsServiceGrpcClient.ListEvents, bad.request());
            assertThat(a.status()).as(bad.toString()).isEqualTo(GrpcStatus.INVALID_ARGUMENT);
            assertThat(a.message()).startsWith(bad.code() + ": ");
        }
        Stream s = subscribe(t.address, M1, SubscribeEventsRequest.newBuilder().setAfterCursor(cursor).setFromNow(true).build());
        assertThat(s.ended().get(20, TimeUnit.SECONDS)).isEqualTo(GrpcStatus.INVALID_ARGUMENT);
        assertThat(s.response().statusMessage()).startsWith("EVENTS_ERROR_CONFLICTING_START: ");
    }

    // ------------------------------------------------------------------ streams

    @Test
    void aStreamDeliversWhatExistsThenEachNewEventAndResumesFromItsLastCursorWithNothingLostOrRepeated() throws Exception {
        String a = id("sa"), b = id("sb");
        createAccounts(M1, owned(a, M1), owned(b, M1));
        String start = now();
        assertThat(transferAs(null, transfer(id("fund"), id("none"), a, 1, "EUR"))).isNotEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
        String bank = id("bank");
        createAccounts(null, account(bank, "EUR"));
        String before = id("before");
        assertThat(transferAs(null, transfer(before, bank, a, 100, "EUR"))).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
        EventFilter onlyTransfers = EventFilter.newBuilder().addTypes(EventType.EVENT_TYPE_TRANSFER_POSTED).build();
        Stream s = subscribe(t.address, M1, SubscribeEventsRequest.newBuilder().setAfterCursor(start).setFilter(onlyTransfers).build());
        assertThat(s.next().getTransfer().getId()).isEqualTo(before);
        // Live: acknowledged after the stream caught up.
        String live1 = id("live"), live2 = id("live");
        assertThat(transferAs(M1, transfer(live1, a, b, 1, "EUR"))).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
        Event e1 = s.next();
        assertThat(e1.getTransfer().getId()).isEqualTo(live1);
        // The consumer goes away; meanwhile more is written; it resumes from the last cursor it received.
        s.cancel();
        assertThat(transferAs(M1, transfer(live2, a, b, 2, "EUR"))).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
        Stream resumed = subscribe(t.address, M1, SubscribeEventsRequest.newBuilder().setAfterCursor(e1.getCursor()).setFilter(onlyTransfers).build());
        assertThat(resumed.next().getTransfer().getId()).isEqualTo(live2);
        // "From now": only what is acknowledged after the call.
        Stream fromNow = subscribe(t.address, M1, SubscribeEventsRequest.newBuilder().setFromNow(true).setFilter(onlyTransfers).build());
        await("the stream is open", () -> t.node.events() != null);
        String live3 = id("live");
        assertThat(transferAs(M1, transfer(live3, a, b, 3, "EUR"))).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
        assertThat(resumed.next().getTransfer().getId()).isEqualTo(live3);
        Event first = fromNow.next();
        assertThat(List.of(live2, live3)).contains(first.getTransfer().getId());
        resumed.cancel();
        fromNow.cancel();
        assertThat(resumed.events()).isEmpty();
        // A stream its client went away from is closed on the server too: it reads and holds nothing more.
        await("the server closed the cancelled streams", () -> t.node.eventStreams().open() == 0);
    }
}
