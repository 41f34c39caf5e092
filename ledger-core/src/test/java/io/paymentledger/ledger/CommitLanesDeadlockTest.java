package io.paymentledger.ledger;

import static io.paymentledger.ledger.support.Fixtures.account;
import static io.paymentledger.ledger.support.Fixtures.id;
import static io.paymentledger.ledger.support.Fixtures.pending;
import static io.paymentledger.ledger.support.Fixtures.post;
import static io.paymentledger.ledger.support.Fixtures.transfer;
import static io.paymentledger.ledger.support.Fixtures.wallet;
import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.AuthorizeRequest;
import io.paymentledger.api.v1.CaptureRequest;
import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.CreateTransfersResponse;
import io.paymentledger.api.v1.PaymentResponse;
import io.paymentledger.ledger.support.LedgerAssertions;
import io.paymentledger.ledger.support.TestLedger;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The two commit lanes never wait for each other in PostgreSQL (issue #18). Batch N's rows and batch N+1's rows are
 * written on two connections at once, in no fixed order: when N's rows are slow (a large batch), N+1's may go in
 * first. If N+1 then took a row lock N still needs (a hold or a payment both touch), N waited in PostgreSQL for N+1,
 * and N+1 waited in Java for N's answer: every write stopped for good, and PostgreSQL's deadlock detector saw nothing.
 *
 * <p>Each test makes N's rows slow for certain: a session of the test holds an uncommitted row with the id of N's
 * transfer, so N's COPY waits on the primary key until the test rolls it back; meanwhile N+1, which touches the same
 * hold (and payment), is applied and its rows written. On the old code N then blocks on N+1's upsert of the hold and
 * neither is ever answered.
 */
class CommitLanesDeadlockTest {

    private static TestLedger ledger;

    @BeforeAll
    static void start() {
        // The test holds N's rows back for seconds on purpose: the writer's lock timeout (2 s by default, a backstop
        // for exactly this kind of bug) must not end that wait here.
        ledger = TestLedger.start(io.paymentledger.ledger.write.BatchWriter.Config.defaults()
                .withBounds(new io.paymentledger.ledger.write.BatchWriter.Bounds(120_000, 120_000, 60_000, 120_000)),
                new io.paymentledger.ledger.node.StandaloneControl());
    }

    @AfterAll
    static void stop() {
        if (ledger != null) {
            ledger.close();
        }
    }

    /** An uncommitted transfer row with this id: the writer's COPY of a transfer with the same id waits for it. */
    private static Connection holdTransferId(String transferId) throws Exception {
        Connection c = ledger.sql();
        c.setAutoCommit(false);
        try (PreparedStatement ps = c.prepareStatement("insert into transfer (id, debit_account_id, credit_account_id, amount,"
                + " currency, code, flags, timestamp_ns, batch_seq, dr_debits_pending, dr_debits_posted, dr_credits_pending,"
                + " dr_credits_posted, cr_debits_pending, cr_debits_posted, cr_credits_pending, cr_credits_posted)"
                + " values (?, 'x', 'y', 0, 'EUR', 1, 0, ?, 0, 0, 0, 0, 0, 0, 0, 0, 0)")) {
            ps.setString(1, transferId);
            ps.setLong(2, -System.nanoTime()); // timestamps are unique; the ledger's are positive
            ps.executeUpdate();
        }
        return c;
    }

    /** Waits until the writer's batch waits for a lock in PostgreSQL (here: N's COPY on the test's row). */
    private static void awaitWriterWaitingOnLock() throws Exception {
        awaitWriterBackends("wait_event_type = 'Lock'", 1, "the writer never waited on the test's row");
    }

    /** Waits until two writer transactions wrote rows: N's (stuck in its COPY) and N+1's. */
    private static void awaitNextBatchRowsWritten() throws Exception {
        awaitWriterBackends("backend_xid is not null", 2, "the next batch's rows were never written while N's waited");
    }

    private static void awaitWriterBackends(String condition, int count, String failure) throws Exception {
        ledger.awaitCount("select count(*) from pg_stat_activity where application_name = 'ledger-writer-a' and " + condition,
                count, failure);
    }

    private static long number(String sql) throws Exception {
        try (Connection c = ledger.sql()) {
            return LedgerAssertions.count(c, sql);
        }
    }

    private static <T> CompletableFuture<T> async(io.vertx.core.Future<T> f) {
        return f.toCompletionStage().toCompletableFuture();
    }

    /** Every call of these tests has a bound: on the old code a deadlocked writer never answered anything again. */
    private static <T> T answered(io.vertx.core.Future<T> f) throws Exception {
        return async(f).get(20, TimeUnit.SECONDS);
    }

    private static String[] fundedWallets() throws Exception {
        String bank = id("bank"), payer = id("payer"), shop = id("shop");
        answered(ledger.ledger.createAccounts(CreateAccountsRequest.newBuilder().addAccounts(account(bank, "EUR"))
                .addAccounts(wallet(payer, "EUR")).addAccounts(wallet(shop, "EUR")).build()));
        answered(ledger.ledger.createTransfers(CreateTransfersRequest.newBuilder().addTransfers(transfer(id("fund"), bank, payer, 1_000, "EUR"))
                .build()));
        return new String[] {payer, shop};
    }

    @Test
    void twoPartialCapturesOfOnePaymentInConsecutiveBatchesAreBothAnswered() throws Exception {
        String[] w = fundedWallets();
        String payment = id("pay");
        PaymentResponse auth = answered(ledger.payments.authorize(AuthorizeRequest.newBuilder().setPaymentId(payment).setPayerAccountId(w[0])
                .setMerchantAccountId(w[1]).setAmount(300).setCurrency("EUR").setExpiresInSeconds(600).build()));
        assertThat(auth.getResult().name()).isEqualTo("PAYMENT_RESULT_OK");
        String first = id("cap1"), second = id("cap2");
        CompletableFuture<PaymentResponse> a;
        CompletableFuture<PaymentResponse> b;
        try (Connection slowRows = holdTransferId(first)) {
            a = async(ledger.payments.capture(CaptureRequest.newBuilder().setPaymentId(payment).setCaptureId(first).setAmount(100).build()));
            awaitWriterWaitingOnLock();
            // The second capture of the same payment: the next batch, applied on what the first changed; its rows
            // (the transfer, and on the old code the hold and the payment too) go in while the first's are stuck.
            b = async(ledger.payments.capture(CaptureRequest.newBuilder().setPaymentId(payment).setCaptureId(second).setAmount(50).build()));
            awaitNextBatchRowsWritten();
            Thread.sleep(200);
            slowRows.rollback();
        }
        assertThat(a.get(20, TimeUnit.SECONDS).getResult().name()).as("the first capture, answered").isEqualTo("PAYMENT_RESULT_OK");
        assertThat(b.get(20, TimeUnit.SECONDS).getResult().name()).as("the second capture, answered").isEqualTo("PAYMENT_RESULT_OK");
        assertThat(number("select captured_amount from payment where id = '" + payment + "'")).isEqualTo(150);
        assertThat(number("select remaining from pending_transfer where id = (select pending_id from transfer where id = '" + second + "')"))
                .isEqualTo(150);
        assertThat(number("select batch_seq from transfer where id = '" + second + "'"))
                .as("the captures were written by consecutive batches")
                .isEqualTo(number("select batch_seq from transfer where id = '" + first + "'") + 1);
        try (Connection c = ledger.sql()) {
            LedgerAssertions.assertConsistent(c);
        }
    }

    @Test
    void anExpiryRacingAPartialPostOfTheSameHoldIsWrittenAfterIt() throws Exception {
        String[] w = fundedWallets();
        String hold = id("hold"), partial = id("post");
        CreateTransfersResponse held = answered(ledger.ledger.createTransfers(CreateTransfersRequest.newBuilder()
                .addTransfers(pending(transfer(hold, w[0], w[1], 100, "EUR"), 2)).build()));
        assertThat(held.getResults(0).getStatus().name()).isEqualTo("CREATE_TRANSFER_CREATED");
        CompletableFuture<CreateTransfersResponse> posted;
        try (Connection slowRows = holdTransferId(partial)) {
            posted = async(ledger.ledger.createTransfers(CreateTransfersRequest.newBuilder().addTransfers(post(partial, hold, 10)).build()));
            awaitWriterWaitingOnLock();
            // The hold times out while the post's batch is stuck: the writer's expiry scan (the next batch) releases
            // the 90 left, from the post's in-memory state; its rows go in while the post's are stuck.
            awaitNextBatchRowsWritten();
            Thread.sleep(200);
            slowRows.rollback();
        }
        assertThat(posted.get(20, TimeUnit.SECONDS).getResults(0).getStatus().name()).isEqualTo("CREATE_TRANSFER_CREATED");
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (number("select count(*) from transfer where id = '" + hold + "#expired'") == 0 && System.nanoTime() < until) {
            Thread.sleep(50);
        }
        assertThat(number("select amount from transfer where id = '" + hold + "#expired'")).as("the expiry released the rest")
                .isEqualTo(90);
        assertThat(number("select posted from pending_transfer where id = '" + hold + "'")).isEqualTo(10);
        assertThat(number("select remaining from pending_transfer where id = '" + hold + "'")).isZero();
        try (Connection c = ledger.sql()) {
            LedgerAssertions.assertConsistent(c);
        }
    }
}
