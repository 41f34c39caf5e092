package io.paymentledger.ledger.read;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * Invariant checks over a ledger database, independent of the writer's code: used by the drills, the
 * benchmark and the verifier. Each returns the problems found (empty = sound).
 */
public final class LedgerChecks {

    private LedgerChecks() {}

    /** Per currency, posted and pending balances sum to zero over all accounts. */
    public static List<String> currenciesBalance(Connection c) throws SQLException {
        List<String> problems = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("""
                select currency, sum(credits_posted - debits_posted), sum(credits_pending - debits_pending)
                from account group by currency""")) {
            while (rs.next()) {
                if (rs.getLong(2) != 0 || rs.getLong(3) != 0) {
                    problems.add("currency " + rs.getString(1) + " does not sum to zero: posted " + rs.getLong(2)
                            + ", pending " + rs.getLong(3));
                }
            }
        }
        return problems;
    }

    /** Every account's stored balances equal what its transfers imply (recomputed from the transfer rows). */
    public static List<String> balancesMatchTransfers(Connection c) throws SQLException {
        List<String> problems = new ArrayList<>();
        // flags: 2 pending, 4 post_pending, 8 void_pending, 16 expiry
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("""
                with effects as (
                  select debit_account_id as account,
                         case when flags & 2 <> 0 then amount when flags & (4|8|16) <> 0 then -amount else 0 end as dp,
                         case when flags & (2|8|16) = 0 then amount else 0 end as dpo,
                         0::bigint as cp, 0::bigint as cpo
                  from transfer
                  union all
                  select credit_account_id, 0, 0,
                         case when flags & 2 <> 0 then amount when flags & (4|8|16) <> 0 then -amount else 0 end,
                         case when flags & (2|8|16) = 0 then amount else 0 end
                  from transfer),
                sums as (select account, sum(dp) dp, sum(dpo) dpo, sum(cp) cp, sum(cpo) cpo from effects group by account)
                select a.id, a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted,
                       coalesce(s.dp, 0), coalesce(s.dpo, 0), coalesce(s.cp, 0), coalesce(s.cpo, 0)
                from account a left join sums s on s.account = a.id
                where a.debits_pending <> coalesce(s.dp, 0) or a.debits_posted <> coalesce(s.dpo, 0)
                   or a.credits_pending <> coalesce(s.cp, 0) or a.credits_posted <> coalesce(s.cpo, 0)
                limit 20""")) {
            while (rs.next()) {
                problems.add("account " + rs.getString(1) + " stores (" + rs.getLong(2) + ", " + rs.getLong(3) + ", "
                        + rs.getLong(4) + ", " + rs.getLong(5) + ") but its transfers imply (" + rs.getLong(6) + ", "
                        + rs.getLong(7) + ", " + rs.getLong(8) + ", " + rs.getLong(9) + ")");
            }
        }
        return problems;
    }
}
