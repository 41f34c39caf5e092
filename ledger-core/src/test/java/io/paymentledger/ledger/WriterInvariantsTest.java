package io.paymentledger.ledger;

import static io.paymentledger.ledger.support.Fixtures.account;
import static io.paymentledger.ledger.support.Fixtures.id;
import static io.paymentledger.ledger.support.Fixtures.pending;
import static io.paymentledger.ledger.support.Fixtures.transfer;
import static io.paymentledger.ledger.support.Fixtures.voidOf;
import static io.paymentledger.ledger.support.Fixtures.wallet;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.paymentledger.api.v1.AuthorizeRequest;
import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.ledger.payment.PaymentResultCode;
import io.paymentledger.ledger.payment.PaymentRole;
import io.paymentledger.ledger.support.LedgerAssertions;
import io.paymentledger.ledger.support.TestLedger;
import io.paymentledger.ledger.transfer.TransferFlags;
import io.paymentledger.ledger.transfer.TransferSpec;
import io.paymentledger.ledger.write.BatchWriter;
import io.paymentledger.ledger.write.PaymentOutcome;
import io.paymentledger.ledger.write.WriteCommand;
import io.paymentledger.ledger.write.WriteRejected;
import java.sql.Connection;
import java.sql.Statement;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Issue #20, items 4 and 5: an invariant fails one way (the writer stops), and a batch's order changes no answer. */
class WriterInvariantsTest {

    private static <T> T answered(io.vertx.core.Future<T> f) throws Exception {
        return f.toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
    }

    @Test
    void aBrokenBalanceInvariantStopsTheWriterInsteadOfFailingEachRetry() throws Exception {
        try (TestLedger t = TestLedger.start()) {
            String a = id("ia"), b = id("ib"), hold = id("ih");
            answered(t.ledger.createAccounts(CreateAccountsRequest.newBuilder().addAccounts(account(a, "EUR"))
                    .addAccounts(account(b, "EUR")).build()));
            answered(t.ledger.createTransfers(CreateTransfersRequest.newBuilder().addTransfers(pending(transfer(hold, a, b, 100, "EUR"), 0))
                    .build()));
            // A corrupted row (a disk, a hand-made UPDATE): a's pending debits no longer cover the hold.
            try (Connection c = t.sql(); Statement st = c.createStatement()) {
                st.execute("update account set debits_pending = 0 where id = '" + a + "'");
            }
            BatchWriter w = t.node.writer();
            w.lead(t.node.claimNextEpoch()); // a new term: the writer reads the account from the database
            Throwable voided = catchThrowable(() -> answered(t.ledger.createTransfers(CreateTransfersRequest.newBuilder()
                    .addTransfers(voidOf(id("iv"), hold)).build())));
            assertThat(voided).as("the void is not answered OK").isNotNull();
            // One way: the writer stops and says why (before: each call was answered "internal error" and every retry
            // hit the same bug while the node went on serving).
            assertThat(w.isLeading()).isFalse();
            assertThat(w.notLeadingReason()).startsWith("ledger invariant broken").contains("would go negative");
            try (Connection c = t.sql()) {
                assertThat(LedgerAssertions.count(c, "select count(*) from transfer where pending_id = '" + hold + "'")).isZero();
            }
        }
    }

    @Test
    void aCaptureBeforeARetriedAuthorizationInOneBatchFindsThePayment() throws Exception {
        try (TestLedger t = TestLedger.start()) {
            String bank = id("bank"), payer = id("payer"), shop = id("shop"), payment = id("pay");
            answered(t.ledger.createAccounts(CreateAccountsRequest.newBuilder().addAccounts(account(bank, "EUR"))
                    .addAccounts(wallet(payer, "EUR")).addAccounts(wallet(shop, "EUR")).build()));
            answered(t.ledger.createTransfers(CreateTransfersRequest.newBuilder().addTransfers(transfer(id("fund"), bank, payer, 1_000, "EUR"))
                    .build()));
            answered(t.payments.authorize(AuthorizeRequest.newBuilder().setPaymentId(payment).setPayerAccountId(payer)
                    .setMerchantAccountId(shop).setAmount(300).setCurrency("EUR").setExpiresInSeconds(600).build()));
            BatchWriter w = t.node.writer();
            // After a failover the writer's memory is empty: the hold is known only to the database.
            w.lead(t.node.claimNextEpoch());
            CompletableFuture<PaymentOutcome> capture = new CompletableFuture<>();
            CompletableFuture<PaymentOutcome> retry = new CompletableFuture<>();
            try (Connection blocker = t.sql(); Statement st = blocker.createStatement()) {
                blocker.setAutoCommit(false);
                // The applier's next lookup of a transfer waits here, so both payments calls queue up behind it and
                // are taken together, in one chunk: [capture, retried authorization].
                st.execute("lock table transfer in access exclusive mode");
                CompletableFuture<java.util.List<io.paymentledger.ledger.write.TransferResult>> lookup = new CompletableFuture<>();
                w.submit(new WriteCommand.CreateTransfers(Caller.OPERATOR, java.util.List.of(new TransferSpec(id("x"), "", "", 1, "", 1,
                        TransferFlags.POST_PENDING, id("no-such-hold"), 0, Map.of(), null)),
                        new io.paymentledger.ledger.transfer.TransferStatus[1], 0, lookup));
                awaitReadsWaitingOnLock(t);
                w.submit(new WriteCommand.Payment(Caller.OPERATOR, PaymentRole.CAPTURE, new TransferSpec(id("cap"), "", "", 100, "",
                        PaymentRole.CAPTURE.transferCode, TransferFlags.POST_PENDING, payment, 0, Map.of(), payment), 0, capture));
                w.submit(new WriteCommand.Payment(Caller.OPERATOR, PaymentRole.AUTHORIZE, new TransferSpec(payment, payer, shop, 300, "EUR",
                        PaymentRole.AUTHORIZE.transferCode, TransferFlags.PENDING, "", 600, Map.of(), payment), 0, retry));
                Thread.sleep(200);
                blocker.commit();
                lookup.get(20, TimeUnit.SECONDS);
            }
            assertThat(retry.get(20, TimeUnit.SECONDS).code()).isEqualTo(PaymentResultCode.EXISTS);
            PaymentOutcome captured = capture.get(20, TimeUnit.SECONDS);
            assertThat(captured.code()).as("before: PAYMENT_NOT_FOUND, final for the merchant").isEqualTo(PaymentResultCode.OK);
            assertThat(captured.payment().capturedAmount()).isEqualTo(100);
        }
    }

    @Test
    void aNewLeaderWhoseClockIsBehindTheLedgersExpiresHoldsOnTime() throws Exception {
        try (TestLedger t = TestLedger.start()) {
            String a = id("ta"), b = id("tb"), hold = id("th");
            answered(t.ledger.createAccounts(CreateAccountsRequest.newBuilder().addAccounts(account(a, "EUR"))
                    .addAccounts(account(b, "EUR")).build()));
            // Another leader takes over; its wall clock is two minutes behind the timestamps already committed.
            t.node.writer().stepDown("test: another leader takes over");
            long behindNs = TimeUnit.MINUTES.toNanos(2);
            try (BatchWriter late = new BatchWriter(TestLedger.database(t.postgres), "a", BatchWriter.Config.defaults(),
                    () -> io.paymentledger.replication.time.SteadyClock.wallClockNanos() - behindNs, (reason, cause) -> { })) {
                late.lead(t.node.claimNextEpoch());
                CompletableFuture<java.util.List<io.paymentledger.ledger.write.TransferResult>> held = new CompletableFuture<>();
                late.submit(new WriteCommand.CreateTransfers(Caller.OPERATOR, java.util.List.of(new TransferSpec(hold, a, b, 10, "EUR", 1,
                        TransferFlags.PENDING, "", 2, Map.of(), null)), new io.paymentledger.ledger.transfer.TransferStatus[1], 0, held));
                assertThat(held.get(20, TimeUnit.SECONDS).get(0).status()).isEqualTo(io.paymentledger.ledger.transfer.TransferStatus.CREATED);
                // Its 2 s timeout passes in real time; before, ledger time stood still at the last committed timestamp
                // (creeping by 1 ns a transfer) until this clock caught up, and the hold outlived its timeout by 2 min.
                t.awaitCount("select count(*) from transfer where id = '" + hold + "#expired'", 1,
                        "the hold did not expire within 20 s of its 2 s timeout");
            }
        }
    }

    @Test
    void aNewLeaderWhoseClockIsAheadOfThePublishedLedgerTimeNeitherExpiresHoldsEarlyNorStampsTheFuture() throws Exception {
        try (TestLedger t = TestLedger.start()) {
            String a = id("ua"), b = id("ub"), hold = id("uh"), after = id("ut");
            answered(t.ledger.createAccounts(CreateAccountsRequest.newBuilder().addAccounts(account(a, "EUR"))
                    .addAccounts(account(b, "EUR")).build()));
            BatchWriter first = t.node.writer();
            CompletableFuture<java.util.List<io.paymentledger.ledger.write.TransferResult>> held = new CompletableFuture<>();
            first.submit(new WriteCommand.CreateTransfers(Caller.OPERATOR, java.util.List.of(new TransferSpec(hold, a, b, 10, "EUR", 1,
                    TransferFlags.PENDING, "", 60, Map.of(), null)), new io.paymentledger.ledger.transfer.TransferStatus[1], 0, held));
            assertThat(held.get(20, TimeUnit.SECONDS).get(0).status()).isEqualTo(io.paymentledger.ledger.transfer.TransferStatus.CREATED);
            // What the leader's failover agent publishes with its region report, as the next leader's agent reads it
            // (FailoverAgentLedgerTimeTest covers that path): its writer's ledger time, between two reads.
            long readStarted = System.nanoTime();
            long published = first.ledgerTimeNs();
            io.paymentledger.replication.time.LedgerTimeReference reference = new io.paymentledger.replication.time.LedgerTimeReference(
                    published, readStarted, System.nanoTime(), TimeUnit.MILLISECONDS.toNanos(1_500));
            assertThat(published).isPositive();
            first.stepDown("test: another leader takes over");
            // Another leader takes over; its wall clock is two minutes ahead of everybody's.
            long aheadNs = TimeUnit.MINUTES.toNanos(2);
            try (BatchWriter early = new BatchWriter(TestLedger.database(t.postgres), "a", BatchWriter.Config.defaults(),
                    () -> io.paymentledger.replication.time.SteadyClock.wallClockNanos() + aheadNs, (reason, cause) -> { })) {
                early.lead(t.node.claimNextEpoch(), Long.MAX_VALUE, reference);
                CompletableFuture<java.util.List<io.paymentledger.ledger.write.TransferResult>> posted = new CompletableFuture<>();
                early.submit(new WriteCommand.CreateTransfers(Caller.OPERATOR, java.util.List.of(new TransferSpec(after, a, b, 1, "EUR", 1,
                        0, "", 0, Map.of(), null)), new io.paymentledger.ledger.transfer.TransferStatus[1], 0, posted));
                assertThat(posted.get(20, TimeUnit.SECONDS).get(0).status()).isEqualTo(io.paymentledger.ledger.transfer.TransferStatus.CREATED);
                // The new term's first batch scanned for due holds (in the same transaction). Before, ledger time jumped
                // 2 min ahead with this clock: the 60 s hold, made a moment ago, expired in that batch, and the transfer
                // was stamped 2 min in the future.
                try (Connection c = t.sql(); Statement st = c.createStatement()) {
                    var rs = st.executeQuery("select (select count(*) from transfer where id = '" + hold + "#expired'),"
                            + " (select timestamp_ns from transfer where id = '" + after + "')");
                    rs.next();
                    assertThat(rs.getLong(1)).as("the 60 s hold expired within seconds of its creation").isZero();
                    long stampedAheadNs = rs.getLong(2) - io.paymentledger.replication.time.SteadyClock.wallClockNanos();
                    assertThat(stampedAheadNs).as("how far in the future the transfer was stamped (ns)")
                            .isLessThan(TimeUnit.SECONDS.toNanos(10));
                }
                assertThat(early.clockDisagreementAtTermStartNs()).as("the disagreement is kept for the metric")
                        .isGreaterThan(TimeUnit.SECONDS.toNanos(100));
            }
        }
    }

    private static void awaitReadsWaitingOnLock(TestLedger t) throws Exception {
        t.awaitCount("select count(*) from pg_stat_activity where application_name = 'ledger-writer-a-reads'"
                + " and wait_event_type = 'Lock'", 1, "the writer's lookup never waited on the locked table");
    }
}
