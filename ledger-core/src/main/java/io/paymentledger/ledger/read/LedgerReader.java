package io.paymentledger.ledger.read;

import static io.paymentledger.db.Tables.ACCOUNT;
import static io.paymentledger.db.Tables.PAYMENT;
import static io.paymentledger.db.Tables.PENDING_TRANSFER;
import static io.paymentledger.db.Tables.TRANSFER;
import static org.jooq.impl.DSL.any;

import io.paymentledger.ledger.account.AccountState;
import io.paymentledger.ledger.account.Balance;
import io.paymentledger.ledger.payment.PaymentView;
import io.paymentledger.ledger.store.Database;
import io.paymentledger.ledger.store.Rows;
import io.paymentledger.ledger.transfer.PendingState;
import io.paymentledger.ledger.transfer.TransferRow;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jooq.Condition;
import org.jooq.Record;
import org.jooq.SelectConditionStep;

/**
 * Reads of the ledger, straight from PostgreSQL. Whether this node may answer (linearizable reads only on
 * the leader) is decided by the caller; this class only reads.
 */
public final class LedgerReader {

    public enum Direction { BOTH, DEBITS, CREDITS }

    /** A transfer with the state of its hold, when it is a pending transfer. */
    public record TransferView(TransferRow transfer, PendingState holdState, long holdRemaining,
            String debitOwner, String creditOwner) {}

    /** A page of results and the timestamp to continue after (0 when there is no more). */
    public record Page<T>(List<T> items, long continueAfterNs) {}

    /** A balance after one change of an account. */
    public record BalancePoint(String transferId, long timestampNs, Balance balance) {}

    /** Filters of an account's transfers / balances. Bounds inclusive, 0 = unbounded. */
    public record Range(long timestampMinNs, long timestampMaxNs, boolean reversed, int limit, long afterNs) {}

    private final Database db;

    public LedgerReader(Database db) {
        this.db = db;
    }

    public Map<String, AccountState> accounts(List<String> ids) throws SQLException {
        return db.read(dsl -> {
            Map<String, AccountState> out = new HashMap<>();
            for (Record r : dsl.selectFrom(ACCOUNT).where(ACCOUNT.ID.eq(any(ids.toArray(String[]::new)))).fetch()) {
                AccountState a = Rows.account(r);
                out.put(a.id(), a);
            }
            return out;
        });
    }

    public Optional<AccountState> account(String id) throws SQLException {
        return Optional.ofNullable(accounts(List.of(id)).get(id));
    }

    public Map<String, TransferView> transfers(List<String> ids) throws SQLException {
        return db.read(dsl -> {
            var dr = ACCOUNT.as("dr");
            var cr = ACCOUNT.as("cr");
            Map<String, TransferView> out = new HashMap<>();
            for (Record r : dsl.select(TRANSFER.fields()).select(PENDING_TRANSFER.STATE, PENDING_TRANSFER.REMAINING,
                            dr.OWNER.as("dr_owner"), cr.OWNER.as("cr_owner"))
                    .from(TRANSFER)
                    .leftJoin(PENDING_TRANSFER).on(PENDING_TRANSFER.ID.eq(TRANSFER.ID))
                    .leftJoin(dr).on(dr.ID.eq(TRANSFER.DEBIT_ACCOUNT_ID))
                    .leftJoin(cr).on(cr.ID.eq(TRANSFER.CREDIT_ACCOUNT_ID))
                    .where(TRANSFER.ID.eq(any(ids.toArray(String[]::new)))).fetch()) {
                TransferRow t = Rows.transfer(r);
                Short state = r.get(PENDING_TRANSFER.STATE);
                out.put(t.id(), new TransferView(t, state == null ? null : PendingState.of(state),
                        state == null ? 0 : r.get(PENDING_TRANSFER.REMAINING),
                        r.get("dr_owner", String.class), r.get("cr_owner", String.class)));
            }
            return out;
        });
    }

    /** Transfers that touch an account, oldest (or newest) first, at most {@code range.limit()}. */
    public Page<TransferRow> accountTransfers(String accountId, Direction direction, Long code, Range range) throws SQLException {
        return db.read(dsl -> {
            List<TransferRow> rows = new ArrayList<>();
            for (Record r : touching(dsl, accountId, direction, code, range).fetch()) {
                rows.add(Rows.transfer(r));
            }
            return page(rows, range.limit(), TransferRow::timestampNs);
        });
    }

    /** The account's balance after each change in the range. */
    public Page<BalancePoint> balanceHistory(String accountId, Range range) throws SQLException {
        return db.read(dsl -> {
            List<BalancePoint> points = new ArrayList<>();
            for (Record r : touching(dsl, accountId, Direction.BOTH, null, range).fetch()) {
                points.add(point(accountId, Rows.transfer(r)));
            }
            return page(points, range.limit(), BalancePoint::timestampNs);
        });
    }

    /** The account's balance at {@code atNs}: after every change with a timestamp at or before it. */
    public Optional<BalancePoint> balanceAt(String accountId, long atNs) throws SQLException {
        Page<BalancePoint> p = balanceHistory(accountId, new Range(0, atNs, true, 1, 0));
        return p.items().stream().findFirst();
    }

    public Optional<PaymentView> payment(String id) throws SQLException {
        return db.read(dsl -> Optional.ofNullable(dsl.selectFrom(PAYMENT).where(PAYMENT.ID.eq(id)).fetchOne()).map(Rows::payment));
    }

    private static BalancePoint point(String accountId, TransferRow t) {
        Balance b = t.debitAccountId().equals(accountId) ? t.debitBalance() : t.creditBalance();
        return new BalancePoint(t.id(), t.timestampNs(), b);
    }

    /**
     * One index range scan per side (debit_account_id, timestamp_ns) / (credit_account_id, timestamp_ns), merged;
     * one more row than asked for tells whether a next page exists.
     *
     * <p>Each side names its account as a range of one value and orders by (account, time) — the same rows in the same
     * order as {@code account = ? order by timestamp_ns}, but only the account's own index yields that order. With the
     * equality PostgreSQL drops the constant from the order and may walk {@code transfer_timestamp} instead, filtering
     * for the account: for an account with a few per cent of all transfers it expects 101 matches soon, and when they
     * are not where it expects (an account created late, its oldest page) it reads the whole ledger — measured 81–398
     * ms per page at 3.4 M transfers against 0.1 ms (docs/benchmarks.md, "Ledger size"; HistoryPlanTest).
     */
    static org.jooq.Select<? extends Record> touching(org.jooq.DSLContext dsl, String accountId, Direction direction,
            Long code, Range range) {
        int fetch = range.limit() + 1;
        var debits = side(dsl, TRANSFER.DEBIT_ACCOUNT_ID, accountId, code, range).orderBy(order(TRANSFER.DEBIT_ACCOUNT_ID, range))
                .limit(fetch);
        var credits = side(dsl, TRANSFER.CREDIT_ACCOUNT_ID, accountId, code, range).orderBy(order(TRANSFER.CREDIT_ACCOUNT_ID, range))
                .limit(fetch);
        return switch (direction) {
            case DEBITS -> debits;
            case CREDITS -> credits;
            case BOTH -> {
                var u = debits.unionAll(credits).asTable("t");
                var ts = u.field(TRANSFER.TIMESTAMP_NS);
                yield dsl.select(u.fields()).from(u).orderBy(range.reversed() ? ts.desc() : ts.asc()).limit(fetch);
            }
        };
    }

    /** (account, time), both ascending or both descending: the account index's order. */
    private static List<org.jooq.SortField<?>> order(org.jooq.TableField<?, String> account, Range range) {
        return range.reversed() ? List.of(account.desc(), TRANSFER.TIMESTAMP_NS.desc()) : List.of(account.asc(), TRANSFER.TIMESTAMP_NS.asc());
    }

    private static SelectConditionStep<Record> side(org.jooq.DSLContext dsl, org.jooq.TableField<?, String> account, String accountId,
            Long code, Range range) {
        // A range of one value, not an equality: see touching().
        Condition c = account.ge(accountId).and(account.le(accountId));
        if (range.timestampMinNs() > 0) {
            c = c.and(TRANSFER.TIMESTAMP_NS.ge(range.timestampMinNs()));
        }
        if (range.timestampMaxNs() > 0) {
            c = c.and(TRANSFER.TIMESTAMP_NS.le(range.timestampMaxNs()));
        }
        if (range.afterNs() > 0) {
            c = c.and(range.reversed() ? TRANSFER.TIMESTAMP_NS.lt(range.afterNs()) : TRANSFER.TIMESTAMP_NS.gt(range.afterNs()));
        }
        if (code != null) {
            c = c.and(TRANSFER.CODE.eq(code));
        }
        return dsl.select(TRANSFER.fields()).from(TRANSFER).where(c);
    }

    private static <T> Page<T> page(List<T> rows, int limit, java.util.function.ToLongFunction<T> ts) {
        if (rows.size() <= limit) {
            return new Page<>(rows, 0);
        }
        List<T> items = rows.subList(0, limit);
        return new Page<>(List.copyOf(items), ts.applyAsLong(items.get(limit - 1)));
    }
}
