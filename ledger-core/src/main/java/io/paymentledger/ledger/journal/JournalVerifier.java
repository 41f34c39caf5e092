package io.paymentledger.ledger.journal;

import static io.paymentledger.db.Tables.ACCOUNT;
import static io.paymentledger.db.Tables.JOURNAL_BATCH;
import static io.paymentledger.db.Tables.JOURNAL_CHECKPOINT;
import static io.paymentledger.db.Tables.TRANSFER;

import io.paymentledger.db.tables.records.AccountRecord;
import io.paymentledger.db.tables.records.JournalBatchRecord;
import io.paymentledger.db.tables.records.JournalCheckpointRecord;
import io.paymentledger.db.tables.records.TransferRecord;
import io.paymentledger.ledger.account.AccountState;
import io.paymentledger.ledger.account.Balance;
import io.paymentledger.ledger.store.Database;
import io.paymentledger.ledger.store.Rows;
import io.paymentledger.ledger.transfer.TransferFlags;
import io.paymentledger.ledger.transfer.TransferRow;
import io.paymentledger.security.identity.Identities;
import io.paymentledger.security.identity.Principal;
import io.paymentledger.security.journal.JournalSigner;
import io.paymentledger.security.pki.Pem;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.X509Certificate;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.jooq.Cursor;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.Result;

/**
 * The auditor's proof that the journal was not altered ({@code ./ledger verify}). Reads a ledger database
 * (never writes) and checks, batch by batch in seq order:
 * <ol>
 *   <li>the chain: seq contiguous from 1, {@code prev_hash(n) = hash(n-1)} ({@link JournalHash#GENESIS} for 1),
 *       epochs never going back, the row counts, and {@link JournalHash#next} recomputed from the rows equal to
 *       the stored hash;</li>
 *   <li>timestamps: every account's and transfer's timestamp inside its batch's [first_ts, last_ts], strictly
 *       increasing over the whole ledger, batches not overlapping;</li>
 *   <li>the replay: every transfer applied in timestamp order to balances kept in memory (see
 *       {@code LedgerRules}); the dr_* / cr_* balances each transfer records must equal the replay right after
 *       it, both accounts must exist and have the transfer's currency; at the end every account's stored
 *       balances must equal the replay, and per currency the stored balances must sum to zero;</li>
 *   <li>checkpoints: each signature verifies over its batch's stored hash, the checkpoint's hash is the
 *       batch's, and the signer is trusted (see below).</li>
 * </ol>
 *
 * <p>Who may sign. Two modes, which can be combined:
 * <ul>
 *   <li>trusting a CA ({@link #withCa}): a checkpoint that records its signer's certificate is trusted iff that
 *       certificate is signed by the CA (and is not a CA itself), its one SPIFFE URI SAN is the checkpoint's
 *       signer and names a ledger node of the trust domain ({@code spiffe://<td>/region/<r>/ledger}), its
 *       public key is the recorded public key, and its validity period covers the checkpoint's signed_at
 *       (within {@link #CLOCK_SKEW}). Certificates renewed with a new key therefore all verify, as long as
 *       the CA is the same. Revocation is not checked (a key revoked later may well have signed genuine
 *       checkpoints before).</li>
 *   <li>trusted keys: a checkpoint's recorded public key must be one of the keys trusted for its signer. In
 *       CA mode this applies to checkpoints that record no certificate (signed before certificates were
 *       recorded); without trusted keys, those are reported (removing a certificate must not be a way around
 *       the CA).</li>
 * </ul>
 * With neither, signatures are verified with whatever key is recorded.
 * It stops at the first problem and reports it with its batch. Rows that name no journal batch are problems too.
 *
 * <p>Memory: the balance map (one small entry per account) plus one page of batch headers, the rows of one
 * batch (bounded by the writer's batch size) and a cursor's fetch buffer. Rows are streamed with cursors over
 * seq ranges whose total row count is bounded, so a ledger of any size is verified in bounded memory.
 *
 * <p>Consistency: on a connection in auto-commit mode the verifier reads in one REPEATABLE READ, READ ONLY
 * transaction of its own (one snapshot, so a ledger that keeps writing is verified as of one instant) and
 * restores the connection's settings afterwards. On a connection already in a transaction it reads within
 * that transaction (which should then be REPEATABLE READ if the ledger is writing: under READ COMMITTED, rows
 * of batches committed during the run look like rows outside the journal).
 *
 * <p>What it does not prove: the hash covers the accounts' and transfers' contents, not the batch header's
 * region, first/last timestamps or commit time, nor the pending_transfer and payment tables (derived state).
 * A chain re-hashed from some batch on is only caught by a signed checkpoint at or after that batch; batches
 * after the last checkpoint ({@link Report#lastCheckpointSeq()}) are proven consistent, not authentic.
 */
public final class JournalVerifier {

    /** What is wrong. */
    public enum Kind {
        /** Batch seqs are not 1, 2, 3... */
        SEQUENCE("batch sequence broken"),
        /** prev_hash is not the previous batch's hash. */
        PREV_HASH("chain broken"),
        /** The epoch went back. */
        EPOCH("epoch went back"),
        /** first_ts / last_ts out of order, or overlapping the previous batch. */
        BATCH_TIMESTAMPS("batch timestamps out of order"),
        /** account_count / transfer_count differ from the rows carrying the batch's seq. */
        ROW_COUNT("row count mismatch"),
        /** The rows do not hash to the stored hash. */
        HASH("hash mismatch"),
        /** A row's timestamp is outside its batch or not after the previous one. */
        TIMESTAMP("timestamp out of order"),
        /** A transfer names an account that does not exist (yet). */
        UNKNOWN_ACCOUNT("unknown account"),
        /** A transfer's currency is not its accounts'. */
        CURRENCY("currency mismatch"),
        /** A transfer's flags are not a valid combination. */
        FLAGS("invalid flags"),
        /** A transfer's recorded dr_* / cr_* balances differ from the replay (or the replay leaves the int64 range). */
        BALANCE_HISTORY("balance history mismatch"),
        /** An account's stored balances differ from the replay of its transfers. */
        ACCOUNT_BALANCE("account balance mismatch"),
        /** Per currency, the stored balances do not sum to zero. */
        CURRENCY_TOTAL("currency does not balance"),
        /** An account, transfer or checkpoint row names a batch that is not in the journal. */
        ORPHAN_ROW("row outside the journal"),
        /** A checkpoint's hash is not its batch's hash. */
        CHECKPOINT_HASH("checkpoint hash mismatch"),
        /** A checkpoint's signature does not verify. */
        CHECKPOINT_SIGNATURE("checkpoint signature invalid"),
        /** A checkpoint was signed by a key not trusted for its signer (a checkpoint without a certificate). */
        CHECKPOINT_SIGNER("checkpoint signer not trusted"),
        /**
         * A checkpoint's recorded certificate does not prove its signer (CA mode): unreadable, not issued by the
         * CA, naming another identity or no ledger node, holding another key, or not valid when it signed.
         */
        CHECKPOINT_CERTIFICATE("checkpoint certificate not trusted");

        public final String label;

        Kind(String label) {
            this.label = label;
        }
    }

    /**
     * The first problem found.
     *
     * @param batchSeq the batch it is in (for an account balance: the last batch that changed the account)
     * @param row      the account or transfer id concerned (for HASH: the row the replay suspects), or null
     * @param detail   what is wrong, in words
     */
    public record Problem(long batchSeq, Kind kind, String row, String detail) {
        @Override
        public String toString() {
            return "batch " + batchSeq + ": " + kind.label + (row == null ? "" : " (" + row + ")") + ": " + detail;
        }
    }

    /**
     * The outcome. Counts are what was verified before the first problem (all of it when sound).
     *
     * @param batches           journal batches verified
     * @param transfers         transfer rows verified
     * @param accounts          account rows verified
     * @param checkpoints          signed checkpoints verified
     * @param certifiedCheckpoints of those, the ones whose signer was proven by its certificate (CA mode)
     * @param lastCheckpointSeq    the newest batch covered by a verified signature (0: none)
     * @param signersTrusted       true when checkpoint keys were bound to trusted signers (a CA or trusted keys)
     * @param firstProblem         null when the journal is sound
     */
    public record Report(long batches, long transfers, long accounts, long checkpoints, long certifiedCheckpoints,
            long lastCheckpointSeq, boolean signersTrusted, Problem firstProblem, Duration elapsed) {

        public boolean sound() {
            return firstProblem == null;
        }
    }

    static final int FETCH_SIZE = 1000;

    /**
     * How far a checkpoint's signed_at (the database's clock) may lie outside its certificate's validity period
     * (the CA's clock, with the node's).
     */
    public static final Duration CLOCK_SKEW = Duration.ofMinutes(5);

    private final Map<String, List<byte[]>> trustedKeys;
    private final X509Certificate ca;
    private final String trustDomain;
    private final int batchesPerPage;
    private final int rowsPerRange;

    /**
     * @param trustedKeys signer identity (e.g. {@code spiffe://ledger.local/region/a/ledger}) → the SPKI bytes
     *                    of every key trusted for it; null: signatures are checked, but any key is accepted
     */
    public JournalVerifier(Map<String, ? extends Collection<byte[]>> trustedKeys) {
        this(copy(trustedKeys), null, null, 1000, 50_000);
    }

    private JournalVerifier(Map<String, List<byte[]>> trustedKeys, X509Certificate ca, String trustDomain,
            int batchesPerPage, int rowsPerRange) {
        if (batchesPerPage < 1 || rowsPerRange < 1) {
            throw new IllegalArgumentException("page sizes must be positive");
        }
        this.trustedKeys = trustedKeys;
        this.ca = ca;
        this.trustDomain = trustDomain;
        this.batchesPerPage = batchesPerPage;
        this.rowsPerRange = rowsPerRange;
    }

    /**
     * Trusts the ledger nodes certified by {@code ca} in {@code trustDomain} (see the class comment); a
     * checkpoint without a certificate is reported, as no key is trusted for it.
     */
    public static JournalVerifier trustingCa(X509Certificate ca, String trustDomain) {
        return withoutTrustedKeys().withCa(ca, trustDomain);
    }

    /**
     * The same verifier, also trusting the ledger nodes certified by {@code ca} in {@code trustDomain}: checkpoints
     * that record a certificate are judged by it, the others by this verifier's trusted keys.
     */
    public JournalVerifier withCa(X509Certificate ca, String trustDomain) {
        Objects.requireNonNull(ca, "ca");
        Identities.requireTrustDomain(trustDomain);
        if (ca.getBasicConstraints() < 0) {
            throw new IllegalArgumentException("not a CA certificate: " + ca.getSubjectX500Principal());
        }
        return new JournalVerifier(trustedKeys, ca, trustDomain, batchesPerPage, rowsPerRange);
    }

    /** Accepts any signer key (signatures are still verified). */
    public static JournalVerifier withoutTrustedKeys() {
        return new JournalVerifier(null);
    }

    /** One trusted key per signer identity. */
    public static JournalVerifier trusting(Map<String, byte[]> keyPerSigner) {
        Map<String, List<byte[]>> m = new HashMap<>();
        keyPerSigner.forEach((id, key) -> m.put(id, List.of(key)));
        return new JournalVerifier(m);
    }

    /**
     * The same verifier reading {@code batchesPerPage} batch headers per query, and rows in seq ranges of about
     * {@code rowsPerRange} rows (at least one batch). Defaults: 1000 and 50,000.
     */
    public JournalVerifier withPaging(int batchesPerPage, int rowsPerRange) {
        return new JournalVerifier(trustedKeys, ca, trustDomain, batchesPerPage, rowsPerRange);
    }

    private static Map<String, List<byte[]>> copy(Map<String, ? extends Collection<byte[]>> keys) {
        if (keys == null) {
            return null;
        }
        Map<String, List<byte[]>> m = new HashMap<>();
        keys.forEach((id, list) -> m.put(id, list.stream().map(byte[]::clone).toList()));
        return m;
    }

    /** Verifies the ledger in the database {@code connection} points to. Reads only. */
    public Report verify(Connection connection) throws SQLException {
        long start = System.nanoTime();
        boolean own = connection.getAutoCommit();
        int isolation = connection.getTransactionIsolation();
        boolean readOnly = connection.isReadOnly();
        if (own) {
            connection.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
            connection.setReadOnly(true);
            connection.setAutoCommit(false);
        }
        Report report = null;
        try {
            report = new Run(Database.dsl(connection), start).run();
            return report;
        } finally {
            if (own) {
                try {
                    connection.rollback();
                    connection.setAutoCommit(true);
                    connection.setReadOnly(readOnly);
                    connection.setTransactionIsolation(isolation);
                } catch (SQLException e) {
                    if (report != null) {
                        throw e;
                    }
                    // the run's own failure is the one to report
                }
            }
        }
    }

    /** An account as replayed: its currency, four balances and the last batch that changed it. */
    private static final class Replayed {
        final String currency;
        long debitsPending;
        long debitsPosted;
        long creditsPending;
        long creditsPosted;
        long lastSeq;

        Replayed(String currency, long seq) {
            this.currency = currency;
            this.lastSeq = seq;
        }

        Balance balance() {
            return new Balance(debitsPending, debitsPosted, creditsPending, creditsPosted);
        }
    }

    /** Thrown inside a run to stop at the first problem. */
    private static final class Found extends Exception {
        final Problem problem;

        Found(Problem problem) {
            super(problem.toString(), null, false, false);
            this.problem = problem;
        }
    }

    /** One verification: its state and counters. */
    private final class Run {
        private final DSLContext dsl;
        private final long startNanos;
        private final Map<String, Replayed> balances = new HashMap<>();
        /** Canonical currency strings, so the balance map holds one instance per currency. */
        private final Map<String, String> currencies = new HashMap<>();

        private long expectedSeq = 1;
        private byte[] prevHash = JournalHash.GENESIS;
        private long prevEpoch = Long.MIN_VALUE;
        private long prevBatchLastTs = Long.MIN_VALUE;
        /** The last timestamp the transfer ranges read so far cover: each range reads (this, its last batch's last_ts]. */
        private long transfersReadUpToTs = Long.MIN_VALUE;
        private long lastAccountTs = Long.MIN_VALUE;
        private long lastTransferTs = Long.MIN_VALUE;

        private long batches;
        private long transfers;
        private long accounts;
        private long checkpoints;
        private long certifiedCheckpoints;
        private long lastCheckpointSeq;

        Run(DSLContext dsl, long startNanos) {
            this.dsl = dsl;
            this.startNanos = startNanos;
        }

        Report run() {
            Problem problem = null;
            try {
                walkJournal();
                checkOrphans();
                checkStoredAccounts();
            } catch (Found f) {
                problem = f.problem;
            }
            return new Report(batches, transfers, accounts, checkpoints, certifiedCheckpoints, lastCheckpointSeq,
                    trustedKeys != null || ca != null,
                    problem, Duration.ofNanos(System.nanoTime() - startNanos));
        }

        private void walkJournal() throws Found {
            long after = 0;
            while (true) {
                Result<JournalBatchRecord> page = dsl.selectFrom(JOURNAL_BATCH).where(JOURNAL_BATCH.SEQ.gt(after))
                        .orderBy(JOURNAL_BATCH.SEQ).limit(batchesPerPage).fetch();
                if (page.isEmpty()) {
                    return;
                }
                int from = 0;
                while (from < page.size()) {
                    int to = from + 1;
                    long rows = rowCount(page.get(from));
                    while (to < page.size() && rows + rowCount(page.get(to)) <= rowsPerRange) {
                        rows += rowCount(page.get(to));
                        to++;
                    }
                    verifyRange(page, from, to);
                    from = to;
                }
                after = page.get(page.size() - 1).getSeq();
            }
        }

        private static long rowCount(JournalBatchRecord h) {
            return Math.max(0, (long) h.getAccountCount()) + Math.max(0, (long) h.getTransferCount());
        }

        /** Verifies headers page[from, to): their seqs form one range, whose rows are streamed by two cursors. */
        private void verifyRange(Result<JournalBatchRecord> page, int from, int to) throws Found {
            // Seqs are checked contiguous batch by batch before their rows are used, so [lo, hi] covers exactly
            // the batches of this range once the first check passes.
            long lo = page.get(from).getSeq();
            long hi = page.get(to - 1).getSeq();
            Map<Long, JournalCheckpointRecord> signed = new HashMap<>();
            for (JournalCheckpointRecord c : dsl.selectFrom(JOURNAL_CHECKPOINT)
                    .where(JOURNAL_CHECKPOINT.BATCH_SEQ.between(lo, hi)).fetch()) {
                signed.put(c.getBatchSeq(), c);
            }
            // Transfers by timestamp (the unique transfer_timestamp index; there is no index on their batch_seq, which
            // would cost every batch ~6 % of PostgreSQL's insert work): the ranges cover every timestamp up to the
            // last batch's without a gap, batches' timestamps rise from batch to batch (checked per header), so each
            // batch's rows come in order and a row whose batch_seq is not its batch's breaks that batch's count.
            // Rows after the last batch's last timestamp are orphans (checkOrphans).
            long fromTs = transfersReadUpToTs;
            long toTs = Math.max(fromTs, page.get(to - 1).getLastTsNs());
            transfersReadUpToTs = toTs;
            try (Cursor<AccountRecord> accountCursor = dsl.selectFrom(ACCOUNT).where(ACCOUNT.BATCH_SEQ.between(lo, hi))
                    .orderBy(ACCOUNT.BATCH_SEQ, ACCOUNT.CREATED_NS, ACCOUNT.ID).fetchSize(FETCH_SIZE).fetchLazy();
                    Cursor<TransferRecord> transferCursor = dsl.selectFrom(TRANSFER)
                            .where(TRANSFER.TIMESTAMP_NS.gt(fromTs).and(TRANSFER.TIMESTAMP_NS.le(toTs)))
                            .orderBy(TRANSFER.TIMESTAMP_NS, TRANSFER.ID).fetchSize(FETCH_SIZE).fetchLazy()) {
                Peeking<AccountRecord> accountRows = new Peeking<>(accountCursor.iterator());
                Peeking<TransferRecord> transferRows = new Peeking<>(transferCursor.iterator());
                for (int i = from; i < to; i++) {
                    verifyBatch(page.get(i), accountRows, transferRows, signed.get(page.get(i).getSeq()));
                }
            }
        }

        private void verifyBatch(JournalBatchRecord h, Peeking<AccountRecord> accountRows,
                Peeking<TransferRecord> transferRows, JournalCheckpointRecord checkpoint) throws Found {
            long seq = h.getSeq();
            // 1. The header: seq, link, epoch, timestamps.
            if (seq != expectedSeq) {
                throw found(expectedSeq, Kind.SEQUENCE, null, seq < expectedSeq ? "batch " + seq + " appears twice"
                        : "batch " + expectedSeq + (seq == expectedSeq + 1 ? " is" : " to " + (seq - 1) + " are")
                        + " missing: the journal goes from " + (expectedSeq - 1) + " to " + seq);
            }
            if (!Arrays.equals(h.getPrevHash(), prevHash)) {
                throw found(seq, Kind.PREV_HASH, null, "prev_hash " + hex(h.getPrevHash()) + " is not the hash of "
                        + (seq == 1 ? "the genesis (all zero)" : "batch " + (seq - 1)) + ", " + hex(prevHash));
            }
            if (h.getEpoch() < prevEpoch) {
                throw found(seq, Kind.EPOCH, null, "epoch " + h.getEpoch() + " is lower than batch " + (seq - 1)
                        + "'s epoch " + prevEpoch + " (a deposed leader cannot commit)");
            }
            long firstTs = h.getFirstTsNs();
            long lastTs = h.getLastTsNs();
            if (firstTs > lastTs || firstTs <= prevBatchLastTs) {
                throw found(seq, Kind.BATCH_TIMESTAMPS, null, "first_ts_ns " + firstTs + ", last_ts_ns " + lastTs
                        + (firstTs > lastTs ? ": first after last" : ": not after batch " + (seq - 1) + "'s last_ts_ns " + prevBatchLastTs));
            }

            // 2. The rows carrying this seq: exactly as many as the header says.
            List<AccountRecord> accountRecords = new ArrayList<>();
            long accountRowCount = take(accountRows, seq, r -> r.getBatchSeq(), accountRecords, h.getAccountCount());
            List<TransferRecord> transferRecords = new ArrayList<>();
            long transferRowCount = take(transferRows, seq, r -> r.getBatchSeq(), transferRecords, h.getTransferCount());
            if (accountRowCount != h.getAccountCount()) {
                throw found(seq, Kind.ROW_COUNT, null, "the batch records " + h.getAccountCount() + " new accounts but "
                        + accountRowCount + " account rows carry batch_seq " + seq
                        + (accountRowCount < h.getAccountCount() ? " (rows were deleted)" : " (rows were added)"));
            }
            if (transferRowCount != h.getTransferCount()) {
                throw found(seq, Kind.ROW_COUNT, null, "the batch records " + h.getTransferCount() + " transfers but "
                        + transferRowCount + " transfer rows carry batch_seq " + seq
                        + (transferRowCount < h.getTransferCount() ? " (rows were deleted)" : " (rows were added)"));
            }
            List<AccountState> newAccounts = new ArrayList<>(accountRecords.size());
            for (AccountRecord r : accountRecords) {
                try {
                    newAccounts.add(Rows.account(r));
                } catch (RuntimeException unreadable) {
                    throw found(seq, Kind.HASH, r.getId(), "account " + r.getId() + " cannot be read (" + unreadable.getMessage()
                            + "): the row was altered");
                }
            }
            List<TransferRow> rows = new ArrayList<>(transferRecords.size());
            for (TransferRecord r : transferRecords) {
                try {
                    rows.add(Rows.transfer(r));
                } catch (RuntimeException unreadable) {
                    throw found(seq, Kind.HASH, r.getId(), "transfer " + r.getId() + " cannot be read (" + unreadable.getMessage()
                            + "): the row was altered");
                }
            }

            // 3. Timestamps and the replay, row by row. A problem here is kept until the hash was checked: when
            //    the hash does not match either, the row tells the auditor where the alteration probably is.
            Problem rowProblem = replay(seq, firstTs, lastTs, newAccounts, rows);

            // 4. The hash.
            byte[] hash;
            try {
                hash = JournalHash.next(prevHash, seq, h.getEpoch(), newAccounts, rows);
            } catch (RuntimeException unhashable) {
                throw found(seq, Kind.HASH, null, "the batch's rows cannot be hashed (" + unhashable.getMessage()
                        + "): a row was altered");
            }
            if (!Arrays.equals(hash, h.getHash())) {
                // Which one was altered, the rows or the stored hash? The next batch's link and the checkpoint tell.
                byte[] nextPrev = dsl.select(JOURNAL_BATCH.PREV_HASH).from(JOURNAL_BATCH).where(JOURNAL_BATCH.SEQ.eq(seq + 1))
                        .fetchOne(JOURNAL_BATCH.PREV_HASH);
                String witness = nextPrev != null && Arrays.equals(nextPrev, hash)
                        ? "batch " + (seq + 1) + " records as its prev_hash"
                        : checkpoint != null && Arrays.equals(checkpoint.getHash(), hash) ? "the batch's checkpoint signed" : null;
                if (witness != null) {
                    throw found(seq, Kind.HASH, null, "the stored hash " + hex(h.getHash()) + " was altered: the batch's rows hash to "
                            + hex(hash) + ", which " + witness);
                }
                boolean nextAgrees = nextPrev != null && Arrays.equals(nextPrev, h.getHash());
                throw found(seq, Kind.HASH, rowProblem == null ? null : rowProblem.row(), "the batch's " + newAccounts.size()
                        + " accounts and " + rows.size() + " transfers hash to " + hex(hash) + ", not to the stored "
                        + hex(h.getHash()) + ": " + (rowProblem != null
                                ? "a row of this batch was altered; the replay points at " + rowProblem.row() + ": " + rowProblem.detail()
                                : nextAgrees ? "a row of this batch was altered in a field that does not move money (e.g. metadata,"
                                        + " owner, code, ids)"
                                        : "a row of this batch, or the stored hash, was altered"));
            }
            if (rowProblem != null) {
                throw new Found(rowProblem);
            }

            // 5. The checkpoint, if this batch was signed.
            if (checkpoint != null) {
                verifyCheckpoint(seq, h.getHash(), checkpoint);
            }

            prevHash = h.getHash();
            prevEpoch = h.getEpoch();
            prevBatchLastTs = lastTs;
            expectedSeq = seq + 1;
            batches++;
            accounts += newAccounts.size();
            transfers += rows.size();
        }

        /** Applies the batch's accounts and transfers to the replay; returns the first problem, or null. */
        private Problem replay(long seq, long firstTs, long lastTs, List<AccountState> newAccounts, List<TransferRow> rows) {
            Map<String, Long> createdHere = new HashMap<>();
            for (AccountState a : newAccounts) {
                if (a.createdNs() < firstTs || a.createdNs() > lastTs) {
                    return new Problem(seq, Kind.TIMESTAMP, a.id(), "created_ns " + a.createdNs() + " is outside the batch's ["
                            + firstTs + ", " + lastTs + "]");
                }
                if (a.createdNs() <= lastAccountTs) {
                    return new Problem(seq, Kind.TIMESTAMP, a.id(), "created_ns " + a.createdNs()
                            + " is not after the previous account's " + lastAccountTs);
                }
                lastAccountTs = a.createdNs();
                if (balances.containsKey(a.id())) {
                    return new Problem(seq, Kind.ORPHAN_ROW, a.id(), "account " + a.id() + " was already created by an earlier batch");
                }
                balances.put(a.id(), new Replayed(currencies.computeIfAbsent(a.currency(), c -> c), seq));
                createdHere.put(a.id(), a.createdNs());
            }
            for (TransferRow t : rows) {
                Problem p = replay(seq, firstTs, lastTs, createdHere, t);
                if (p != null) {
                    return p;
                }
            }
            return null;
        }

        private Problem replay(long seq, long firstTs, long lastTs, Map<String, Long> createdHere, TransferRow t) {
            long ts = t.timestampNs();
            if (ts < firstTs || ts > lastTs) {
                return new Problem(seq, Kind.TIMESTAMP, t.id(), "timestamp_ns " + ts + " is outside the batch's ["
                        + firstTs + ", " + lastTs + "]");
            }
            if (ts <= lastTransferTs) {
                return new Problem(seq, Kind.TIMESTAMP, t.id(), "timestamp_ns " + ts + " is not after the previous transfer's "
                        + lastTransferTs);
            }
            lastTransferTs = ts;
            Replayed dr = balances.get(t.debitAccountId());
            Replayed cr = balances.get(t.creditAccountId());
            for (String side : new String[] {t.debitAccountId(), t.creditAccountId()}) {
                Replayed a = balances.get(side);
                Long created = createdHere.get(side);
                if (a == null || (created != null && created > ts)) {
                    return new Problem(seq, Kind.UNKNOWN_ACCOUNT, t.id(), "account " + side + (a == null
                            ? " does not exist in the journal" : " was created after the transfer (created_ns " + created + ")"));
                }
                if (!a.currency.equals(t.currency())) {
                    return new Problem(seq, Kind.CURRENCY, t.id(), "the transfer is in " + t.currency() + " but account "
                            + side + " is in " + a.currency);
                }
            }
            int kind = t.flags() & (TransferFlags.PENDING | TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING
                    | TransferFlags.EXPIRY);
            int known = kind | TransferFlags.LINKED;
            if (Integer.bitCount(kind) > 1 || (t.flags() & ~known) != 0 || t.amount() < 0) {
                return new Problem(seq, t.amount() < 0 ? Kind.BALANCE_HISTORY : Kind.FLAGS, t.id(), t.amount() < 0
                        ? "negative amount " + t.amount() : "flags " + t.flags() + " are not a valid combination");
            }
            if (TransferFlags.resolvesPending(kind) && (t.pendingId() == null || t.pendingId().isEmpty())) {
                return new Problem(seq, Kind.FLAGS, t.id(), "a post, void or expiry without pending_id");
            }
            long a = t.amount();
            try {
                // The effects of LedgerRules: posted, pending, post_pending, void_pending / expiry.
                if (kind == 0) {
                    dr.debitsPosted = Math.addExact(dr.debitsPosted, a);
                    cr.creditsPosted = Math.addExact(cr.creditsPosted, a);
                } else if (kind == TransferFlags.PENDING) {
                    dr.debitsPending = Math.addExact(dr.debitsPending, a);
                    cr.creditsPending = Math.addExact(cr.creditsPending, a);
                } else if (kind == TransferFlags.POST_PENDING) {
                    dr.debitsPending -= a;
                    dr.debitsPosted = Math.addExact(dr.debitsPosted, a);
                    cr.creditsPending -= a;
                    cr.creditsPosted = Math.addExact(cr.creditsPosted, a);
                } else {
                    dr.debitsPending -= a;
                    cr.creditsPending -= a;
                }
            } catch (ArithmeticException overflow) {
                return new Problem(seq, Kind.BALANCE_HISTORY, t.id(), "the replay of amount " + a + " leaves the int64 range");
            }
            dr.lastSeq = seq;
            cr.lastSeq = seq;
            for (Replayed r : new Replayed[] {dr, cr}) {
                if (r.debitsPending < 0 || r.creditsPending < 0) {
                    return new Problem(seq, Kind.BALANCE_HISTORY, t.id(), "the replay releases more than is pending on account "
                            + (r == dr ? t.debitAccountId() : t.creditAccountId()) + ": " + r.balance());
                }
            }
            if (!dr.balance().equals(t.debitBalance())) {
                return new Problem(seq, Kind.BALANCE_HISTORY, t.id(), "the debit account " + t.debitAccountId()
                        + "'s balances recorded after the transfer, " + show(t.debitBalance()) + ", differ from the replay, "
                        + show(dr.balance()));
            }
            if (!cr.balance().equals(t.creditBalance())) {
                return new Problem(seq, Kind.BALANCE_HISTORY, t.id(), "the credit account " + t.creditAccountId()
                        + "'s balances recorded after the transfer, " + show(t.creditBalance()) + ", differ from the replay, "
                        + show(cr.balance()));
            }
            return null;
        }

        private void verifyCheckpoint(long seq, byte[] batchHash, JournalCheckpointRecord c) throws Found {
            String signer = c.getSigner();
            if (!Arrays.equals(c.getHash(), batchHash)) {
                throw found(seq, Kind.CHECKPOINT_HASH, signer, "the checkpoint signs hash " + hex(c.getHash())
                        + " but the batch's hash is " + hex(batchHash) + " (the journal was rewritten after it was signed)");
            }
            boolean valid;
            try {
                valid = JournalSigner.verify(c.getPublicKey(), c.getAlgorithm(), batchHash, c.getSignature());
            } catch (IllegalArgumentException unsupported) {
                throw found(seq, Kind.CHECKPOINT_SIGNATURE, signer, unsupported.getMessage());
            }
            if (!valid) {
                throw found(seq, Kind.CHECKPOINT_SIGNATURE, signer, "the " + c.getAlgorithm() + " signature by " + signer
                        + " does not verify over the batch's hash with the recorded key " + fingerprint(c.getPublicKey()));
            }
            if (ca != null && c.getCertificate() != null) {
                verifyCertificate(seq, c);
                certifiedCheckpoints++;
            } else if (ca != null && trustedKeys == null) {
                throw found(seq, Kind.CHECKPOINT_SIGNER, signer, "the checkpoint records no certificate and no key is trusted"
                        + " for " + signer + " (signed with key " + fingerprint(c.getPublicKey()) + ")");
            } else if (trustedKeys != null) {
                List<byte[]> trusted = trustedKeys.get(signer);
                if (trusted == null) {
                    throw found(seq, Kind.CHECKPOINT_SIGNER, signer, "signer " + signer + " is not a trusted signer (trusted: "
                            + String.join(", ", new TreeMap<>(trustedKeys).keySet()) + ")");
                }
                if (trusted.stream().noneMatch(k -> Arrays.equals(k, c.getPublicKey()))) {
                    throw found(seq, Kind.CHECKPOINT_SIGNER, signer, "signed with key " + fingerprint(c.getPublicKey())
                            + ", which is not a trusted key of " + signer + " (trusted: "
                            + String.join(", ", trusted.stream().map(JournalVerifier::fingerprint).toList()) + ")");
                }
            }
            checkpoints++;
            lastCheckpointSeq = seq;
        }

        /** CA mode: the checkpoint's recorded certificate proves that a ledger node of the CA signed it. */
        private void verifyCertificate(long seq, JournalCheckpointRecord c) throws Found {
            String signer = c.getSigner();
            X509Certificate cert;
            try {
                List<X509Certificate> certs = Pem.parseCertificates(c.getCertificate());
                if (certs.size() != 1) {
                    throw new IllegalArgumentException(certs.size() + " certificates instead of one");
                }
                cert = certs.get(0);
            } catch (IllegalArgumentException unreadable) {
                throw found(seq, Kind.CHECKPOINT_CERTIFICATE, signer, "the recorded certificate cannot be read: "
                        + unreadable.getMessage());
            }
            String which = "the recorded certificate (serial " + cert.getSerialNumber().toString(16) + ", issuer "
                    + cert.getIssuerX500Principal() + ")";
            if (!cert.getIssuerX500Principal().equals(ca.getSubjectX500Principal())) {
                throw found(seq, Kind.CHECKPOINT_CERTIFICATE, signer, which + " is not issued by the trusted CA "
                        + ca.getSubjectX500Principal());
            }
            try {
                cert.verify(ca.getPublicKey());
            } catch (GeneralSecurityException | RuntimeException e) {
                throw found(seq, Kind.CHECKPOINT_CERTIFICATE, signer, which + " is not issued by the trusted CA "
                        + ca.getSubjectX500Principal() + ": its signature does not verify with the CA's key"
                        + (e.getMessage() == null ? "" : " (" + e.getMessage() + ")"));
            }
            boolean[] usage = cert.getKeyUsage();
            if (cert.getBasicConstraints() >= 0 || (usage != null && !usage[0])) {
                throw found(seq, Kind.CHECKPOINT_CERTIFICATE, signer, which + (cert.getBasicConstraints() >= 0
                        ? " is a CA certificate, not a node's" : " does not allow digital signatures"));
            }
            List<String> ids = Identities.spiffeIds(cert);
            if (ids.size() != 1 || !ids.get(0).equals(signer)) {
                throw found(seq, Kind.CHECKPOINT_CERTIFICATE, signer, which + " names " + (ids.size() == 1 ? ids.get(0)
                        : ids.size() + " SPIFFE IDs") + ", not the checkpoint's signer " + signer);
            }
            if (!(Identities.fromCertificate(cert, trustDomain).orElse(null) instanceof Principal.Service s)
                    || !s.component().equals("ledger")) {
                throw found(seq, Kind.CHECKPOINT_CERTIFICATE, signer, "the signer " + signer + " is not a ledger node of trust domain "
                        + trustDomain + " (spiffe://" + trustDomain + "/region/<region>/ledger)");
            }
            byte[] certKey = cert.getPublicKey().getEncoded();
            if (!Arrays.equals(certKey, c.getPublicKey())) {
                throw found(seq, Kind.CHECKPOINT_CERTIFICATE, signer, "signed with key " + fingerprint(c.getPublicKey())
                        + " but " + which + " holds key " + fingerprint(certKey));
            }
            Instant signedAt = c.getSignedAt() == null ? null : c.getSignedAt().toInstant();
            Instant notBefore = cert.getNotBefore().toInstant();
            Instant notAfter = cert.getNotAfter().toInstant();
            if (signedAt == null || signedAt.isBefore(notBefore.minus(CLOCK_SKEW)) || signedAt.isAfter(notAfter.plus(CLOCK_SKEW))) {
                throw found(seq, Kind.CHECKPOINT_CERTIFICATE, signer, "signed at " + signedAt + ", outside the validity of "
                        + which + ", " + notBefore + " to " + notAfter + " (allowing " + CLOCK_SKEW.toMinutes()
                        + " min of clock skew)");
            }
        }

        /** Rows that name a batch the journal does not have (every seq in [1, batches] was verified). */
        private void checkOrphans() throws Found {
            long last = expectedSeq - 1;
            Record late = dsl.select(TRANSFER.ID, TRANSFER.BATCH_SEQ, TRANSFER.TIMESTAMP_NS).from(TRANSFER)
                    .where(TRANSFER.TIMESTAMP_NS.gt(transfersReadUpToTs)).orderBy(TRANSFER.TIMESTAMP_NS).limit(1).fetchOne();
            if (late != null) {
                throw found(late.get(TRANSFER.BATCH_SEQ), Kind.ORPHAN_ROW, late.get(TRANSFER.ID), "transfer " + late.get(TRANSFER.ID)
                        + " has timestamp " + late.get(TRANSFER.TIMESTAMP_NS) + ", after the journal's last batch (" + last
                        + ", last_ts_ns " + transfersReadUpToTs + "): no batch records it");
            }
            Record t = dsl.select(TRANSFER.ID, TRANSFER.BATCH_SEQ).from(TRANSFER)
                    .where(TRANSFER.BATCH_SEQ.lt(1L).or(TRANSFER.BATCH_SEQ.gt(last)))
                    .orderBy(TRANSFER.BATCH_SEQ, TRANSFER.TIMESTAMP_NS).limit(1).fetchOne();
            if (t != null) {
                throw found(t.get(TRANSFER.BATCH_SEQ), Kind.ORPHAN_ROW, t.get(TRANSFER.ID), "transfer " + t.get(TRANSFER.ID)
                        + " carries batch_seq " + t.get(TRANSFER.BATCH_SEQ) + " but the journal ends at batch " + last);
            }
            Record a = dsl.select(ACCOUNT.ID, ACCOUNT.BATCH_SEQ).from(ACCOUNT)
                    .where(ACCOUNT.BATCH_SEQ.lt(1L).or(ACCOUNT.BATCH_SEQ.gt(last)))
                    .orderBy(ACCOUNT.BATCH_SEQ, ACCOUNT.CREATED_NS).limit(1).fetchOne();
            if (a != null) {
                throw found(a.get(ACCOUNT.BATCH_SEQ), Kind.ORPHAN_ROW, a.get(ACCOUNT.ID), "account " + a.get(ACCOUNT.ID)
                        + " carries batch_seq " + a.get(ACCOUNT.BATCH_SEQ) + " but the journal ends at batch " + last);
            }
            Long c = dsl.select(JOURNAL_CHECKPOINT.BATCH_SEQ).from(JOURNAL_CHECKPOINT)
                    .where(JOURNAL_CHECKPOINT.BATCH_SEQ.lt(1L).or(JOURNAL_CHECKPOINT.BATCH_SEQ.gt(last)))
                    .orderBy(JOURNAL_CHECKPOINT.BATCH_SEQ).limit(1).fetchOne(JOURNAL_CHECKPOINT.BATCH_SEQ);
            if (c != null) {
                throw found(c, Kind.ORPHAN_ROW, null, "a checkpoint signs batch " + c + " but the journal ends at batch " + last);
            }
        }

        /**
         * Every account's stored balances against the replay, streamed in one pass; reports the mismatch whose
         * account changed least recently. Then the per-currency totals of the stored balances.
         */
        private void checkStoredAccounts() throws Found {
            Problem earliest = null;
            long seen = 0;
            // Sums wrap around on overflow: a true sum of zero is zero mod 2^64, and a non-zero one passes only if
            // it is a multiple of 2^64, which also needs every account's balances to differ from the replay.
            Map<String, long[]> totals = new TreeMap<>();
            try (var cursor = dsl.select(ACCOUNT.ID, ACCOUNT.CURRENCY, ACCOUNT.DEBITS_PENDING, ACCOUNT.DEBITS_POSTED,
                    ACCOUNT.CREDITS_PENDING, ACCOUNT.CREDITS_POSTED).from(ACCOUNT).fetchSize(FETCH_SIZE).fetchLazy()) {
                for (Record r : cursor) {
                    seen++;
                    String id = r.get(ACCOUNT.ID);
                    Balance stored = Rows.accountBalance(r);
                    Replayed replayed = balances.get(id);
                    if (replayed == null) {
                        // Cannot happen in one snapshot (rows outside the journal were reported already).
                        if (earliest == null) {
                            earliest = new Problem(expectedSeq - 1, Kind.ORPHAN_ROW, id, "account " + id + " is not in the journal");
                        }
                        continue;
                    }
                    if (!stored.equals(replayed.balance()) && (earliest == null || replayed.lastSeq < earliest.batchSeq())) {
                        earliest = new Problem(replayed.lastSeq, Kind.ACCOUNT_BALANCE, id, "account " + id + " stores "
                                + show(stored) + " but the replay of its transfers gives " + show(replayed.balance())
                                + " (its last transfer is in batch " + replayed.lastSeq + ")");
                    }
                    long[] sum = totals.computeIfAbsent(r.get(ACCOUNT.CURRENCY), k -> new long[2]);
                    sum[0] += stored.debitsPosted() - stored.creditsPosted();
                    sum[1] += stored.debitsPending() - stored.creditsPending();
                }
            }
            if (earliest != null) {
                throw new Found(earliest);
            }
            if (seen != balances.size()) {
                throw found(expectedSeq - 1, Kind.ROW_COUNT, null, "the journal created " + balances.size()
                        + " accounts but the account table holds " + seen);
            }
            for (var e : totals.entrySet()) {
                if (e.getValue()[0] != 0 || e.getValue()[1] != 0) {
                    throw found(expectedSeq - 1, Kind.CURRENCY_TOTAL, null, e.getKey() + ": debits minus credits is "
                            + e.getValue()[0] + " posted and " + e.getValue()[1] + " pending, not zero");
                }
            }
        }

        private Found found(long seq, Kind kind, String row, String detail) {
            return new Found(new Problem(seq, kind, row, detail));
        }
    }

    /** Takes the rows of batch {@code seq} from the front of a cursor (ordered by batch_seq); returns how many. */
    private static <R> long take(Peeking<R> rows, long seq, java.util.function.ToLongFunction<R> batchOf, List<R> into,
            long expected) {
        long n = 0;
        R r;
        while ((r = rows.peek()) != null && batchOf.applyAsLong(r) == seq) {
            rows.next();
            if (n <= expected) {
                // Keep at most one more than expected: enough to know the count is wrong, bounded in memory.
                into.add(r);
            }
            n++;
        }
        return n;
    }

    /** An iterator with one row of lookahead. */
    private static final class Peeking<R> {
        private final Iterator<R> it;
        private R next;

        Peeking(Iterator<R> it) {
            this.it = it;
        }

        R peek() {
            if (next == null && it.hasNext()) {
                next = it.next();
            }
            return next;
        }

        R next() {
            R r = peek();
            next = null;
            return r;
        }
    }

    private static String show(Balance b) {
        return "debits " + b.debitsPending() + " pending / " + b.debitsPosted() + " posted, credits " + b.creditsPending()
                + " pending / " + b.creditsPosted() + " posted";
    }

    private static String hex(byte[] b) {
        return b == null ? "null" : HexFormat.of().formatHex(b);
    }

    /** The first 8 bytes of the key's SHA-256, in hex: how keys are named in messages. */
    public static String fingerprint(byte[] publicKey) {
        try {
            return "sha256:" + HexFormat.of().formatHex(Arrays.copyOf(MessageDigest.getInstance("SHA-256")
                    .digest(Objects.requireNonNull(publicKey)), 8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
