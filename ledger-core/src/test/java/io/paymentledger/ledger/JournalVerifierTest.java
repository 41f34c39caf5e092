package io.paymentledger.ledger;

import static io.paymentledger.api.v1.CreateTransferStatus.CREATE_TRANSFER_CREATED;
import static io.paymentledger.api.v1.CreateTransferStatus.CREATE_TRANSFER_EXCEEDS_CREDITS;
import static io.paymentledger.api.v1.CreateTransferStatus.CREATE_TRANSFER_LINKED_EVENT_FAILED;
import static io.paymentledger.db.Tables.ACCOUNT;
import static io.paymentledger.db.Tables.JOURNAL_BATCH;
import static io.paymentledger.db.Tables.TRANSFER;
import static io.paymentledger.ledger.support.Fixtures.account;
import static io.paymentledger.ledger.support.Fixtures.id;
import static io.paymentledger.ledger.support.Fixtures.linked;
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
import io.paymentledger.api.v1.LookupTransfersRequest;
import io.paymentledger.api.v1.PaymentResult;
import io.paymentledger.api.v1.PendingState;
import io.paymentledger.api.v1.RefundRequest;
import io.paymentledger.api.v1.Transfer;
import io.paymentledger.ledger.account.AccountState;
import io.paymentledger.ledger.journal.JournalHash;
import io.paymentledger.ledger.journal.JournalVerifier;
import io.paymentledger.ledger.journal.JournalVerifier.Kind;
import io.paymentledger.ledger.journal.JournalVerifier.Report;
import io.paymentledger.ledger.journal.PeriodicSigner;
import io.paymentledger.ledger.store.Database;
import io.paymentledger.ledger.store.Rows;
import io.paymentledger.ledger.support.LedgerAssertions;
import io.paymentledger.ledger.support.TestLedger;
import io.paymentledger.ledger.transfer.TransferRow;
import io.paymentledger.security.journal.JournalSigner;
import io.paymentledger.security.pki.IssuedCert;
import io.paymentledger.security.pki.Pki;
import io.vertx.core.Future;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The journal verifier on a real ledger built through the gRPC API (every batch signed), then tampered with
 * behind the ledger's back: one direct SQL change at a time, committed, verified from a new connection, and
 * put back. Each verification runs twice, with the default paging and with tiny pages (3 batches, 4 rows), so
 * page and range boundaries fall everywhere.
 */
class JournalVerifierTest {

    @TempDir
    static Path dir;

    static TestLedger t;
    static IssuedCert nodeCert;
    static Pki pki;
    static Map<String, byte[]> trusted;
    static Connection sql;

    static String bank, alice, shop, bankUsd, bob;
    static String funding, paid, held, postedPart, voided, chainFirst, expiring, payment;

    @BeforeAll
    static void buildLedger() throws Exception {
        pki = Pki.init(dir.resolve("pki"), "ledger.local");
        nodeCert = pki.issueService("node-a", "a", "ledger", Duration.ofDays(1));
        trusted = Map.of(nodeCert.identity(), nodeCert.cert().getPublicKey().getEncoded());
        t = TestLedger.start();
        // interval 0: every batch gets a checkpoint.
        t.node.writer().checkpointSigner(new PeriodicSigner(JournalSigner.of(nodeCert), nodeCert.identity(), 0, System::nanoTime));
        sql = t.sql();

        bank = id("bank");
        alice = id("alice");
        shop = id("shop");
        bankUsd = id("bank-usd");
        bob = id("bob");
        assertThat(t.ledger.createAccounts(CreateAccountsRequest.newBuilder().addAccounts(account(bank, "EUR"))
                .addAccounts(wallet(alice, "EUR")).addAccounts(wallet(shop, "EUR").toBuilder().setOwner("shop-1")
                        .putMetadata("city", "Lyon"))
                .addAccounts(account(bankUsd, "USD")).addAccounts(wallet(bob, "USD")).build()).await().getResultsList())
                .allMatch(r -> r.getStatus() == CreateAccountStatus.CREATE_ACCOUNT_CREATED);

        funding = id("fund");
        paid = id("paid");
        assertThat(transfers(transfer(funding, bank, alice, 10_000, "EUR"), transfer(id("fund-usd"), bankUsd, bob, 5_000, "USD")))
                .containsOnly(CREATE_TRANSFER_CREATED);
        assertThat(transfers(transfer(paid, alice, shop, 1_000, "EUR").toBuilder().putMetadata("order", "A-1001").build()))
                .containsOnly(CREATE_TRANSFER_CREATED);

        // Holds: one posted in two parts, one voided after a part was posted.
        held = id("hold");
        String other = id("hold");
        assertThat(transfers(pending(transfer(held, alice, shop, 300, "EUR"), 0), pending(transfer(other, alice, shop, 200, "EUR"), 0)))
                .containsOnly(CREATE_TRANSFER_CREATED);
        postedPart = id("post");
        assertThat(transfers(post(postedPart, held, 100))).containsOnly(CREATE_TRANSFER_CREATED);
        voided = id("void");
        assertThat(transfers(post(id("post"), held, 200), post(id("post"), other, 50), voidOf(voided, other)))
                .containsOnly(CREATE_TRANSFER_CREATED);

        // A linked chain that is written, and one that fails after its first item got a timestamp.
        chainFirst = id("chain");
        assertThat(transfers(linked(transfer(chainFirst, alice, shop, 40, "EUR")), linked(transfer(id("chain"), shop, bank, 30, "EUR")),
                transfer(id("chain"), bank, alice, 10, "EUR"))).containsOnly(CREATE_TRANSFER_CREATED);
        assertThat(transfers(linked(transfer(id("chain"), alice, shop, 5, "EUR")), transfer(id("chain"), bob, bankUsd, 1_000_000, "USD")))
                .containsExactly(CREATE_TRANSFER_LINKED_EVENT_FAILED, CREATE_TRANSFER_EXCEEDS_CREDITS);

        // A payment: authorize, capture in part, refund.
        payment = id("pay");
        assertThat(t.payments.authorize(AuthorizeRequest.newBuilder().setPaymentId(payment).setPayerAccountId(alice)
                .setMerchantAccountId(shop).setAmount(500).setCurrency("EUR").setExpiresInSeconds(600).build()).await()
                .getResult()).isEqualTo(PaymentResult.PAYMENT_RESULT_OK);
        assertThat(t.payments.capture(CaptureRequest.newBuilder().setPaymentId(payment).setCaptureId(id("cap")).setAmount(400)
                .build()).await().getResult()).isEqualTo(PaymentResult.PAYMENT_RESULT_OK);
        assertThat(t.payments.refund(RefundRequest.newBuilder().setPaymentId(payment).setRefundId(id("ref")).setAmount(150)
                .build()).await().getResult()).isEqualTo(PaymentResult.PAYMENT_RESULT_OK);

        // Concurrent requests: several per batch.
        List<Future<?>> calls = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            calls.add(t.ledger.createTransfers(CreateTransfersRequest.newBuilder()
                    .addTransfers(transfer(id("many"), bank, alice, 1 + i, "EUR"))
                    .addTransfers(transfer(id("many"), bankUsd, bob, 2 + i, "USD")).build()));
        }
        Future.all(calls).await();

        // A hold that times out: the ledger writes its "#expired" transfer itself.
        expiring = id("expiring");
        assertThat(transfers(pending(transfer(expiring, alice, bank, 70, "EUR"), 1))).containsOnly(CREATE_TRANSFER_CREATED);
        long deadline = System.nanoTime() + 15_000_000_000L;
        while (pendingState(expiring) != PendingState.PENDING_STATE_EXPIRED && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertThat(pendingState(expiring)).isEqualTo(PendingState.PENDING_STATE_EXPIRED);
        assertThat(transfers(transfer(id("last"), bank, alice, 1, "EUR"))).containsOnly(CREATE_TRANSFER_CREATED);
        awaitIdle();
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            if (sql != null) {
                // Every change was put back: the ledger verifies clean again.
                assertThat(verify(trusted).firstProblem()).isNull();
                LedgerAssertions.assertConsistent(sql);
                sql.close();
            }
        } finally {
            if (t != null) {
                t.close();
            }
        }
    }

    static List<CreateTransferStatus> transfers(Transfer... transfers) {
        return t.ledger.createTransfers(CreateTransfersRequest.newBuilder().addAllTransfers(List.of(transfers)).build())
                .await().getResultsList().stream().map(r -> r.getStatus()).toList();
    }

    static PendingState pendingState(String id) {
        return t.ledger.lookupTransfers(LookupTransfersRequest.newBuilder().addIds(id).build()).await().getResults(0).getPendingState();
    }

    static void awaitIdle() throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!t.node.writer().isIdle() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
    }

    /** Verifies from a new connection with the default paging and with tiny pages; both must agree. */
    static Report verify(Map<String, byte[]> trustedKeys) throws SQLException {
        JournalVerifier v = trustedKeys == null ? JournalVerifier.withoutTrustedKeys() : JournalVerifier.trusting(trustedKeys);
        Report big;
        Report small;
        try (Connection c = t.sql()) {
            big = v.verify(c);
            small = v.withPaging(3, 4).verify(c);
            assertThat(c.getAutoCommit()).as("the connection's mode is restored").isTrue();
        }
        assertThat(small.firstProblem()).isEqualTo(big.firstProblem());
        assertThat(small.batches()).isEqualTo(big.batches());
        assertThat(small.transfers()).isEqualTo(big.transfers());
        return big;
    }

    static Report verify() throws SQLException {
        return verify(trusted);
    }

    interface SqlAction {
        void run(Connection c) throws Exception;
    }

    /**
     * Commits {@code change} (rows of {@code table} matching {@code where}, saved first), verifies, and puts the
     * saved rows back whatever happens.
     */
    static Report tampered(String table, String where, SqlAction change) throws Exception {
        return tampered(table, where, change, trusted);
    }

    static Report tampered(String table, String where, SqlAction change, Map<String, byte[]> trustedKeys) throws Exception {
        String saved = "saved_" + SAVES.incrementAndGet();
        exec("create temp table " + saved + " as select * from " + table + " where " + where);
        try {
            change.run(sql);
            return verify(trustedKeys);
        } finally {
            sql.setAutoCommit(false);
            exec("delete from " + table + " where " + where);
            exec("insert into " + table + " select * from " + saved);
            sql.commit();
            sql.setAutoCommit(true);
            exec("drop table " + saved);
        }
    }

    static final java.util.concurrent.atomic.AtomicInteger SAVES = new java.util.concurrent.atomic.AtomicInteger();

    static void exec(String statement, Object... params) throws SQLException {
        try (PreparedStatement ps = sql.prepareStatement(statement)) {
            for (int i = 0; i < params.length; i++) {
                ps.setObject(i + 1, params[i]);
            }
            ps.executeUpdate();
        }
    }

    static long one(String query, Object... params) throws SQLException {
        try (PreparedStatement ps = sql.prepareStatement(query)) {
            for (int i = 0; i < params.length; i++) {
                ps.setObject(i + 1, params[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).isTrue();
                return rs.getLong(1);
            }
        }
    }

    static long batchOfTransfer(String id) throws SQLException {
        return one("select batch_seq from transfer where id = ?", id);
    }

    static long lastBatch() throws SQLException {
        return one("select max(seq) from journal_batch");
    }

    static byte[] bytes(String query, Object... params) throws SQLException {
        try (PreparedStatement ps = sql.prepareStatement(query)) {
            for (int i = 0; i < params.length; i++) {
                ps.setObject(i + 1, params[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).isTrue();
                return rs.getBytes(1);
            }
        }
    }

    static void assertProblem(Report r, long batch, Kind kind, String row, String detailPart) {
        assertThat(r.sound()).as("report %s", r).isFalse();
        assertThat(r.firstProblem().batchSeq()).as("batch of %s", r.firstProblem()).isEqualTo(batch);
        assertThat(r.firstProblem().kind()).as("kind of %s", r.firstProblem()).isEqualTo(kind);
        assertThat(r.firstProblem().row()).as("row of %s", r.firstProblem()).isEqualTo(row);
        assertThat(r.firstProblem().detail()).contains(detailPart);
        if (kind != Kind.ACCOUNT_BALANCE) {
            assertThat(r.batches()).as("batches verified before the problem").isEqualTo(batch - 1);
        }
        System.out.println("verify: " + r.firstProblem());
    }

    // ------------------------------------------------------------------ the untouched ledger

    @Test
    void theLedgerAsWrittenIsSound() throws Exception {
        Report r = verify();
        assertThat(r.firstProblem()).as("%s", r.firstProblem()).isNull();
        assertThat(r.sound()).isTrue();
        long batches = lastBatch();
        assertThat(batches).isGreaterThan(12);
        assertThat(r.batches()).isEqualTo(batches);
        assertThat(r.transfers()).isEqualTo(one("select count(*) from transfer"));
        assertThat(r.accounts()).isEqualTo(one("select count(*) from account")).isEqualTo(5);
        assertThat(r.checkpoints()).as("every batch was signed").isEqualTo(batches).isEqualTo(one("select count(*) from journal_checkpoint"));
        assertThat(r.lastCheckpointSeq()).isEqualTo(batches);
        assertThat(r.signersTrusted()).isTrue();
        assertThat(one("select count(*) from transfer where flags & 16 <> 0")).as("an expiry was replayed").isEqualTo(1);
        assertThat(one("select count(*) from journal_batch where transfer_count > 2")).as("batches of several requests").isPositive();
        assertThat(JournalVerifier.withoutTrustedKeys().verify(sql).signersTrusted()).isFalse();
    }

    @Test
    void theVerifierReadsInsideTheCallersTransaction() throws Exception {
        try (Connection c = t.sql()) {
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                st.executeUpdate("update transfer set amount = amount + 1 where id = '" + paid + "'");
            }
            Report r = JournalVerifier.trusting(trusted).verify(c);
            c.rollback();
            assertProblem(r, batchOfTransfer(paid), Kind.HASH, paid, "balances recorded after the transfer");
        }
        assertThat(verify().sound()).isTrue();
    }

    // ------------------------------------------------------------------ single-byte changes behind the ledger's back

    @Test
    void anAmountChangedByOneIsFoundInItsBatchAndTheReplayNamesTheTransfer() throws Exception {
        Report r = tampered("transfer", "id = '" + paid + "'", c -> exec("update transfer set amount = amount + 1 where id = ?", paid));
        assertProblem(r, batchOfTransfer(paid), Kind.HASH, paid, "the replay points at " + paid);
        assertThat(r.firstProblem().detail()).contains("the debit account " + alice + "'s balances recorded after the transfer");
    }

    @Test
    void aByteOfATransfersMetadataIsFound() throws Exception {
        assertThat(one("select count(*) from transfer where id = ? and metadata->>'order' = 'A-1001'", paid)).isEqualTo(1);
        Report r = tampered("transfer", "id = '" + paid + "'",
                c -> exec("update transfer set metadata = replace(metadata::text, 'A-1001', 'A-1002')::jsonb where id = ?", paid));
        assertProblem(r, batchOfTransfer(paid), Kind.HASH, null, "a field that does not move money");
    }

    @Test
    void aByteOfAnAccountsOwnerIsFound() throws Exception {
        long created = one("select batch_seq from account where id = ?", shop);
        Report r = tampered("account", "id = '" + shop + "'", c -> exec("update account set owner = 'shop-2' where id = ?", shop));
        assertProblem(r, created, Kind.HASH, null, "a field that does not move money");
    }

    @Test
    void aStoredBalanceChangedByOneIsFoundAtTheAccountsLastBatch() throws Exception {
        long last = one("select max(batch_seq) from transfer where debit_account_id = ? or credit_account_id = ?", shop, shop);
        Report r = tampered("account", "id = '" + shop + "'",
                c -> exec("update account set credits_posted = credits_posted + 1 where id = ?", shop));
        assertProblem(r, last, Kind.ACCOUNT_BALANCE, shop, "but the replay of its transfers gives");
        assertThat(r.batches()).as("the whole journal was verified first").isEqualTo(lastBatch());
    }

    @Test
    void aByteOfAStoredJournalHashIsFound() throws Exception {
        long seq = batchOfTransfer(held);
        Report r = tampered("journal_batch", "seq = " + seq, c -> {
            byte[] hash = bytes("select hash from journal_batch where seq = ?", seq);
            hash[7] ^= 1;
            exec("update journal_batch set hash = ? where seq = ?", hash, seq);
        });
        assertProblem(r, seq, Kind.HASH, null, "which batch " + (seq + 1) + " records as its prev_hash");
        assertThat(r.firstProblem().detail()).contains("was altered");
        assertThat(r.batches()).isEqualTo(seq - 1);
    }

    @Test
    void aDeletedTransferIsFound() throws Exception {
        long seq = batchOfTransfer(voided);
        Report r = tampered("transfer", "id = '" + voided + "'", c -> exec("delete from transfer where id = ?", voided));
        assertProblem(r, seq, Kind.ROW_COUNT, null, "rows were deleted");
    }

    @Test
    void aByteOfACheckpointSignatureIsFound() throws Exception {
        long seq = batchOfTransfer(chainFirst);
        Report r = tampered("journal_checkpoint", "batch_seq = " + seq, c -> {
            byte[] signature = bytes("select signature from journal_checkpoint where batch_seq = ?", seq);
            signature[signature.length - 1] ^= 1;
            exec("update journal_checkpoint set signature = ? where batch_seq = ?", signature, seq);
        });
        assertProblem(r, seq, Kind.CHECKPOINT_SIGNATURE, nodeCert.identity(), "does not verify over the batch's hash");
    }

    @Test
    void aCheckpointSignedByAnUntrustedKeyIsFoundOnlyWhenKeysAreTrusted() throws Exception {
        // A forged CA issues the same identity; its key signs the real hash: the signature itself is valid.
        Pki forged = Pki.init(dir.resolve("forged-pki"), "ledger.local");
        IssuedCert rogue = forged.issueService("node-a", "a", "ledger", Duration.ofDays(1));
        long seq = batchOfTransfer(postedPart);
        SqlAction resign = c -> {
            byte[] hash = bytes("select hash from journal_batch where seq = ?", seq);
            var s = JournalSigner.of(rogue).sign(hash);
            exec("update journal_checkpoint set public_key = ?, signature = ? where batch_seq = ?", s.publicKey(), s.signature(), seq);
        };
        Report r = tampered("journal_checkpoint", "batch_seq = " + seq, resign);
        assertProblem(r, seq, Kind.CHECKPOINT_SIGNER, nodeCert.identity(), "which is not a trusted key of " + nodeCert.identity());
        assertThat(r.firstProblem().detail()).contains(JournalVerifier.fingerprint(rogue.cert().getPublicKey().getEncoded()));

        assertThat(tampered("journal_checkpoint", "batch_seq = " + seq, resign, null).sound())
                .as("without trusted keys a valid signature by any key passes").isTrue();

        Report unknown = tampered("journal_checkpoint", "batch_seq = " + seq,
                c -> exec("update journal_checkpoint set signer = 'spiffe://ledger.local/region/z/ledger' where batch_seq = ?", seq));
        assertProblem(unknown, seq, Kind.CHECKPOINT_SIGNER, "spiffe://ledger.local/region/z/ledger", "is not a trusted signer");
    }

    // ------------------------------------------------------------------ what the hash chain alone cannot catch

    @Test
    void aRewrittenAndRehashedChainIsCaughtByTheSignedCheckpoint() throws Exception {
        long seq = batchOfTransfer(paid);
        long last = lastBatch();
        Report[] withoutCheckpoints = new Report[1];
        Report r = tampered("transfer", "id = '" + paid + "'", c -> {
            exec("update transfer set metadata = '{\"order\": \"A-9999\"}' where id = ?", paid);
            Report rehashed = tampered("journal_batch", "seq >= " + seq, c2 -> {
                rehash(seq, last);
                // The chain alone is consistent again: only the signatures over the old hashes give it away.
                withoutCheckpoints[0] = tampered("journal_checkpoint", "batch_seq >= " + seq,
                        c3 -> exec("delete from journal_checkpoint where batch_seq >= ?", seq));
            });
            assertProblem(rehashed, seq, Kind.CHECKPOINT_HASH, nodeCert.identity(), "the journal was rewritten after it was signed");
        });
        assertProblem(r, seq, Kind.HASH, null, "a field that does not move money");
        assertThat(withoutCheckpoints[0].firstProblem()).as("%s", withoutCheckpoints[0].firstProblem()).isNull();
        assertThat(withoutCheckpoints[0].lastCheckpointSeq()).isEqualTo(seq - 1);
    }

    /** What an attacker without the signing key can do: recompute every hash from {@code from} on. */
    static void rehash(long from, long to) {
        DSLContext dsl = Database.dsl(sql);
        byte[] prev = dsl.select(JOURNAL_BATCH.HASH).from(JOURNAL_BATCH).where(JOURNAL_BATCH.SEQ.eq(from - 1)).fetchOne(JOURNAL_BATCH.HASH);
        for (long seq = from; seq <= to; seq++) {
            Record h = dsl.selectFrom(JOURNAL_BATCH).where(JOURNAL_BATCH.SEQ.eq(seq)).fetchOne();
            List<AccountState> accounts = dsl.selectFrom(ACCOUNT).where(ACCOUNT.BATCH_SEQ.eq(seq)).orderBy(ACCOUNT.CREATED_NS)
                    .fetch(Rows::account);
            List<TransferRow> transfers = dsl.selectFrom(TRANSFER).where(TRANSFER.BATCH_SEQ.eq(seq)).orderBy(TRANSFER.TIMESTAMP_NS)
                    .fetch(Rows::transfer);
            byte[] hash = JournalHash.next(prev, seq, h.get(JOURNAL_BATCH.EPOCH), accounts, transfers);
            dsl.update(JOURNAL_BATCH).set(JOURNAL_BATCH.PREV_HASH, prev).set(JOURNAL_BATCH.HASH, hash)
                    .where(JOURNAL_BATCH.SEQ.eq(seq)).execute();
            prev = hash;
        }
    }
}
