package io.paymentledger.ledger.write;

import static io.paymentledger.db.Tables.ACCOUNT;
import static io.paymentledger.db.Tables.JOURNAL_BATCH;
import static io.paymentledger.db.Tables.JOURNAL_CHECKPOINT;
import static io.paymentledger.db.Tables.LEADERSHIP;
import static io.paymentledger.db.Tables.PAYMENT;
import static io.paymentledger.db.Tables.PENDING_TRANSFER;
import static io.paymentledger.db.Tables.TRANSFER;
import static org.jooq.impl.DSL.any;
import static org.jooq.impl.DSL.excluded;

import io.paymentledger.ledger.account.AccountState;
import io.paymentledger.ledger.payment.PaymentState;
import io.paymentledger.ledger.payment.PaymentView;
import io.paymentledger.ledger.store.CopyIn;
import io.paymentledger.ledger.store.Database;
import io.paymentledger.ledger.store.MetadataJson;
import io.paymentledger.ledger.store.Rows;
import io.paymentledger.ledger.journal.JournalHash;
import io.paymentledger.ledger.transfer.PendingHold;
import io.paymentledger.ledger.transfer.PendingState;
import io.paymentledger.ledger.transfer.TransferRow;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.jooq.DSLContext;
import org.jooq.Field;
import org.jooq.Record;
import org.jooq.Table;

/**
 * The writer's side of PostgreSQL: loads what a batch needs (a few queries per batch, never per item) and
 * writes a batch in one transaction, fenced by the leadership epoch.
 */
final class WriterStore implements AutoCloseable {

    /** Rows per multi-row statement: keeps bind values under PostgreSQL's 32767 per statement. */
    private static final int ROWS_PER_STATEMENT = 4000;

    static final CopyIn<TransferRow> TRANSFER_COPY = new CopyIn<>(TRANSFER, List.of(TRANSFER.ID,
            TRANSFER.DEBIT_ACCOUNT_ID, TRANSFER.CREDIT_ACCOUNT_ID, TRANSFER.AMOUNT, TRANSFER.CURRENCY, TRANSFER.CODE,
            TRANSFER.FLAGS, TRANSFER.PENDING_ID, TRANSFER.TIMEOUT_SECONDS, TRANSFER.PAYMENT_ID, TRANSFER.METADATA,
            TRANSFER.TIMESTAMP_NS, TRANSFER.BATCH_SEQ, TRANSFER.DR_DEBITS_PENDING, TRANSFER.DR_DEBITS_POSTED,
            TRANSFER.DR_CREDITS_PENDING, TRANSFER.DR_CREDITS_POSTED, TRANSFER.CR_DEBITS_PENDING,
            TRANSFER.CR_DEBITS_POSTED, TRANSFER.CR_CREDITS_PENDING, TRANSFER.CR_CREDITS_POSTED), (t, line) -> line
            .add(t.id()).add(t.debitAccountId()).add(t.creditAccountId()).add(t.amount()).add(t.currency())
            .add(t.code()).add(t.flags()).add(t.pendingId()).add(t.timeoutSeconds()).add(t.paymentId())
            .add(MetadataJson.toText(t.metadata())).add(t.timestampNs()).add(t.batchSeq())
            .add(t.debitBalance().debitsPending()).add(t.debitBalance().debitsPosted())
            .add(t.debitBalance().creditsPending()).add(t.debitBalance().creditsPosted())
            .add(t.creditBalance().debitsPending()).add(t.creditBalance().debitsPosted())
            .add(t.creditBalance().creditsPending()).add(t.creditBalance().creditsPosted()));

    /**
     * The statements every batch runs, rendered by jOOQ ONCE from the generated tables (a schema change that
     * breaks them breaks the build, not production) and executed as plain prepared statements: rendering them
     * anew for every batch was a fifth of the leader's CPU at 1,200 single-transfer calls/s (JFR). PgJDBC keeps
     * them prepared on the server by their text.
     */
    static final class Sql {
        private static final DSLContext RENDER = org.jooq.impl.DSL.using(org.jooq.SQLDialect.POSTGRES, Database.SETTINGS);
        private static final String[] NO_IDS = new String[0];
        private static final Long[] NO_LONGS = new Long[0];

        /** 1 bind: the ids (varchar[]). */
        static final String TRANSFERS_BY_ID = RENDER.render(RENDER.select(TRANSFER.fields()).from(TRANSFER)
                .where(TRANSFER.ID.eq(any(NO_IDS))));
        /** 1 bind: the ids (varchar[]). */
        static final String ACCOUNTS_BY_ID = RENDER.render(RENDER.select(ACCOUNT.fields()).from(ACCOUNT)
                .where(ACCOUNT.ID.eq(any(NO_IDS))));
        /** No bind. FOR SHARE: a new leader's epoch update waits for this batch, or this batch sees the new epoch. */
        static final String EPOCH_FOR_SHARE = RENDER.render(RENDER.select(LEADERSHIP.EPOCH).from(LEADERSHIP).forShare());
        /** 5 binds: ids varchar[], debits pending, debits posted, credits pending, credits posted (bigint[] each). */
        static final String UPDATE_BALANCES;
        /** 9 binds, in the order of the column list. */
        static final String INSERT_JOURNAL = RENDER.render(RENDER.insertInto(JOURNAL_BATCH, JOURNAL_BATCH.SEQ, JOURNAL_BATCH.EPOCH,
                JOURNAL_BATCH.REGION, JOURNAL_BATCH.FIRST_TS_NS, JOURNAL_BATCH.LAST_TS_NS, JOURNAL_BATCH.ACCOUNT_COUNT,
                JOURNAL_BATCH.TRANSFER_COUNT, JOURNAL_BATCH.PREV_HASH, JOURNAL_BATCH.HASH)
                .values(0L, 0L, "", 0L, 0L, 0, 0, new byte[0], new byte[0]));

        /**
         * The epoch check (FOR SHARE), the balances and the journal row in ONE statement, one round trip: 14 binds,
         * the UPDATE's 5 then the journal's 9. Answers the stored epoch (null without a leadership row), the accounts
         * updated and the journal rows inserted. Data-modifying CTEs run whole whatever the outcome; a wrong epoch
         * rolls the transaction back before anything commits.
         */
        static final String EPOCH_BALANCES_JOURNAL;

        static {
            Table<?> v = org.jooq.impl.DSL.table("unnest({0}, {1}, {2}, {3}, {4})", org.jooq.impl.DSL.val(NO_IDS),
                    org.jooq.impl.DSL.val(NO_LONGS), org.jooq.impl.DSL.val(NO_LONGS), org.jooq.impl.DSL.val(NO_LONGS),
                    org.jooq.impl.DSL.val(NO_LONGS)).as("v", "id", "dp", "dpo", "cp", "cpo");
            // A plain-SQL table's columns are not known to jOOQ: refer to them by qualified name.
            UPDATE_BALANCES = RENDER.render(RENDER.update(ACCOUNT)
                    .set(ACCOUNT.DEBITS_PENDING, column("dp"))
                    .set(ACCOUNT.DEBITS_POSTED, column("dpo"))
                    .set(ACCOUNT.CREDITS_PENDING, column("cp"))
                    .set(ACCOUNT.CREDITS_POSTED, column("cpo"))
                    .from(v).where(ACCOUNT.ID.eq(org.jooq.impl.DSL.field(org.jooq.impl.DSL.name("v", "id"), String.class))));
            EPOCH_BALANCES_JOURNAL = "with e as (" + EPOCH_FOR_SHARE + "), u as (" + UPDATE_BALANCES + " returning 1), j as ("
                    + INSERT_JOURNAL + " returning 1) select (select " + LEADERSHIP.EPOCH.getName() + " from e),"
                    + " (select count(*) from u), (select count(*) from j)";
        }

        private Sql() {}
    }

    /** What a store's connection is for: the applying thread's reads, or the committing thread's transactions. */
    enum Role {
        /** Autocommit: each lookup is its own snapshot, no transaction to end. */
        READS("ledger-writer-%s-reads", true),
        /** One transaction per batch. */
        COMMITS("ledger-writer-%s", false);

        final String applicationName;
        final boolean autoCommit;

        Role(String applicationName, boolean autoCommit) {
            this.applicationName = applicationName;
            this.autoCommit = autoCommit;
        }
    }

    private final Database database;
    private final String region;
    private final Role role;
    private final Database.SessionLimits limits;
    /** Used by its owning thread; volatile for {@link #abort} (the watchdog's). */
    private volatile Connection connection;
    /** The backend serving {@link #connection}, for the stall report (0: none yet). */
    private volatile int backendPid;

    WriterStore(Database database, String region, Role role, Database.SessionLimits limits) {
        this.database = database;
        this.region = region;
        this.role = role;
        this.limits = limits;
    }

    private DSLContext dsl() throws SQLException {
        if (connection == null || connection.isClosed()) {
            Connection c = database.connect(String.format(role.applicationName, region), limits);
            c.setAutoCommit(role.autoCommit);
            backendPid = c.unwrap(org.postgresql.PGConnection.class).getBackendPID();
            connection = c;
        }
        return Database.dsl(connection);
    }

    /** Where an operator finds this store's session: its application_name and backend pid in pg_stat_activity. */
    String describe() {
        return "application_name " + String.format(role.applicationName, region) + ", backend pid " + backendPid;
    }

    /**
     * Cuts the connection from another thread (the watchdog's): a thread blocked on it gets an error at once
     * instead of waiting for PostgreSQL. The owning thread opens a new one when it next needs it.
     */
    void abort() {
        Connection c = connection;
        if (c != null) {
            try {
                c.abort(Runnable::run);
            } catch (SQLException | RuntimeException ignored) {
                // already broken
            }
        }
    }

    /** Drops the connection (after a failure its state is unknown). */
    void reset() {
        if (connection != null) {
            try {
                connection.close();
            } catch (SQLException ignored) {
                // already broken
            }
            connection = null;
        }
    }

    record JournalHead(long seq, byte[] hash, long lastTimestampNs) {}

    JournalHead loadHead() throws SQLException {
        DSLContext dsl = dsl();
        try {
            Record r = dsl.select(JOURNAL_BATCH.SEQ, JOURNAL_BATCH.HASH, JOURNAL_BATCH.LAST_TS_NS).from(JOURNAL_BATCH)
                    .orderBy(JOURNAL_BATCH.SEQ.desc()).limit(1).fetchOne();
            return r == null ? new JournalHead(0, JournalHash.GENESIS, 0)
                    : new JournalHead(r.get(JOURNAL_BATCH.SEQ), r.get(JOURNAL_BATCH.HASH), r.get(JOURNAL_BATCH.LAST_TS_NS));
        } finally {
            endRead();
        }
    }

    /** The epoch stored in the database now. */
    long storedEpoch() throws SQLException {
        DSLContext dsl = dsl();
        try {
            return dsl.select(LEADERSHIP.EPOCH).from(LEADERSHIP).fetchOne(LEADERSHIP.EPOCH);
        } finally {
            endRead();
        }
    }

    /** Pending transfers whose hold timed out by {@code nowNs}, oldest first. */
    List<String> dueHolds(long nowNs, int limit) throws SQLException {
        DSLContext dsl = dsl();
        try {
            return dsl.select(PENDING_TRANSFER.ID).from(PENDING_TRANSFER)
                    .where(PENDING_TRANSFER.STATE.eq(PendingState.HELD.code))
                    .and(PENDING_TRANSFER.EXPIRES_AT_NS.gt(0L)).and(PENDING_TRANSFER.EXPIRES_AT_NS.le(nowNs))
                    .orderBy(PENDING_TRANSFER.EXPIRES_AT_NS).limit(limit).fetch(PENDING_TRANSFER.ID);
        } finally {
            endRead();
        }
    }

    /**
     * Gives the batch what it will look at, from the writer's memory first (it has what earlier batches of this term
     * created or changed, also while their commit is under way) and from the database for the rest: existing
     * transfers with the given ids, holds, payments, accounts. What the database returns is remembered.
     *
     * @param transferIds    ids whose transfer must be known if it exists (pending ids a post or void refers to)
     * @param newTransferIds ids of transfers to create: looked up in memory, and in the database only when
     *                       {@code lookUpNewIds}
     */
    void prefetch(Batch b, Collection<String> transferIds, Collection<String> newTransferIds, boolean lookUpNewIds,
            Collection<String> holdIds, Collection<String> paymentIds, Collection<String> accountIds, WriterMemory memory)
            throws SQLException {
        long seq = b.seq;
        DSLContext dsl = dsl();
        try {
            List<String> missingTransfers = new ArrayList<>();
            for (String id : newTransferIds) {
                if (b.transfer(id) != null || transferIds.contains(id)) {
                    continue;
                }
                TransferRow known = memory.transfers.get(id, seq);
                if (known != null) {
                    b.existingTransfers.put(id, known);
                } else if (lookUpNewIds) {
                    missingTransfers.add(id);
                }
                // else: taken as new; the primary key refuses the batch if it is not (DuplicateTransferIds)
            }
            for (String id : transferIds) {
                if (b.transfer(id) != null) {
                    continue;
                }
                TransferRow known = memory.transfers.get(id, seq);
                if (known != null) {
                    b.existingTransfers.put(id, known);
                } else {
                    missingTransfers.add(id);
                }
            }
            if (!missingTransfers.isEmpty()) {
                for (Record r : fetchByIds(dsl, Sql.TRANSFERS_BY_ID, TRANSFER.fields(), missingTransfers)) {
                    TransferRow t = Rows.transfer(r);
                    b.existingTransfers.put(t.id(), t);
                    memory.transfers.put(t.id(), t, seq);
                }
            }
            List<String> moreAccounts = new ArrayList<>();
            for (TransferRow t : b.existingTransfers.values()) {
                // A replay of an existing id answers by who may see that transfer: its accounts decide.
                moreAccounts.add(t.debitAccountId());
                moreAccounts.add(t.creditAccountId());
            }
            List<String> missingHolds = new ArrayList<>();
            List<PendingHold> newHolds = new ArrayList<>();
            for (String id : holdIds) {
                if (b.holds.containsKey(id)) {
                    continue;
                }
                PendingHold known = memory.holds.get(id, seq);
                if (known != null) {
                    newHolds.add(known);
                } else {
                    missingHolds.add(id);
                }
            }
            if (!missingHolds.isEmpty()) {
                for (Record r : dsl.select().from(PENDING_TRANSFER).join(TRANSFER).on(TRANSFER.ID.eq(PENDING_TRANSFER.ID))
                        .where(PENDING_TRANSFER.ID.eq(any(missingHolds.toArray(String[]::new)))).fetch()) {
                    TransferRow t = Rows.transfer(r);
                    PendingHold h = new PendingHold(t, r.get(PENDING_TRANSFER.REMAINING), r.get(PENDING_TRANSFER.POSTED),
                            PendingState.of(r.get(PENDING_TRANSFER.STATE)), r.get(PENDING_TRANSFER.EXPIRES_AT_NS));
                    memory.holds.put(t.id(), h, seq);
                    newHolds.add(h);
                }
            }
            List<String> wantedPayments = new ArrayList<>(paymentIds);
            for (PendingHold h : newHolds) {
                TransferRow t = h.transfer();
                if (b.transfer(t.id()) == null) {
                    b.existingTransfers.put(t.id(), t);
                }
                b.holds.put(t.id(), h);
                moreAccounts.add(t.debitAccountId());
                moreAccounts.add(t.creditAccountId());
                if (t.paymentId() != null) {
                    wantedPayments.add(t.paymentId());
                }
            }
            List<String> missingPayments = new ArrayList<>();
            for (String id : wantedPayments) {
                if (b.payments.containsKey(id)) {
                    continue;
                }
                PaymentState known = memory.payments.get(id, seq);
                if (known != null) {
                    b.payments.put(id, known);
                    moreAccounts.add(known.payerAccountId());
                    moreAccounts.add(known.merchantAccountId());
                } else if (!missingPayments.contains(id)) {
                    missingPayments.add(id);
                }
            }
            if (!missingPayments.isEmpty()) {
                for (Record r : dsl.selectFrom(PAYMENT).where(PAYMENT.ID.eq(any(missingPayments.toArray(String[]::new)))).fetch()) {
                    PaymentView v = Rows.payment(r);
                    PaymentState p = new PaymentState(v.id(), v.payerAccountId(), v.merchantAccountId(), v.currency(),
                            v.authorizedAmount(), v.capturedAmount(), v.refundedAmount(), v.releasedAmount(),
                            v.authorizedAtNs(), v.expiresAtNs(), v.releaseReason(), v.metadata());
                    memory.payments.put(p.id(), p, seq);
                    b.payments.put(p.id(), p);
                    moreAccounts.add(v.payerAccountId());
                    moreAccounts.add(v.merchantAccountId());
                }
            }
            List<String> missing = new ArrayList<>();
            for (String id : accountIds) {
                resolveAccount(b, memory, id, missing);
            }
            for (String id : moreAccounts) {
                resolveAccount(b, memory, id, missing);
            }
            if (!missing.isEmpty()) {
                for (Record r : fetchByIds(dsl, Sql.ACCOUNTS_BY_ID, ACCOUNT.fields(), missing)) {
                    AccountState a = Rows.account(r);
                    b.accounts.put(a.id(), a);
                    memory.accounts.put(a.id(), a, seq);
                }
            }
        } finally {
            endRead();
        }
    }

    /** Runs a pre-rendered {@code ... where id = any(?)} query; the rows typed by {@code fields}. */
    private org.jooq.Result<Record> fetchByIds(DSLContext dsl, String sql, Field<?>[] fields, Collection<String> ids)
            throws SQLException {
        try (java.sql.PreparedStatement ps = connection.prepareStatement(sql)) {
            ps.setArray(1, connection.createArrayOf("varchar", ids.toArray()));
            try (java.sql.ResultSet rs = ps.executeQuery()) {
                return dsl.fetch(rs, fields);
            }
        }
    }

    private static void resolveAccount(Batch b, WriterMemory memory, String id, List<String> missing) {
        if (b.accounts.containsKey(id)) {
            return;
        }
        AccountState known = memory.accounts.get(id, b.seq);
        b.accounts.put(id, known);
        if (known == null) {
            // Once per id (the early return above): no list search here, which made looking up a batch of n unknown
            // accounts cost n² (10 % of the leader's CPU in JFR with 4,096 single-transfer callers; issue #12).
            missing.add(id);
        }
    }

    /** Ends a read: nothing to end on an autocommit (reads) connection, a rollback of the read-only transaction else. */
    private void endRead() throws SQLException {
        if (connection != null && !connection.getAutoCommit()) {
            connection.rollback();
        }
    }

    /** Thrown when the database's epoch is not the writer's: another leader took over. */
    static final class Fenced extends Exception {
        final long storedEpoch;

        Fenced(long mine, long stored) {
            super("fenced: this writer has epoch " + mine + " but the database has epoch " + stored, null, false, false);
            this.storedEpoch = stored;
        }
    }

    /**
     * The first half of a batch's transaction: its new rows (accounts, transfers by COPY) and the holds, payments and
     * balances the previous batch did not touch ({@code free*}), which no other open transaction holds, so they go in
     * while the previous batch is still written or waits for its COMMIT (on another connection). Leaves the transaction open for {@link #finish}. On any exception the transaction is rolled back
     * (nothing of the batch is written) and the connection stays usable unless it broke.
     */
    void writeRows(Batch.Sealed b) throws SQLException, DuplicateTransferIds {
        DSLContext dsl = dsl();
        boolean done = false;
        try {
            insertAccounts(dsl, b);
            TRANSFER_COPY.copy(connection, b.transfers());
            upsertHolds(dsl, b.freeHolds());
            upsertPayments(dsl, b.freePayments());
            if (b.freeBalances().size() > 0) {
                updateBalances(b.freeBalances());
            }
            done = true;
        } catch (SQLException e) {
            if (isDuplicateTransferId(e)) {
                throw new DuplicateTransferIds(e.getMessage());
            }
            throw e;
        } finally {
            if (!done) {
                rollbackQuietly();
            }
        }
    }

    /**
     * The second half, run only once every earlier batch committed: the holds and payments the previous batch touched,
     * then the epoch check, the balances (the rows the previous batch changed: they are free once its COMMIT returned)
     * and the journal row in one statement, the signed
     * checkpoint if any, then the COMMIT (synchronous: returns once a second site has it). On any exception nothing of
     * the batch may be assumed written, or not written: the caller resets.
     */
    void finish(Batch.Sealed b) throws SQLException, Fenced {
        boolean done = false;
        try {
            // The holds and payments the batch before this one touched: their row locks were released by its COMMIT.
            DSLContext dsl = Database.dsl(connection);
            upsertHolds(dsl, b.lockedHolds());
            upsertPayments(dsl, b.lockedPayments());
            epochBalancesJournal(b);
            var checkpoint = b.checkpoint();
            if (checkpoint != null) {
                Database.dsl(connection).insertInto(JOURNAL_CHECKPOINT, JOURNAL_CHECKPOINT.BATCH_SEQ, JOURNAL_CHECKPOINT.HASH,
                        JOURNAL_CHECKPOINT.SIGNER, JOURNAL_CHECKPOINT.PUBLIC_KEY, JOURNAL_CHECKPOINT.ALGORITHM,
                        JOURNAL_CHECKPOINT.SIGNATURE, JOURNAL_CHECKPOINT.CERTIFICATE)
                        .values(b.seq(), b.hash(), checkpoint.signer(), checkpoint.publicKey(), checkpoint.algorithm(),
                                checkpoint.signature(), checkpoint.certificate())
                        .execute();
            }
            long commitStart = System.nanoTime();
            connection.clearWarnings();
            connection.commit();
            lastCommitStatementNanos = System.nanoTime() - commitStart;
            notDurableWarning(connection.getWarnings());
            done = true;
        } finally {
            if (!done) {
                rollbackQuietly();
            }
        }
    }

    /**
     * A COMMIT whose wait for the synchronous quorum was cancelled (pg_cancel_backend; not statement_timeout, which PostgreSQL disables before a COMMIT) returns as
     * if it succeeded, with only a WARNING: the transaction committed here, but no second site may have it
     * (PostgreSQL's syncrep.c: "canceling wait for synchronous replication ... The transaction has already committed
     * locally, but might not have been replicated to the standby"). Such a batch is not acknowledged: its outcome is
     * unknown, exactly as if the connection broke.
     */
    static void notDurableWarning(java.sql.SQLWarning warnings) throws SQLException {
        for (java.sql.SQLWarning w = warnings; w != null; w = w.getNextWarning()) {
            String m = String.valueOf(w.getMessage());
            if (m.contains("synchronous replication") || m.contains("committed locally")) {
                throw new SQLException("COMMIT returned without a second site: " + m, "57014");
            }
        }
    }

    /** Ends the open transaction without writing it; a connection that cannot even do that is dropped. */
    void rollbackQuietly() {
        if (connection == null) {
            return;
        }
        try {
            connection.rollback();
        } catch (SQLException broken) {
            reset();
        }
    }

    /** PostgreSQL names a primary key {@code <table>_pkey}. */
    static final String TRANSFER_PRIMARY_KEY = TRANSFER.getName() + "_pkey";

    private static boolean isDuplicateTransferId(SQLException e) {
        return e instanceof org.postgresql.util.PSQLException p && "23505".equals(p.getSQLState())
                && p.getServerErrorMessage() != null && TRANSFER_PRIMARY_KEY.equals(p.getServerErrorMessage().getConstraint());
    }

    /**
     * A batch carried a transfer id that already exists in the database (not in the writer's memory): the
     * transaction was rolled back whole, nothing of the batch is written. Its commands are applied again, with
     * lookups.
     */
    static final class DuplicateTransferIds extends Exception {
        DuplicateTransferIds(String message) {
            super(message, null, false, false);
        }
    }

    private long lastCommitStatementNanos;

    /**
     * How long the last batch's COMMIT statement took: the WAL flush here plus the wait for a second site (quorum
     * commit). Read by the batch's lane right after {@link #finish} returned.
     */
    long lastCommitStatementNanos() {
        return lastCommitStatementNanos;
    }


    private void insertAccounts(DSLContext dsl, Batch.Sealed b) {
        List<AccountState> all = b.newAccounts();
        for (int from = 0; from < all.size(); from += ROWS_PER_STATEMENT / 4) {
            var insert = dsl.insertInto(ACCOUNT, ACCOUNT.ID, ACCOUNT.CURRENCY, ACCOUNT.CODE, ACCOUNT.OWNER, ACCOUNT.FLAGS,
                    ACCOUNT.METADATA, ACCOUNT.DEBITS_PENDING, ACCOUNT.DEBITS_POSTED, ACCOUNT.CREDITS_PENDING,
                    ACCOUNT.CREDITS_POSTED, ACCOUNT.CREATED_NS, ACCOUNT.BATCH_SEQ, ACCOUNT.GRANTED_MERCHANTS);
            for (AccountState a : all.subList(from, Math.min(all.size(), from + ROWS_PER_STATEMENT / 4))) {
                var bal = a.balance();
                insert = insert.values(a.id(), a.currency(), a.code(), a.owner(), a.flags(), MetadataJson.toJson(a.metadata()),
                        bal.debitsPending(), bal.debitsPosted(), bal.creditsPending(), bal.creditsPosted(), a.createdNs(), b.seq(),
                        MetadataJson.listToJson(a.grantedMerchants()));
            }
            insert.execute();
        }
    }

    /**
     * Checks the epoch (FOR SHARE: a new leader's epoch update waits for this batch, or this batch sees the new
     * epoch), writes all touched accounts' new balances ({@code update account ... from unnest(ids, dp, dpo, cp, cpo)}:
     * five array binds whatever the number of accounts) and the journal row, in one statement.
     */
    private void epochBalancesJournal(Batch.Sealed b) throws SQLException, Fenced {
        Batch.Balances locked = b.lockedBalances();
        int n = locked.size();
        try (java.sql.PreparedStatement ps = connection.prepareStatement(Sql.EPOCH_BALANCES_JOURNAL)) {
            bindBalances(ps, locked);
            ps.setLong(6, b.seq());
            ps.setLong(7, b.epoch());
            ps.setString(8, region);
            ps.setLong(9, b.firstTimestampNs());
            ps.setLong(10, b.lastTimestampNs());
            ps.setInt(11, b.newAccounts().size());
            ps.setInt(12, b.transfers().size());
            ps.setBytes(13, b.prevHash());
            ps.setBytes(14, b.hash());
            try (java.sql.ResultSet rs = ps.executeQuery()) {
                rs.next();
                long stored = rs.getLong(1);
                if (rs.wasNull() || stored != b.epoch()) {
                    throw new Fenced(b.epoch(), rs.wasNull() ? -1 : stored);
                }
                if (rs.getLong(2) != n || rs.getLong(3) != 1) {
                    // Every touched account was loaded from this table: a missing row means the state is not what we think.
                    throw new SQLException("balance update matched " + rs.getLong(2) + " of " + n + " accounts, journal rows "
                            + rs.getLong(3), "XX000");
                }
            }
        }
    }

    /** The five array binds of {@link Sql#UPDATE_BALANCES}, first in both statements that use it. */
    private void bindBalances(java.sql.PreparedStatement ps, Batch.Balances balances) throws SQLException {
        ps.setArray(1, connection.createArrayOf("varchar", balances.ids()));
        ps.setArray(2, connection.createArrayOf("int8", balances.debitsPending()));
        ps.setArray(3, connection.createArrayOf("int8", balances.debitsPosted()));
        ps.setArray(4, connection.createArrayOf("int8", balances.creditsPending()));
        ps.setArray(5, connection.createArrayOf("int8", balances.creditsPosted()));
    }

    /**
     * Writes balances no other open transaction holds (the batch before this one did not touch these accounts), with
     * the batch's rows, before the batch before it committed.
     */
    private void updateBalances(Batch.Balances free) throws SQLException {
        try (java.sql.PreparedStatement ps = connection.prepareStatement(Sql.UPDATE_BALANCES)) {
            bindBalances(ps, free);
            int updated = ps.executeUpdate();
            if (updated != free.size()) {
                // Every touched account was loaded from this table: a missing row means the state is not what we think.
                throw new SQLException("balance update matched " + updated + " of " + free.size() + " accounts", "XX000");
            }
        }
    }

    private static Field<Long> column(String name) {
        return org.jooq.impl.DSL.field(org.jooq.impl.DSL.name("v", name), Long.class);
    }

    private void upsertHolds(DSLContext dsl, List<Batch.HoldRow> all) {
        for (int from = 0; from < all.size(); from += ROWS_PER_STATEMENT / 5) {
            var insert = dsl.insertInto(PENDING_TRANSFER, PENDING_TRANSFER.ID, PENDING_TRANSFER.REMAINING,
                    PENDING_TRANSFER.POSTED, PENDING_TRANSFER.STATE, PENDING_TRANSFER.EXPIRES_AT_NS);
            for (Batch.HoldRow h : all.subList(from, Math.min(all.size(), from + ROWS_PER_STATEMENT / 5))) {
                insert = insert.values(h.id(), h.remaining(), h.posted(), h.state(), h.expiresAtNs());
            }
            insert.onConflict(PENDING_TRANSFER.ID).doUpdate()
                    .set(PENDING_TRANSFER.REMAINING, excluded(PENDING_TRANSFER.REMAINING))
                    .set(PENDING_TRANSFER.POSTED, excluded(PENDING_TRANSFER.POSTED))
                    .set(PENDING_TRANSFER.STATE, excluded(PENDING_TRANSFER.STATE))
                    .execute();
        }
    }

    private void upsertPayments(DSLContext dsl, List<PaymentView> all) {
        for (int from = 0; from < all.size(); from += ROWS_PER_STATEMENT / 12) {
            var insert = dsl.insertInto(PAYMENT, PAYMENT.ID, PAYMENT.PAYER_ACCOUNT_ID, PAYMENT.MERCHANT_ACCOUNT_ID,
                    PAYMENT.CURRENCY, PAYMENT.AUTHORIZED_AMOUNT, PAYMENT.CAPTURED_AMOUNT, PAYMENT.REFUNDED_AMOUNT,
                    PAYMENT.RELEASED_AMOUNT, PAYMENT.AUTHORIZED_AT_NS, PAYMENT.EXPIRES_AT_NS, PAYMENT.RELEASE_REASON,
                    PAYMENT.METADATA);
            for (PaymentView p : all.subList(from, Math.min(all.size(), from + ROWS_PER_STATEMENT / 12))) {
                insert = insert.values(p.id(), p.payerAccountId(), p.merchantAccountId(), p.currency(), p.authorizedAmount(),
                        p.capturedAmount(), p.refundedAmount(), p.releasedAmount(), p.authorizedAtNs(), p.expiresAtNs(),
                        p.releaseReason(), MetadataJson.toJson(p.metadata()));
            }
            insert.onConflict(PAYMENT.ID).doUpdate()
                    .set(PAYMENT.CAPTURED_AMOUNT, excluded(PAYMENT.CAPTURED_AMOUNT))
                    .set(PAYMENT.REFUNDED_AMOUNT, excluded(PAYMENT.REFUNDED_AMOUNT))
                    .set(PAYMENT.RELEASED_AMOUNT, excluded(PAYMENT.RELEASED_AMOUNT))
                    .set(PAYMENT.RELEASE_REASON, excluded(PAYMENT.RELEASE_REASON))
                    .execute();
        }
    }

    @Override
    public void close() {
        reset();
    }
}
