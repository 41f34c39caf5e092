package io.paymentledger.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.paymentledger.api.v1.Account;
import io.paymentledger.api.v1.CreateAccountStatus;
import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateTransferResult;
import io.paymentledger.api.v1.CreateTransferStatus;
import io.paymentledger.api.v1.Transfer;
import io.paymentledger.api.v1.TransferFlags;
import io.paymentledger.ledger.support.TestLedger;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The merchants' client against a real ledger node on a real PostgreSQL. */
class LedgerClientTest {

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

    private static LedgerClient client(LedgerClient.Limits limits) {
        return LedgerClient.builder().address("127.0.0.1", ledger.node.grpcPort()).plaintextForTests().limits(limits).build();
    }

    private static void accounts(LedgerClient c, String... ids) {
        CreateAccountsRequest.Builder req = CreateAccountsRequest.newBuilder();
        for (String id : ids) {
            req.addAccounts(Account.newBuilder().setId(id).setCurrency("EUR").setCode(1));
        }
        assertThat(c.createAccounts(req.build()).join().getResultsList())
                .allSatisfy(r -> assertThat(r.getStatus()).isEqualTo(CreateAccountStatus.CREATE_ACCOUNT_CREATED));
    }

    private static Transfer transfer(String id, String from, String to, long amount) {
        return Transfer.newBuilder().setId(id).setDebitAccountId(from).setCreditAccountId(to).setAmount(amount)
                .setCurrency("EUR").setCode(1).build();
    }

    /** Rows of the transfer table with this id prefix, and the credits posted of an account, read from the database. */
    private static long count(String sql, String arg) throws Exception {
        try (Connection c = ledger.sql(); PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, arg);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    private static long transfersWithPrefix(String prefix) throws Exception {
        return count("select count(*) from transfer where id like ?", prefix + "%");
    }

    private static long creditsPosted(String account) throws Exception {
        return count("select credits_posted from account where id = ?", account);
    }

    @Test
    void concurrentSingleTransfersGoOutInFewRequestsAndEachCallerGetsItsOwnResult() throws Exception {
        try (LedgerClient c = client(LedgerClient.Limits.defaults())) {
            accounts(c, "bt-payer", "bt-shop");
            int calls = 2_000;
            List<CompletableFuture<CreateTransferResult>> results = new ArrayList<>();
            for (int i = 0; i < calls; i++) {
                results.add(c.createTransfer(transfer("bt-" + i, "bt-payer", "bt-shop", 1 + i % 7)));
            }
            long expected = 0;
            for (int i = 0; i < calls; i++) {
                CreateTransferResult r = results.get(i).get(30, TimeUnit.SECONDS);
                assertThat(r.getId()).isEqualTo("bt-" + i);
                assertThat(r.getIndex()).isZero();
                assertThat(r.getStatus()).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
                expected += 1 + i % 7;
            }
            // 2,000 calls, at most 4 requests in flight: the calls waiting behind them rode together.
            assertThat(c.batchedRequests()).isBetween(1L, calls / 10L);
            assertThat(transfersWithPrefix("bt-")).isEqualTo(calls);
            assertThat(creditsPosted("bt-shop")).isEqualTo(expected);
        }
    }

    @Test
    void aBatchRefusedWhileNobodyLeadsIsRetriedWithTheSameIdsAndAppliedOnce() throws Exception {
        try (LedgerClient c = client(LedgerClient.Limits.defaults())) {
            accounts(c, "ru-payer", "ru-shop");
            long epoch = ledger.node.writer().epoch();
            ledger.node.writer().stepDown("test: a failover in progress");
            List<CompletableFuture<CreateTransferResult>> results = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                results.add(c.createTransfer(transfer("ru-" + i, "ru-payer", "ru-shop", 10)));
            }
            Thread.sleep(400);
            assertThat(results).noneMatch(CompletableFuture::isDone);
            ledger.node.writer().lead(epoch);
            for (CompletableFuture<CreateTransferResult> r : results) {
                assertThat(r.get(30, TimeUnit.SECONDS).getStatus()).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
            }
            assertThat(c.retries()).isPositive();
            assertThat(transfersWithPrefix("ru-")).isEqualTo(50);
            assertThat(creditsPosted("ru-shop")).isEqualTo(500);
        }
    }

    @Test
    void anAttemptThatTimedOutButWasAppliedIsAnsweredExistsOnItsRetryNeverTwice() throws Exception {
        LedgerClient.Limits d = LedgerClient.Limits.defaults();
        // Attempts of 300 ms; the commit of the first is held for 1.5 s (the writer reads the epoch row FOR SHARE).
        LedgerClient.Limits limits = new LedgerClient.Limits(300, 20_000, 20, 200, d.batchTransfersMax(), d.batchesInFlightMax(),
                d.queuedTransfersMax(), 1);
        try (LedgerClient setup = client(d)) {
            // With the default attempt time: a 300 ms attempt could time out on a busy machine and be answered EXISTS.
            accounts(setup, "to-payer", "to-shop");
        }
        try (LedgerClient c = client(limits); Connection blocker = ledger.sql()) {
            blocker.setAutoCommit(false);
            CountDownLatch locked = new CountDownLatch(1);
            Thread holder = Thread.ofVirtual().start(() -> {
                try (Statement st = blocker.createStatement()) {
                    st.execute("select epoch from leadership for update");
                    locked.countDown();
                    Thread.sleep(1_500);
                    blocker.rollback();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            assertThat(locked.await(10, TimeUnit.SECONDS)).isTrue();
            CreateTransferResult r = c.createTransfer(transfer("to-1", "to-payer", "to-shop", 42)).get(30, TimeUnit.SECONDS);
            holder.join();
            // The first attempt's transfer was committed once the lock went; a retry found it there.
            assertThat(c.retries()).isPositive();
            assertThat(r.getStatus()).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_EXISTS);
            assertThat(r.getTimestampNs()).isPositive();
            assertThat(transfersWithPrefix("to-")).isEqualTo(1);
            assertThat(creditsPosted("to-shop")).isEqualTo(42);
        }
    }

    @Test
    void aLinkedSingleTransferIsRefusedBeforeItCouldChainIntoAnotherCallersTransfer() {
        try (LedgerClient c = client(LedgerClient.Limits.defaults())) {
            Transfer linked = transfer("ln-1", "a", "b", 1).toBuilder().setFlags(TransferFlags.newBuilder().setLinked(true)).build();
            assertThatThrownBy(() -> c.createTransfer(linked).join()).hasCauseInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("cannot be LINKED");
        }
    }
}
