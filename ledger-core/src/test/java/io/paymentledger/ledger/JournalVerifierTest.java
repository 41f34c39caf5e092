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
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The journal verifier on a real ledger built through the gRPC API (every batch signed; the node's certificate
 * is renewed, with a new key, halfway), then tampered with behind the ledger's back: one direct SQL change at a
 * time, committed, verified from a new connection, and put back. Each verification runs twice, with the default
 * paging and with tiny pages (3 batches, 4 rows), so page and range boundaries fall everywhere.
 */
class JournalVerifierTest {

    @TempDir
    static Path dir;

    static final String TRUST_DOMAIN = "ledger.local";

    static TestLedger t;
    /** The node's first certificate; {@link #renewedCert} replaced it (same identity, new key) halfway. */
    static IssuedCert nodeCert;
    static IssuedCert renewedCert;
    static JournalSigner firstKey;
    static JournalSigner renewedKey;
    static Pki pki;
    /** Both keys of the node (what {@code --trust-cert} with the earlier certificate gives). */
    static Map<String, List<byte[]>> trusted;
    static Connection sql;

    static String bank, alice, shop, bankUsd, bob;
    static String funding, paid, held, postedPart, voided, chainFirst, expiring, payment;

    @BeforeAll
    static void buildLedger() throws Exception {
        pki = Pki.init(dir.resolve("pki"), TRUST_DOMAIN);
        nodeCert = pki.issueService("node-a", "a", "ledger", Duration.ofDays(1));
        firstKey = JournalSigner.of(nodeCert);
        t = TestLedger.start();
        // interval 0: every batch gets a checkpoint.
        t.node.writer().checkpointSigner(new PeriodicSigner(nodeCert, 0, System::nanoTime));
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

        // The node's certificate is renewed (as CertificateRenewer does: same identity, new key); the writer signs
        // the following batches with the new one (as NodeProcess does).
        awaitIdle();
        renewedCert = pki.reissue(nodeCert);
        renewedKey = JournalSigner.of(renewedCert);
        t.node.writer().checkpointSigner(new PeriodicSigner(renewedCert, 0, System::nanoTime));
        trusted = Map.of(nodeCert.identity(), List.of(firstKey.publicKey(), renewedKey.publicKey()));

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
                assertThat(verify(caMode()).firstProblem()).isNull();
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

    /** Trusted keys mode; null: any key. */
    static Report verify(Map<String, ? extends Collection<byte[]>> trustedKeys) throws SQLException {
        return verify(trustedKeys == null ? JournalVerifier.withoutTrustedKeys() : new JournalVerifier(trustedKeys));
    }

    /** CA mode: the test PKI's CA, no trusted keys. */
    static JournalVerifier caMode() {
        return JournalVerifier.trustingCa(pki.caCertificate(), TRUST_DOMAIN);
    }

    /** Verifies from a new connection with the default paging and with tiny pages; both must agree. */
    static Report verify(JournalVerifier v) throws SQLException {
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
        assertThat(small.certifiedCheckpoints()).isEqualTo(big.certifiedCheckpoints());
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

    static Report tampered(String table, String where, SqlAction change, Map<String, List<byte[]>> trustedKeys) throws Exception {
        return tamperedWith(trustedKeys == null ? JournalVerifier.withoutTrustedKeys() : new JournalVerifier(trustedKeys),
                table, where, change);
    }

    static Report tamperedWith(JournalVerifier verifier, String table, String where, SqlAction change) throws Exception {
        String saved = "saved_" + SAVES.incrementAndGet();
        exec("create temp table " + saved + " as select * from " + table + " where " + where);
        try {
            change.run(sql);
            return verify(verifier);
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
        assertThat(r.certifiedCheckpoints()).as("trusted keys mode: no certificate is looked at").isZero();
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
            Report r = new JournalVerifier(trusted).verify(c);
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
    void aTransferMovedIntoTheNextBatchIsFound() throws Exception {
        // Transfers are read by timestamp: the moved row sits among its own batch's rows with another batch's seq.
        long seq = batchOfTransfer(voided);
        Report r = tampered("transfer", "id = '" + voided + "'",
                c -> exec("update transfer set batch_seq = batch_seq + 1 where id = ?", voided));
        assertProblem(r, seq, Kind.ROW_COUNT, null, "rows were deleted");
    }

    @Test
    void aTransferAfterTheLastBatchIsAnOrphan() throws Exception {
        long last = lastBatch();
        Report r = tampered("transfer", "id = 'orphan-1'", c -> {
            exec("create temp table orphan as select * from transfer where id = ?", voided);
            exec("update orphan set id = 'orphan-1', batch_seq = ?, timestamp_ns = (select max(timestamp_ns) from transfer) + 1000",
                    last);
            exec("insert into transfer select * from orphan");
            exec("drop table orphan");
        });
        assertThat(r.sound()).as("report %s", r).isFalse();
        assertThat(r.firstProblem().kind()).isEqualTo(Kind.ORPHAN_ROW);
        assertThat(r.firstProblem().row()).isEqualTo("orphan-1");
        assertThat(r.firstProblem().detail()).contains("after the journal's last batch (" + last);
        assertThat(r.batches()).as("the whole journal was verified first").isEqualTo(last);
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

    // ------------------------------------------------------------------ certificates: trusting the CA

    /** The first or last batch whose checkpoint {@code key} signed. */
    static long signedBy(JournalSigner key, boolean last) throws SQLException {
        return one("select " + (last ? "max" : "min") + "(batch_seq) from journal_checkpoint where public_key = ?", key.publicKey());
    }

    /** Signs batch {@code seq}'s real hash again with {@code key}, recording {@code cert} (null: none) and {@code signer}. */
    static SqlAction resign(long seq, JournalSigner key, IssuedCert cert, String signer) {
        return c -> {
            var s = key.sign(bytes("select hash from journal_batch where seq = ?", seq));
            exec("update journal_checkpoint set signer = ?, public_key = ?, signature = ? where batch_seq = ?", signer,
                    s.publicKey(), s.signature(), seq);
            if (cert == null) {
                exec("update journal_checkpoint set certificate = null where batch_seq = ?", seq);
            } else {
                exec("update journal_checkpoint set certificate = ? where batch_seq = ?", cert.cert().getEncoded(), seq);
            }
        };
    }

    static Report tamperedCheckpoint(JournalVerifier verifier, long seq, SqlAction change) throws Exception {
        return tamperedWith(verifier, "journal_checkpoint", "batch_seq = " + seq, change);
    }

    /** A certificate of region a's ledger identity from a CA of the same trust domain that is not the ledger's. */
    static IssuedCert foreignCert() {
        return Pki.init(dir.resolve("foreign-ca"), TRUST_DOMAIN).issueService("node-a", "a", "ledger", Duration.ofDays(1));
    }

    @Test
    void checkpointsSignedBeforeAndAfterARenewalVerifyAgainstTheCa() throws Exception {
        String id = nodeCert.identity();
        long batches = lastBatch();
        assertThat(renewedCert.identity()).isEqualTo(id);
        assertThat(renewedCert.serial()).isNotEqualTo(nodeCert.serial());
        assertThat(renewedKey.publicKey()).isNotEqualTo(firstKey.publicKey());
        long lastFirst = signedBy(firstKey, true);
        long firstRenewed = signedBy(renewedKey, false);
        assertThat(lastFirst).as("checkpoints before the renewal").isGreaterThan(1);
        assertThat(firstRenewed).as("the renewal falls between two batches").isEqualTo(lastFirst + 1).isLessThan(batches);
        assertThat(one("select count(*) from journal_checkpoint where certificate is null")).isZero();
        assertThat(one("select count(distinct certificate) from journal_checkpoint")).isEqualTo(2);
        assertThat(bytes("select certificate from journal_checkpoint where batch_seq = ?", lastFirst)).isEqualTo(nodeCert.cert().getEncoded());
        assertThat(bytes("select certificate from journal_checkpoint where batch_seq = ?", firstRenewed))
                .isEqualTo(renewedCert.cert().getEncoded());

        Report r = verify(caMode());
        assertThat(r.firstProblem()).as("%s", r.firstProblem()).isNull();
        assertThat(r.batches()).isEqualTo(batches);
        assertThat(r.checkpoints()).isEqualTo(batches);
        assertThat(r.certifiedCheckpoints()).as("every checkpoint proven by its certificate").isEqualTo(batches);
        assertThat(r.lastCheckpointSeq()).isEqualTo(batches);
        assertThat(r.signersTrusted()).isTrue();

        // The problem this solves: trusting only the current certificate's key fails on every earlier checkpoint.
        Report current = verify(Map.of(id, List.of(renewedKey.publicKey())));
        assertProblem(current, 1, Kind.CHECKPOINT_SIGNER, id, "which is not a trusted key of " + id);

        // ./ledger verify's default: the CA, and the current key for checkpoints that record no certificate.
        Report both = verify(new JournalVerifier(Map.of(id, List.of(renewedKey.publicKey()))).withCa(pki.caCertificate(), TRUST_DOMAIN));
        assertThat(both.firstProblem()).as("%s", both.firstProblem()).isNull();
        assertThat(both.certifiedCheckpoints()).isEqualTo(batches);

        // A signer's key must be its certificate's.
        assertThatThrownBy(() -> new PeriodicSigner(firstKey, renewedCert.cert(), 0, System::nanoTime))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not the key of the certificate");
        assertThatThrownBy(() -> JournalVerifier.trustingCa(nodeCert.cert(), TRUST_DOMAIN))
                .as("a node certificate is no CA").isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aCheckpointWhoseCertificateComesFromAnotherCaIsFound() throws Exception {
        // A CA of the same trust domain issues region a's ledger identity; its key signs the real hash.
        IssuedCert foreign = foreignCert();
        long seq = signedBy(renewedKey, false);
        String id = nodeCert.identity();
        SqlAction forge = resign(seq, JournalSigner.of(foreign), foreign, id);
        Report r = tamperedCheckpoint(caMode(), seq, forge);
        assertProblem(r, seq, Kind.CHECKPOINT_CERTIFICATE, id, "is not issued by the trusted CA");
        assertThat(r.firstProblem().detail()).contains("serial " + foreign.serial().toString(16));
        assertThat(tamperedCheckpoint(JournalVerifier.withoutTrustedKeys(), seq, forge).sound())
                .as("without a CA or trusted keys a valid signature by any key passes").isTrue();
    }

    @Test
    void aCheckpointWhoseCertificateNamesAnotherIdentityIsFound() throws Exception {
        IssuedCert nodeB = pki.issueService("node-b", "b", "ledger", Duration.ofDays(1));
        IssuedCert routerA = pki.issueService("router-a", "a", "router", Duration.ofDays(1));
        JournalSigner keyB = JournalSigner.of(nodeB);
        long seq = signedBy(firstKey, true);
        String id = nodeCert.identity();

        // Region b's node signs in region a's name: its certificate names region b.
        Report r = tamperedCheckpoint(caMode(), seq, resign(seq, keyB, nodeB, id));
        assertProblem(r, seq, Kind.CHECKPOINT_CERTIFICATE, id, "names " + nodeB.identity() + ", not the checkpoint's signer " + id);

        // In its own name, region b's ledger node is a signer the CA vouches for (it leads after a failover).
        Report own = tamperedCheckpoint(caMode(), seq, resign(seq, keyB, nodeB, nodeB.identity()));
        assertThat(own.firstProblem()).as("%s", own.firstProblem()).isNull();

        // Region a's router holds a certificate of the same CA, but it is no ledger node.
        Report router = tamperedCheckpoint(caMode(), seq, resign(seq, JournalSigner.of(routerA), routerA, routerA.identity()));
        assertProblem(router, seq, Kind.CHECKPOINT_CERTIFICATE, routerA.identity(), "is not a ledger node of trust domain " + TRUST_DOMAIN);
    }

    @Test
    void aCheckpointWhosePublicKeyIsNotItsCertificatesIsFound() throws Exception {
        long seq = signedBy(firstKey, true);
        String id = nodeCert.identity();
        String nodeKey = JournalVerifier.fingerprint(firstKey.publicKey());

        // Another key signs the real hash; the node's genuine certificate stays.
        IssuedCert foreign = foreignCert();
        Report r = tamperedCheckpoint(caMode(), seq, resign(seq, JournalSigner.of(foreign), nodeCert, id));
        assertProblem(r, seq, Kind.CHECKPOINT_CERTIFICATE, id, "signed with key "
                + JournalVerifier.fingerprint(foreign.cert().getPublicKey().getEncoded()) + " but the recorded certificate");
        assertThat(r.firstProblem().detail()).contains("holds key " + nodeKey);

        // The node's renewed (genuine) certificate recorded on a checkpoint its first key signed.
        Report swapped = tamperedCheckpoint(caMode(), seq,
                c -> exec("update journal_checkpoint set certificate = ? where batch_seq = ?", renewedCert.cert().getEncoded(), seq));
        assertProblem(swapped, seq, Kind.CHECKPOINT_CERTIFICATE, id, "signed with key " + nodeKey);
        assertThat(swapped.firstProblem().detail()).contains("holds key " + JournalVerifier.fingerprint(renewedKey.publicKey()));

        // Bytes that are no certificate.
        Report garbage = tamperedCheckpoint(caMode(), seq,
                c -> exec("update journal_checkpoint set certificate = ? where batch_seq = ?", new byte[] {0x30, 0x03, 1, 2, 3}, seq));
        assertProblem(garbage, seq, Kind.CHECKPOINT_CERTIFICATE, id, "the recorded certificate cannot be read");
    }

    @Test
    void aCheckpointSignedOutsideItsCertificatesValidityIsFound() throws Exception {
        long seq = signedBy(firstKey, true);
        String id = nodeCert.identity();
        OffsetDateTime notBefore = nodeCert.notBefore().atOffset(ZoneOffset.UTC);
        OffsetDateTime notAfter = nodeCert.notAfter().atOffset(ZoneOffset.UTC);
        String update = "update journal_checkpoint set signed_at = ? where batch_seq = ?";

        Report skewed = tamperedCheckpoint(caMode(), seq, c -> exec(update, notBefore.minusMinutes(4), seq));
        assertThat(skewed.firstProblem()).as("4 min of clock skew: %s", skewed.firstProblem()).isNull();

        Report early = tamperedCheckpoint(caMode(), seq, c -> exec(update, notBefore.minusMinutes(6), seq));
        assertProblem(early, seq, Kind.CHECKPOINT_CERTIFICATE, id, "outside the validity of the recorded certificate");
        Report late = tamperedCheckpoint(caMode(), seq, c -> exec(update, notAfter.plusMinutes(6), seq));
        assertProblem(late, seq, Kind.CHECKPOINT_CERTIFICATE, id, "allowing 5 min of clock skew");
    }

    @Test
    void aCheckpointWithoutACertificateFallsBackToTrustedKeys() throws Exception {
        long seq = signedBy(firstKey, true);
        String id = nodeCert.identity();
        JournalVerifier caAndBothKeys = new JournalVerifier(trusted).withCa(pki.caCertificate(), TRUST_DOMAIN);
        SqlAction strip = c -> exec("update journal_checkpoint set certificate = null where batch_seq = ?", seq);

        // As if signed before certificates were recorded, by the earlier key: trusted when that key is.
        Report r = tamperedCheckpoint(caAndBothKeys, seq, strip);
        assertThat(r.firstProblem()).as("%s", r.firstProblem()).isNull();
        assertThat(r.checkpoints()).isEqualTo(lastBatch());
        assertThat(r.certifiedCheckpoints()).isEqualTo(lastBatch() - 1);

        Report currentKeyOnly = tamperedCheckpoint(new JournalVerifier(Map.of(id, List.of(renewedKey.publicKey())))
                .withCa(pki.caCertificate(), TRUST_DOMAIN), seq, strip);
        assertProblem(currentKeyOnly, seq, Kind.CHECKPOINT_SIGNER, id, "which is not a trusted key of " + id);

        // Removing the certificate is no way around the CA: with no trusted keys, nothing vouches for the key.
        Report caOnly = tamperedCheckpoint(caMode(), seq, strip);
        assertProblem(caOnly, seq, Kind.CHECKPOINT_SIGNER, id, "records no certificate");

        // A forger removes the certificate and signs with a key of his own.
        IssuedCert foreign = foreignCert();
        Report forged = tamperedCheckpoint(caAndBothKeys, seq, resign(seq, JournalSigner.of(foreign), null, id));
        assertProblem(forged, seq, Kind.CHECKPOINT_SIGNER, id, "which is not a trusted key of " + id);
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
