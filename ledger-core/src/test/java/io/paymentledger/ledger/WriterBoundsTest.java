package io.paymentledger.ledger;

import static io.paymentledger.ledger.support.Fixtures.account;
import static io.paymentledger.ledger.support.Fixtures.id;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.GetNodeStatusRequest;
import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.ledger.node.StandaloneControl;
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
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Every wait of the writer has a bound, and a writer that stops committing says so and steps down (issue #18): the
 * stall watchdog, the sessions' lock and statement timeouts, and a COMMIT whose wait for a second site was cancelled
 * (issue #20, item 7).
 */
class WriterBoundsTest {

    private static String[] accounts(TestLedger t) throws Exception {
        String a = id("ba"), b = id("bb");
        t.ledger.createAccounts(CreateAccountsRequest.newBuilder().addAccounts(account(a, "EUR")).addAccounts(account(b, "EUR"))
                .build()).toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
        return new String[] {a, b};
    }

    private static CompletableFuture<List<TransferResult>> submit(TestLedger t, String id, String from, String to, long amount) {
        CompletableFuture<List<TransferResult>> done = new CompletableFuture<>();
        t.node.writer().submit(new WriteCommand.CreateTransfers(Caller.OPERATOR, List.of(new TransferSpec(id, from, to, amount, "EUR", 1,
                0, "", 0, Map.of(), null)), new TransferStatus[1], 0, done));
        return done;
    }

    /** A session of the test holds the leadership row: the writer's epoch check (FOR SHARE) waits for it. */
    private static Connection holdLeadershipRow(TestLedger t) throws Exception {
        Connection c = t.sql();
        c.setAutoCommit(false);
        try (Statement st = c.createStatement()) {
            st.execute("select epoch from leadership for update");
        }
        return c;
    }

    private static WriteRejected failure(CompletableFuture<?> f, long seconds) throws Exception {
        Throwable t = catchThrowable(() -> f.get(seconds, TimeUnit.SECONDS));
        assertThat(t).as("the call was answered, with an error").isInstanceOf(ExecutionException.class);
        assertThat(t.getCause()).isInstanceOf(WriteRejected.class);
        return (WriteRejected) t.getCause();
    }

    private static NodeStatus status(TestLedger t) throws Exception {
        return t.nodeService.getNodeStatus(GetNodeStatusRequest.getDefaultInstance()).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    private static long count(TestLedger t, String sql) throws Exception {
        try (Connection c = t.sql()) {
            return LedgerAssertions.count(c, sql);
        }
    }

    @Test
    void aWriterThatCommitsNothingWhileWorkWaitsSaysSoAndStepsDownWithinItsBound() throws Exception {
        // A lock timeout far above the stall bounds: here only the watchdog can end the wait.
        BatchWriter.Config config = BatchWriter.Config.defaults().withBounds(new BatchWriter.Bounds(120_000, 120_000, 500, 3_000));
        try (TestLedger t = TestLedger.start(config, new StandaloneControl())) {
            String[] acc = accounts(t);
            String stuck = id("stuck");
            CompletableFuture<List<TransferResult>> write;
            long started;
            try (Connection blocker = holdLeadershipRow(t)) {
                started = System.nanoTime();
                write = submit(t, stuck, acc[0], acc[1], 5);
                // Within seconds the node says its writer is stalled, and on what: the lane, its stage, its backend.
                long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                NodeStatus s = status(t);
                while (s.getWriterStalled().isEmpty() && System.nanoTime() < until) {
                    Thread.sleep(50);
                    s = status(t);
                }
                assertThat(s.getWriterStalled()).startsWith("writer stalled for ").contains("is not answered")
                        .contains("committing batch").contains("backend pid");
                assertThat(t.node.writer().isLeading()).as("before the step-down bound it still leads").isTrue();
                // At the step-down bound: it stops leading and the waiting caller is answered, not left to its deadline
                // (the test still holds the row: only the watchdog ends the wait).
                WriteRejected rejected = failure(write, 20);
                long answeredAfterMs = (System.nanoTime() - started) / 1_000_000;
                assertThat(rejected.reason()).isEqualTo(WriteRejected.Reason.UNAVAILABLE);
                assertThat(answeredAfterMs).as("answered after the watchdog's bound, not after the lock's").isLessThan(60_000);
                assertThat(t.node.writer().isLeading()).isFalse();
                assertThat(t.node.writer().notLeadingReason()).startsWith("writer stalled for ").contains("bound 3000 ms");
                assertThat(status(t).getExplanation()).contains("writer stalled");
                blocker.rollback();
            }
            assertThat(count(t, "select count(*) from transfer where id = '" + stuck + "'")).as("nothing of it committed").isZero();
            // New writes are refused at once (not queued behind the stall), naming why.
            WriteRejected refused = failure(submit(t, id("after"), acc[0], acc[1], 1), 5);
            assertThat(refused).hasMessageContaining("writer stalled");
        }
    }

    @Test
    void aRowLockTheWriterNeedsEndsItsBatchAfterTheLockTimeoutNotNever() throws Exception {
        BatchWriter.Config config = BatchWriter.Config.defaults().withBounds(new BatchWriter.Bounds(1_000, 60_000, 30_000, 60_000));
        try (TestLedger t = TestLedger.start(config, new StandaloneControl())) {
            String[] acc = accounts(t);
            String locked = id("locked");
            CompletableFuture<List<TransferResult>> write;
            try (Connection blocker = holdLeadershipRow(t)) {
                write = submit(t, locked, acc[0], acc[1], 5);
                WriteRejected rejected = failure(write, 20);
                assertThat(rejected.reason()).isEqualTo(WriteRejected.Reason.UNAVAILABLE);
                assertThat(rejected).hasMessageContaining("lock timeout");
                blocker.rollback();
            }
            assertThat(count(t, "select count(*) from transfer where id = '" + locked + "'")).isZero();
            // The writer goes on: the next write commits.
            assertThat(submit(t, id("next"), acc[0], acc[1], 7).get(20, TimeUnit.SECONDS).get(0).status())
                    .isEqualTo(TransferStatus.CREATED);
        }
    }

    @Test
    void aTakeoversEpochClaimOnALockedLeadershipRowFailsAfterTheLockTimeoutNotNever() throws Exception {
        try (TestLedger t = TestLedger.start()) {
            long next = t.node.writer().epoch() + 1;
            try (Connection blocker = holdLeadershipRow(t)) {
                // Before, the claim waited for the row as long as the session held it, and the agent with it, holding
                // the leader lock (so no other region could take over).
                CompletableFuture<Boolean> claim = CompletableFuture.supplyAsync(() -> {
                    try {
                        return t.node.claimEpoch(next);
                    } catch (java.sql.SQLException e) {
                        throw new java.util.concurrent.CompletionException(e);
                    }
                });
                Throwable failed = catchThrowable(() -> claim.get(20, TimeUnit.SECONDS));
                assertThat(failed).as("the claim ended with an error, in time").isInstanceOf(ExecutionException.class)
                        .hasMessageContaining("lock timeout");
                blocker.rollback();
            }
            assertThat(t.node.claimEpoch(next)).as("with the row free, the claim succeeds").isTrue();
        }
    }

    @Test
    void aCommitWhoseWaitForASecondSiteWasCancelledIsNotAcknowledged() throws Exception {
        try (TestLedger t = TestLedger.start()) {
            String[] acc = accounts(t);
            try (Connection admin = t.sql(); Statement st = admin.createStatement()) {
                // A synchronous standby that never comes: every commit waits for it (PostgreSQL's own quorum wait).
                st.execute("alter system set synchronous_standby_names = 'nobody'");
                st.execute("select pg_reload_conf()");
            }
            String cancelled = id("cancelled");
            CompletableFuture<List<TransferResult>> write = null;
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            // The reload takes effect when the checkpointer reads it: until then a commit does not wait.
            while (System.nanoTime() < until) {
                write = submit(t, cancelled, acc[0], acc[1], 5);
                if (count(t, "select count(*) from pg_stat_activity where application_name = 'ledger-writer-a'"
                        + " and wait_event = 'SyncRep'") == 1 || awaitSyncRepWait(t, 2_000)) {
                    break;
                }
                assertThat(write.get(10, TimeUnit.SECONDS).get(0).status()).isIn(TransferStatus.CREATED, TransferStatus.EXISTS);
                cancelled = id("cancelled");
            }
            try (Connection admin = t.sql(); Statement st = admin.createStatement()) {
                st.execute("select pg_cancel_backend(pid) from pg_stat_activity where application_name = 'ledger-writer-a'"
                        + " and wait_event = 'SyncRep'");
                st.execute("alter system reset synchronous_standby_names");
                st.execute("select pg_reload_conf()");
            }
            // PostgreSQL committed it locally and said so in a WARNING only: no second site has it, so no OK.
            WriteRejected rejected = failure(write, 20);
            assertThat(rejected.reason()).isEqualTo(WriteRejected.Reason.UNAVAILABLE);
            assertThat(rejected).hasMessageContaining("without a second site");
        }
    }

    @Test
    void aTakeoversSchemaMigrationWhoseSecondSiteIsMissingEndsNotNever() throws Exception {
        try (TestLedger t = TestLedger.start()) {
            String name = "fresh_" + Long.toHexString(System.nanoTime());
            try (Connection admin = t.sql(); Statement st = admin.createStatement()) {
                st.execute("create database " + name);
                st.execute("create table sync_probe (x int)");
                // A synchronous standby that never comes (the other region and the keeper are gone).
                st.execute("alter system set synchronous_standby_names = 'nobody'");
                st.execute("select pg_reload_conf()");
            }
            try {
                awaitCommitsWaitForASecondSite(t);
                java.util.Properties p = new java.util.Properties();
                p.setProperty("user", io.paymentledger.replication.postgres.PgCluster.SUPERUSER);
                try (io.paymentledger.ledger.store.Database fresh = new io.paymentledger.ledger.store.Database(
                        t.postgres.jdbcUrl(name), p, 2)) {
                    // Before, the migration's first COMMIT waited for the missing standby for good, and a takeover
                    // with it, holding the leader lock.
                    CompletableFuture<String> migrated = CompletableFuture.supplyAsync(fresh::migrate);
                    assertThat(migrated.get(60, TimeUnit.SECONDS)).as("the schema version after the migration").isNotEmpty();
                    try (Connection c = fresh.connect("test"); Statement st = c.createStatement();
                            var rs = st.executeQuery("select count(*) from information_schema.tables where table_name = 'leadership'")) {
                        rs.next();
                        assertThat(rs.getLong(1)).as("the schema is there").isEqualTo(1);
                    }
                }
            } finally {
                try (Connection admin = t.sql(); Statement st = admin.createStatement()) {
                    st.execute("alter system reset synchronous_standby_names");
                    st.execute("select pg_reload_conf()");
                }
            }
        }
    }

    /**
     * Waits (20 s at most) until PostgreSQL's commits wait for the synchronous quorum (the checkpointer has read the
     * reload): a probe session's insert is seen waiting (SyncRep), then cancelled.
     */
    private static void awaitCommitsWaitForASecondSite(TestLedger t) throws Exception {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < until) {
            CompletableFuture<Void> insert = CompletableFuture.runAsync(() -> {
                try (Connection c = t.sql(); Statement st = c.createStatement()) {
                    st.execute("set application_name = 'sync-probe'");
                    st.execute("insert into sync_probe values (1)");
                } catch (java.sql.SQLException e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            });
            long probeUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500);
            while (System.nanoTime() < probeUntil && !insert.isDone()) {
                if (count(t, "select count(*) from pg_stat_activity where application_name = 'sync-probe' and wait_event = 'SyncRep'") == 1) {
                    try (Connection c = t.sql(); Statement st = c.createStatement()) {
                        st.execute("select pg_cancel_backend(pid) from pg_stat_activity where application_name = 'sync-probe'");
                    }
                    insert.get(10, TimeUnit.SECONDS);
                    return;
                }
                Thread.sleep(20);
            }
            insert.get(10, TimeUnit.SECONDS);
        }
        throw new AssertionError("PostgreSQL's commits did not start waiting for the synchronous standby within 20 s");
    }

    /** Whether the writer's COMMIT waits for the synchronous quorum within {@code ms}. */
    private static boolean awaitSyncRepWait(TestLedger t, long ms) throws Exception {
        long until = System.nanoTime() + ms * 1_000_000;
        while (System.nanoTime() < until) {
            if (count(t, "select count(*) from pg_stat_activity where application_name = 'ledger-writer-a'"
                    + " and wait_event = 'SyncRep'") == 1) {
                return true;
            }
            Thread.sleep(20);
        }
        return false;
    }
}
