package io.paymentledger.ledger.events;

import static io.paymentledger.db.Tables.ACCOUNT;
import static io.paymentledger.db.Tables.EVENT_CELL;
import static io.paymentledger.db.Tables.JOURNAL_BATCH;
import static io.paymentledger.db.Tables.TRANSFER;

import io.paymentledger.ledger.Caller;
import io.paymentledger.ledger.access.Access;
import io.paymentledger.ledger.account.AccountState;
import io.paymentledger.ledger.store.Database;
import io.paymentledger.ledger.store.Rows;
import io.paymentledger.ledger.transfer.TransferRow;
import io.paymentledger.ledger.write.BatchWriter;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.logging.Logger;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.impl.DSL;

/**
 * The event stream's source: the journal itself (account and transfer rows), read by {@link Position} in commit
 * order, up to the <b>horizon</b> — the newest batch known durable in two sites. No row is written per event, no
 * replication slot is used: the rows are the replicated data, so the stream survives failover with them
 * (docs/decisions/0006-events.md).
 *
 * <p>The horizon, on the leader: the last batch its writer answered OK (its COMMIT came back confirmed by the
 * synchronous quorum; everything before it in the WAL with it). A batch whose COMMIT is still waiting is invisible to
 * other sessions anyway; one whose wait was cancelled is visible here but not confirmed, and stays beyond the horizon
 * until a later batch is acknowledged. At the start of a term, before its writer acknowledged anything, the journal
 * head it inherited is confirmed once by a commit of its own that waits for the quorum.
 */
public final class EventSource {

    private static final Logger LOG = Logger.getLogger(EventSource.class.getName());

    /** Journal rows of each kind read per page at most, whatever the filter: a page's cost is bounded. */
    public static final int SCAN_ROWS_MAX = 1_000;

    /** A filter: types (empty: all), accounts (empty: all the caller may read). */
    public record Filter(Set<EventType> types, Set<String> accountIds) {
        public static final Filter ALL = new Filter(Set.of(), Set.of());

        boolean matches(LedgerEvent e) {
            return (types.isEmpty() || types.contains(e.type())) && (accountIds.isEmpty() || e.touches(accountIds));
        }
    }

    /** Events a caller may see after a position, and where to continue. */
    public record Page(List<LedgerEvent> events, Position next) {}

    private record TermHead(long epoch, Position head) {}

    private final Database database;
    private final BatchWriter writer;
    private final String region;
    private final String cellNameWanted;
    private final Database.SessionLimits limits;
    private volatile Cursors cursors;
    private volatile TermHead termHead;

    /**
     * @param cellName the name this node gives the cell if it is the first to serve events (kept for good in the
     *                 database; the stored name wins afterwards)
     */
    public EventSource(Database database, BatchWriter writer, String region, String cellName, Database.SessionLimits limits) {
        this.database = database;
        this.writer = writer;
        this.region = region;
        this.cellNameWanted = cellName;
        this.limits = limits;
    }

    /** The cell's name and cursor key, created by the first leader that serves events. Leader only. */
    public Cursors cursors() throws SQLException {
        Cursors c = cursors;
        if (c != null) {
            return c;
        }
        synchronized (this) {
            if (cursors == null) {
                cursors = loadOrCreateCell();
            }
            return cursors;
        }
    }

    private Cursors loadOrCreateCell() throws SQLException {
        try (Connection c = database.connect("ledger-events-" + region, limits)) {
            c.setAutoCommit(false);
            DSLContext dsl = Database.dsl(c);
            byte[] key = new byte[16];
            new SecureRandom().nextBytes(key);
            dsl.insertInto(EVENT_CELL, EVENT_CELL.SINGLETON, EVENT_CELL.NAME, EVENT_CELL.CURSOR_KEY)
                    .values(true, cellNameWanted, key).onConflictDoNothing().execute();
            Record r = dsl.select(EVENT_CELL.NAME, EVENT_CELL.CURSOR_KEY).from(EVENT_CELL).fetchOne();
            c.commit();
            // A key nobody else has is never used: cursors issued under it would not survive a failover.
            BatchWriter.requireQuorumConfirmed(c.getWarnings());
            LOG.info(() -> "events: cell '" + r.get(EVENT_CELL.NAME) + "'");
            return new Cursors(r.get(EVENT_CELL.NAME), r.get(EVENT_CELL.CURSOR_KEY));
        }
    }

    /**
     * The newest position known durable in two sites (leader only): the writer's last acknowledged batch in this
     * term, else the journal head this term inherited, confirmed once.
     */
    public Position horizon() throws SQLException {
        long epoch = writer.epoch();
        BatchWriter.Acknowledged a = writer.acknowledged();
        if (a != null && a.epoch() == epoch) {
            return new Position(a.seq(), a.lastTimestampNs());
        }
        TermHead t = termHead;
        if (t != null && t.epoch() == epoch) {
            return t.head();
        }
        synchronized (this) {
            if (termHead == null || termHead.epoch() != epoch) {
                termHead = new TermHead(epoch, confirmHead());
            }
            return termHead.head();
        }
    }

    /**
     * Reads the journal head, then commits a transaction that has a transaction id (so its COMMIT waits for the
     * synchronous quorum like the writer's) and checks that the wait was not cancelled: the head's batch came before
     * it in the WAL, so it is in two sites once this returns.
     */
    private Position confirmHead() throws SQLException {
        try (Connection c = database.connect("ledger-events-" + region, limits)) {
            c.setAutoCommit(false);
            DSLContext dsl = Database.dsl(c);
            Record r = dsl.select(JOURNAL_BATCH.SEQ, JOURNAL_BATCH.LAST_TS_NS).from(JOURNAL_BATCH)
                    .orderBy(JOURNAL_BATCH.SEQ.desc()).limit(1).fetchOne();
            dsl.fetch("select txid_current()");
            c.commit();
            BatchWriter.requireQuorumConfirmed(c.getWarnings());
            Position head = r == null ? Position.START : new Position(r.get(JOURNAL_BATCH.SEQ), r.get(JOURNAL_BATCH.LAST_TS_NS));
            LOG.info(() -> "events: this term's inherited journal head (batch " + head.batchSeq() + ") is confirmed in two sites");
            return head;
        }
    }

    /** Whether {@code p} is a position of this journal (a batch that holds that timestamp), for cursor checks. */
    public boolean exists(Position p) throws SQLException {
        if (p.equals(Position.START)) {
            return true;
        }
        return database.read(dsl -> dsl.fetchExists(dsl.selectOne().from(JOURNAL_BATCH).where(JOURNAL_BATCH.SEQ.eq(p.batchSeq())
                .and(JOURNAL_BATCH.FIRST_TS_NS.le(p.timestampNs())).and(JOURNAL_BATCH.LAST_TS_NS.ge(p.timestampNs())))));
    }

    /**
     * Up to {@code limit} events {@code caller} may see that match {@code filter}, after {@code after} and up to
     * {@code horizon}, oldest first, reading at most {@link #SCAN_ROWS_MAX} rows of each kind; {@code next} is where
     * the next page starts (past rows the caller does not see, so a resumed stream does not read them again).
     */
    public Page page(Caller caller, Position after, Position horizon, Filter filter, int limit) throws SQLException {
        // A caller who sees every row and filters nothing needs no more rows than it asked for.
        return page(caller, after, horizon, filter, limit, seesEverything(caller, filter) ? limit : SCAN_ROWS_MAX);
    }

    /** Whether every journal row is an event for {@code caller} with {@code filter} (the operator, no filter). */
    public static boolean seesEverything(Caller caller, Filter filter) {
        return caller.isOperator() && filter.types().isEmpty() && filter.accountIds().isEmpty();
    }

    /**
     * {@link #page(Caller, Position, Position, Filter, int)} reading at most {@code scan} rows of each kind (1..{@link
     * #SCAN_ROWS_MAX}): a stream sizes it by what its last pages found (EventsApi), since a merchant that sees most
     * rows wastes most of a 1,000-row scan on a 256-event page, and one that sees few needs the whole scan.
     */
    public Page page(Caller caller, Position after, Position horizon, Filter filter, int limit, int scan) throws SQLException {
        if (scan < 1 || scan > SCAN_ROWS_MAX) {
            throw new IllegalArgumentException("scan must be 1.." + SCAN_ROWS_MAX + ", got " + scan);
        }
        if (!horizon.isAfter(after)) {
            return new Page(List.of(), after);
        }
        List<LedgerEvent> transfers = database.read(dsl -> transfers(dsl, after, horizon, scan));
        List<LedgerEvent> accounts = database.read(dsl -> accounts(dsl, after, horizon, scan));
        // Only up to the last row read of a kind that filled its scan: beyond it, rows of that kind were not read.
        Position frontier = horizon;
        if (transfers.size() == scan) {
            frontier = min(frontier, transfers.getLast().position());
        }
        if (accounts.size() == scan) {
            frontier = min(frontier, accounts.getLast().position());
        }
        List<LedgerEvent> out = new ArrayList<>();
        Position next = frontier;
        int ti = 0;
        int ai = 0;
        while (ti < transfers.size() || ai < accounts.size()) {
            LedgerEvent e = ai >= accounts.size() || (ti < transfers.size()
                    && transfers.get(ti).timestampNs() < accounts.get(ai).timestampNs()) ? transfers.get(ti++) : accounts.get(ai++);
            if (e.position().isAfter(frontier)) {
                break;
            }
            if (visible(caller, e) && filter.matches(e)) {
                out.add(e);
                if (out.size() == limit) {
                    next = e.position();
                    break;
                }
            }
        }
        return new Page(out, next);
    }

    /**
     * How many events (journal rows of both kinds) lie after {@code after} up to {@code horizon}, counted up to
     * {@code max} of each kind: a consumer's lag in events (the Kafka relay's, a webhook endpoint's), bounded in cost.
     */
    public long count(Position after, Position horizon, int max) throws SQLException {
        if (!horizon.isAfter(after)) {
            return 0;
        }
        return database.read(dsl -> (long) dsl.fetchCount(dsl.selectOne().from(TRANSFER)
                .where(TRANSFER.TIMESTAMP_NS.gt(after.timestampNs()).and(TRANSFER.TIMESTAMP_NS.le(horizon.timestampNs()))).limit(max))
                + dsl.fetchCount(dsl.selectOne().from(ACCOUNT)
                .where(DSL.row(ACCOUNT.BATCH_SEQ, ACCOUNT.CREATED_NS).gt(after.batchSeq(), after.timestampNs()))
                .and(ACCOUNT.BATCH_SEQ.le(horizon.batchSeq())).and(ACCOUNT.CREATED_NS.le(horizon.timestampNs())).limit(max)));
    }

    private static Position min(Position a, Position b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    /** Access's rule for what the event is about: an account the caller may read, or a transfer it may see. */
    public static boolean visible(Caller caller, LedgerEvent e) {
        return e.account() != null ? Access.mayRead(caller, e.account())
                : Access.maySee(caller, e.debitOwner(), e.creditOwner());
    }

    private static List<LedgerEvent> transfers(DSLContext dsl, Position after, Position horizon, int scan) {
        var dr = ACCOUNT.as("dr");
        var cr = ACCOUNT.as("cr");
        List<LedgerEvent> out = new ArrayList<>();
        for (Record r : dsl.select(TRANSFER.fields()).select(dr.OWNER.as("dr_owner"), cr.OWNER.as("cr_owner"))
                .from(TRANSFER)
                .leftJoin(dr).on(dr.ID.eq(TRANSFER.DEBIT_ACCOUNT_ID))
                .leftJoin(cr).on(cr.ID.eq(TRANSFER.CREDIT_ACCOUNT_ID))
                .where(TRANSFER.TIMESTAMP_NS.gt(after.timestampNs()).and(TRANSFER.TIMESTAMP_NS.le(horizon.timestampNs())))
                .orderBy(TRANSFER.TIMESTAMP_NS).limit(scan).fetch()) {
            TransferRow t = Rows.transfer(r);
            out.add(new LedgerEvent(EventType.of(t), new Position(t.batchSeq(), t.timestampNs()), null, t,
                    r.get("dr_owner", String.class), r.get("cr_owner", String.class)));
        }
        return out;
    }

    private static List<LedgerEvent> accounts(DSLContext dsl, Position after, Position horizon, int scan) {
        List<LedgerEvent> out = new ArrayList<>();
        for (Record r : dsl.selectFrom(ACCOUNT)
                .where(DSL.row(ACCOUNT.BATCH_SEQ, ACCOUNT.CREATED_NS).gt(after.batchSeq(), after.timestampNs()))
                .and(ACCOUNT.BATCH_SEQ.le(horizon.batchSeq())).and(ACCOUNT.CREATED_NS.le(horizon.timestampNs()))
                .orderBy(ACCOUNT.BATCH_SEQ, ACCOUNT.CREATED_NS).limit(scan).fetch()) {
            AccountState a = Rows.account(r);
            out.add(new LedgerEvent(EventType.ACCOUNT_CREATED, new Position(r.get(ACCOUNT.BATCH_SEQ), a.createdNs()), a, null,
                    a.owner(), a.owner()));
        }
        return out;
    }
}
