package io.paymentledger.ledger;

import static io.paymentledger.ledger.support.Fixtures.account;
import static io.paymentledger.ledger.support.Fixtures.id;
import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.ledger.support.LedgerAssertions;
import io.paymentledger.ledger.support.TestLedger;
import io.paymentledger.ledger.transfer.TransferSpec;
import io.paymentledger.ledger.transfer.TransferStatus;
import io.paymentledger.ledger.write.BatchWriter;
import io.paymentledger.ledger.write.TransferResult;
import io.paymentledger.ledger.write.WriteCommand;
import io.paymentledger.ledger.write.WriteRejected;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The pipelined writer on a real PostgreSQL: batch N+1 is applied while batch N's commit waits (here: on the
 * leadership row, held by the test, which is what a slow synchronous standby looks like to the writer). Nothing is
 * answered before its commit, answers come in commit order, a failed commit fails only its own callers, and fencing
 * still stops every batch.
 */
class PipelinedWriterTest {

    private static TestLedger ledger;

    @BeforeAll
    static void start() {
        ledger = TestLedger.start();
    }

    @AfterAll
    static void stop() {
        if (ledger != null) {
            ledger.close();
        }
    }

    private static BatchWriter writer() {
        return ledger.node.writer();
    }

    private static String[] accounts() {
        String a = id("pa"), b = id("pb");
        ledger.ledger.createAccounts(CreateAccountsRequest.newBuilder().addAccounts(account(a, "EUR")).addAccounts(account(b, "EUR"))
                .build()).await();
        return new String[] {a, b};
    }

    /** One transfer straight to the writer; its future completes on the committer's thread. */
    private static CompletableFuture<List<TransferResult>> submit(String id, String from, String to, long amount) {
        CompletableFuture<List<TransferResult>> done = new CompletableFuture<>();
        writer().submit(new WriteCommand.CreateTransfers(Caller.OPERATOR, List.of(new TransferSpec(id, from, to, amount, "EUR", 1, 0,
                "", 0, Map.of(), null)), new TransferStatus[1], 0, done));
        return done;
    }

    /** Holds the leadership row FOR UPDATE: the writer's next commit waits on its FOR SHARE read of the epoch. */
    private static Connection holdLeadershipRow() throws Exception {
        Connection c = ledger.sql();
        c.setAutoCommit(false);
        try (Statement st = c.createStatement()) {
            st.execute("select epoch from leadership for update");
        }
        return c;
    }

    /** Waits until the writer's commit is blocked on the row (its backend waits for a lock). */
    private static void awaitCommitWaitingOnLock() throws Exception {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < until) {
            try (Connection c = ledger.sql()) {
                if (LedgerAssertions.count(c, "select count(*) from pg_stat_activity where application_name = 'ledger-writer-a'"
                        + " and wait_event_type = 'Lock'") == 1) {
                    return;
                }
            }
            Thread.sleep(20);
        }
        throw new AssertionError("the writer's commit never waited on the leadership row");
    }

    /**
     * Waits until the writer has two transactions open that wrote rows (a backend has a transaction id only once its
     * transaction wrote something): batch N's, waiting in its commit, and N+1's, whose rows went in meanwhile on the
     * other connection.
     */
    private static void awaitNextBatchRowsWrittenMeanwhile(TestLedger on) throws Exception {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < until) {
            try (Connection c = on.sql()) {
                if (LedgerAssertions.count(c, "select count(*) from pg_stat_activity where application_name = 'ledger-writer-a'"
                        + " and backend_xid is not null") == 2) {
                    return;
                }
            }
            Thread.sleep(20);
        }
        throw new AssertionError("the next batch's rows were never written while the batch before it waited for its commit");
    }

    private static long rows(String sql) throws Exception {
        try (Connection c = ledger.sql()) {
            return LedgerAssertions.count(c, sql);
        }
    }

    @Test
    void nothingIsAnsweredBeforeItsCommitAndAnswersComeInCommitOrder() throws Exception {
        String[] acc = accounts();
        String first = id("p1"), second = id("p2");
        List<String> answered = new CopyOnWriteArrayList<>();
        CompletableFuture<List<TransferResult>> a;
        CompletableFuture<List<TransferResult>> retryOfA;
        CompletableFuture<List<TransferResult>> b;
        try (Connection blocker = holdLeadershipRow()) {
            a = submit(first, acc[0], acc[1], 5);
            a.thenRun(() -> answered.add("a"));
            awaitCommitWaitingOnLock();
            // Applied while a's batch waits: a new transfer, and a retry of a's id that memory answers EXISTS.
            b = submit(second, acc[0], acc[1], 7);
            b.thenRun(() -> answered.add("b"));
            retryOfA = submit(first, acc[0], acc[1], 5);
            retryOfA.thenRun(() -> answered.add("retry of a"));
            Thread.sleep(300);
            assertThat(answered).isEmpty();
            assertThat(rows("select count(*) from transfer where id in ('" + first + "', '" + second + "')")).isZero();
            blocker.rollback();
        }
        assertThat(a.get(10, TimeUnit.SECONDS).get(0).status()).isEqualTo(TransferStatus.CREATED);
        assertThat(b.get(10, TimeUnit.SECONDS).get(0).status()).isEqualTo(TransferStatus.CREATED);
        TransferResult retried = retryOfA.get(10, TimeUnit.SECONDS).get(0);
        assertThat(retried.status()).isEqualTo(TransferStatus.EXISTS);
        assertThat(retried.timestampNs()).isEqualTo(a.get().get(0).timestampNs());
        assertThat(answered.get(0)).isEqualTo("a");
        assertThat(answered).containsExactlyInAnyOrder("a", "b", "retry of a");
        assertThat(b.get().get(0).timestampNs()).isGreaterThan(a.get().get(0).timestampNs());
        // b was applied while a's batch was committing: the next batch, written after it.
        assertThat(rows("select batch_seq from transfer where id = '" + second + "'"))
                .isEqualTo(rows("select batch_seq from transfer where id = '" + first + "'") + 1);
        try (Connection c = ledger.sql()) {
            LedgerAssertions.assertConsistent(c);
        }
    }

    @Test
    void aFailedCommitFailsItsOwnCallersAndTheBatchAppliedOnTopIsWrittenAfterwards() throws Exception {
        String[] acc = accounts();
        String lost = id("lost"), kept = id("kept");
        CompletableFuture<List<TransferResult>> a;
        CompletableFuture<List<TransferResult>> b;
        try (Connection blocker = holdLeadershipRow()) {
            a = submit(lost, acc[0], acc[1], 11);
            awaitCommitWaitingOnLock();
            b = submit(kept, acc[0], acc[1], 13); // applied on top of a's uncommitted batch
            Thread.sleep(200);
            // a's commit fails: its connection is cut while it waits.
            try (Connection admin = ledger.sql(); Statement st = admin.createStatement()) {
                st.execute("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'ledger-writer-a'");
            }
            Throwable failure = null;
            try {
                a.get(10, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                failure = e.getCause();
            }
            assertThat(failure).isInstanceOf(WriteRejected.class);
            assertThat(((WriteRejected) failure).reason()).isEqualTo(WriteRejected.Reason.UNAVAILABLE);
            blocker.rollback();
        }
        assertThat(b.get(10, TimeUnit.SECONDS).get(0).status()).isEqualTo(TransferStatus.CREATED);
        assertThat(rows("select count(*) from transfer where id = '" + lost + "'")).isZero();
        assertThat(rows("select count(*) from transfer where id = '" + kept + "'")).isOne();
        assertThat(rows("select credits_posted from account where id = '" + acc[1] + "'")).isEqualTo(13);
        try (Connection c = ledger.sql()) {
            LedgerAssertions.assertConsistent(c);
        }
    }

    @Test
    void aTransferIdAlreadyInTheDatabaseButNotInMemoryIsAnsweredExistsAndNotWrittenTwice() throws Exception {
        String[] acc = accounts();
        String old = id("old"), fresh = id("fresh");
        assertThat(submit(old, acc[0], acc[1], 3).get(10, TimeUnit.SECONDS).get(0).status()).isEqualTo(TransferStatus.CREATED);
        // A new term empties the writer's memory: `old` is known only to the database now.
        long epoch = ledger.node.claimNextEpoch();
        writer().lead(epoch);
        CompletableFuture<List<TransferResult>> again = new CompletableFuture<>();
        writer().submit(new WriteCommand.CreateTransfers(Caller.OPERATOR, List.of(
                new TransferSpec(fresh, acc[0], acc[1], 4, "EUR", 1, 0, "", 0, Map.of(), null),
                new TransferSpec(old, acc[0], acc[1], 3, "EUR", 1, 0, "", 0, Map.of(), null)),
                new TransferStatus[2], 0, again));
        List<TransferResult> results = again.get(10, TimeUnit.SECONDS);
        assertThat(results.get(0).status()).isEqualTo(TransferStatus.CREATED);
        assertThat(results.get(1).status()).isEqualTo(TransferStatus.EXISTS);
        assertThat(rows("select count(*) from transfer where id = '" + old + "'")).isOne();
        assertThat(rows("select credits_posted from account where id = '" + acc[1] + "'")).isEqualTo(7);
        try (Connection c = ledger.sql()) {
            LedgerAssertions.assertConsistent(c);
        }
    }

    @Test
    void aLeaderThatWakesPastItsLeaseNeitherHoldsItNorCommits() throws Exception {
        try (TestLedger own = TestLedger.start()) {
            String a = id("za"), b = id("zb");
            own.ledger.createAccounts(CreateAccountsRequest.newBuilder().addAccounts(account(a, "EUR")).addAccounts(account(b, "EUR"))
                    .build()).await();
            BatchWriter w = own.node.writer();
            w.lead(own.node.claimNextEpoch(), System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300));
            assertThat(w.isLeading()).isTrue();
            // A pause (GC, SIGSTOP, frozen VM) longer than the lease, during which no agent tick ran.
            Thread.sleep(500);
            assertThat(w.isLeading()).as("outside its lease, by the clock (no tick needed): reads refuse too").isFalse();
            String zombie = id("zombie");
            CompletableFuture<List<TransferResult>> write = new CompletableFuture<>();
            w.submit(new WriteCommand.CreateTransfers(Caller.OPERATOR, List.of(new TransferSpec(zombie, a, b, 5, "EUR", 1, 0, "",
                    0, Map.of(), null)), new TransferStatus[1], 0, write));
            Throwable failure = org.assertj.core.api.Assertions.catchThrowable(() -> write.get(10, TimeUnit.SECONDS));
            assertThat(failure).isInstanceOf(ExecutionException.class);
            assertThat(failure.getCause()).isInstanceOf(WriteRejected.class).hasMessageContaining("not the leader");
            assertThat(((WriteRejected) failure.getCause()).reason()).isEqualTo(WriteRejected.Reason.UNAVAILABLE);
            try (Connection c = own.sql(); Statement st = c.createStatement();
                    var rs = st.executeQuery("select count(*) from transfer where id = '" + zombie + "'")) {
                rs.next();
                assertThat(rs.getLong(1)).as("nothing committed after the lease").isZero();
            }
        }
    }

    @Test
    void aNewLeadersEpochFencesTheCommitUnderWayAndTheBatchAppliedOnTopOfIt() throws Exception {
        try (TestLedger own = TestLedger.start()) {
            String a = id("fa"), b = id("fb");
            own.ledger.createAccounts(CreateAccountsRequest.newBuilder().addAccounts(account(a, "EUR")).addAccounts(account(b, "EUR"))
                    .build()).await();
            BatchWriter w = own.node.writer();
            CompletableFuture<List<TransferResult>> first = new CompletableFuture<>();
            CompletableFuture<List<TransferResult>> second = new CompletableFuture<>();
            try (Connection newLeader = own.sql()) {
                newLeader.setAutoCommit(false);
                try (Statement st = newLeader.createStatement()) {
                    st.execute("update leadership set epoch = epoch + 1");
                }
                w.submit(new WriteCommand.CreateTransfers(Caller.OPERATOR, List.of(new TransferSpec(id("f1"), a, b, 1, "EUR", 1, 0, "",
                        0, Map.of(), null)), new TransferStatus[1], 0, first));
                Thread.sleep(300);
                w.submit(new WriteCommand.CreateTransfers(Caller.OPERATOR, List.of(new TransferSpec(id("f2"), a, b, 2, "EUR", 1, 0, "",
                        0, Map.of(), null)), new TransferStatus[1], 0, second));
                awaitNextBatchRowsWrittenMeanwhile(own); // f2's rows are in, in their own transaction
                Thread.sleep(200);
                newLeader.commit(); // the new leader's epoch is in: the waiting commit reads it and is fenced
            }
            for (CompletableFuture<List<TransferResult>> f : List.of(first, second)) {
                Throwable failure = null;
                try {
                    f.get(10, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    failure = e.getCause();
                }
                assertThat(failure).isInstanceOf(WriteRejected.class).hasMessageContaining("not the leader");
            }
            assertThat(w.isLeading()).isFalse();
            try (Connection c = own.sql()) {
                assertThat(LedgerAssertions.count(c, "select count(*) from transfer where debit_account_id = '" + a + "'")).isZero();
            }
        }
    }

    @Test
    void theNextBatchsRowsGoInWhileTheBatchBeforeWaitsAndItCommitsAfterIt() throws Exception {
        String[] acc = accounts();
        String untouchedByA = accounts()[0];
        String first = id("w1"), second = id("w2"), third = id("w3");
        List<String> answered = new CopyOnWriteArrayList<>();
        CompletableFuture<List<TransferResult>> a;
        CompletableFuture<List<TransferResult>> b;
        try (Connection blocker = holdLeadershipRow()) {
            a = submit(first, acc[0], acc[1], 5);
            a.thenRun(() -> answered.add("a"));
            awaitCommitWaitingOnLock();
            // b (one request, one batch): back over a's two accounts — those balances wait for a's commit, its
            // transfer rows do not — and into an account a did not touch, whose balance need not wait either.
            b = new CompletableFuture<>();
            writer().submit(new WriteCommand.CreateTransfers(Caller.OPERATOR, List.of(
                    new TransferSpec(second, acc[1], acc[0], 2, "EUR", 1, 0, "", 0, Map.of(), null),
                    new TransferSpec(third, acc[0], untouchedByA, 1, "EUR", 1, 0, "", 0, Map.of(), null)),
                    new TransferStatus[2], 0, b));
            b.thenRun(() -> answered.add("b"));
            awaitNextBatchRowsWrittenMeanwhile(ledger);
            try (Connection probe = ledger.sql(); Statement st = probe.createStatement()) {
                probe.setAutoCommit(false);
                st.execute("set local lock_timeout = '200ms'");
                Throwable locked = org.assertj.core.api.Assertions.catchThrowable(() -> st.execute(
                        "select 1 from account where id = '" + untouchedByA + "' for update"));
                assertThat(locked).as("b's transaction already updated the balance a did not touch")
                        .hasMessageContaining("lock timeout");
                probe.rollback();
            }
            Thread.sleep(200);
            assertThat(answered).as("neither is answered before its own commit").isEmpty();
            assertThat(rows("select count(*) from transfer where id in ('" + first + "', '" + second + "')"))
                    .as("nothing is visible before its commit").isZero();
            blocker.rollback();
        }
        assertThat(a.get(10, TimeUnit.SECONDS).get(0).status()).isEqualTo(TransferStatus.CREATED);
        assertThat(b.get(10, TimeUnit.SECONDS)).extracting(TransferResult::status)
                .containsExactly(TransferStatus.CREATED, TransferStatus.CREATED);
        assertThat(answered).containsExactly("a", "b");
        assertThat(rows("select credits_posted from account where id = '" + untouchedByA + "'")).isEqualTo(1);
        assertThat(rows("select debits_posted from account where id = '" + acc[0] + "'")).isEqualTo(5 + 1);
        assertThat(rows("select batch_seq from transfer where id = '" + second + "'"))
                .isEqualTo(rows("select batch_seq from transfer where id = '" + first + "'") + 1);
        assertThat(rows("select credits_posted - debits_posted from account where id = '" + acc[1] + "'")).isEqualTo(3);
        try (Connection c = ledger.sql()) {
            LedgerAssertions.assertConsistent(c);
        }
    }

    @Test
    void whenTheBatchBeforeFailsTheNextIsRolledBackNotAnsweredAndWrittenAgainOnWhatCommitted() throws Exception {
        String[] acc = accounts();
        String lost = id("lost2"), onTop = id("ontop");
        CompletableFuture<List<TransferResult>> a;
        CompletableFuture<List<TransferResult>> b;
        List<String> answered = new CopyOnWriteArrayList<>();
        try (Connection blocker = holdLeadershipRow()) {
            a = submit(lost, acc[0], acc[1], 11);
            awaitCommitWaitingOnLock();
            b = submit(onTop, acc[0], acc[1], 13);
            b.whenComplete((r, e) -> answered.add(e == null ? "b" : "b failed"));
            awaitNextBatchRowsWrittenMeanwhile(ledger);
            // a's commit fails: only its connection is cut while it waits; b's transaction, with its rows, stays.
            try (Connection admin = ledger.sql(); Statement st = admin.createStatement()) {
                st.execute("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'ledger-writer-a'"
                        + " and wait_event_type = 'Lock'");
            }
            Throwable failure = org.assertj.core.api.Assertions.catchThrowable(() -> a.get(10, TimeUnit.SECONDS));
            assertThat(failure).isInstanceOf(ExecutionException.class);
            assertThat(failure.getCause()).isInstanceOf(WriteRejected.class);
            assertThat(((WriteRejected) failure.getCause()).reason()).isEqualTo(WriteRejected.Reason.UNAVAILABLE);
            assertThat(answered).as("b was written on top of a: not answered from that").isEmpty();
            blocker.rollback();
        }
        assertThat(b.get(10, TimeUnit.SECONDS).get(0).status()).isEqualTo(TransferStatus.CREATED);
        assertThat(answered).containsExactly("b");
        assertThat(rows("select count(*) from transfer where id = '" + lost + "'")).isZero();
        assertThat(rows("select count(*) from transfer where id = '" + onTop + "'")).isOne();
        // b's balances were computed again from what committed (without a's 11).
        assertThat(rows("select credits_posted from account where id = '" + acc[1] + "'")).isEqualTo(13);
        assertThat(rows("select dr_debits_posted from transfer where id = '" + onTop + "'")).isEqualTo(13);
        try (Connection c = ledger.sql()) {
            LedgerAssertions.assertConsistent(c);
        }
    }
}
