package io.paymentledger.ledger.support;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.vertx.grpc.client.InvalidStatusException;
import io.vertx.grpc.common.GrpcStatus;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/** Checks of the ledger's invariants straight in PostgreSQL, independent of the code that wrote the rows. */
public final class LedgerAssertions {

    private LedgerAssertions() {}

    /**
     * Per currency every balance sums to zero, and every account's stored balances equal what its transfers
     * imply (recomputed here from the transfer rows with SQL, not with the ledger's code).
     */
    public static void assertConsistent(Connection c) throws SQLException {
        try (Statement st = c.createStatement()) {
            try (ResultSet rs = st.executeQuery("""
                    select currency, sum(credits_posted - debits_posted), sum(credits_pending - debits_pending)
                    from account group by currency""")) {
                while (rs.next()) {
                    assertThat(rs.getLong(2)).as("posted net of %s", rs.getString(1)).isZero();
                    assertThat(rs.getLong(3)).as("pending net of %s", rs.getString(1)).isZero();
                }
            }
            // flags: 1 linked, 2 pending, 4 post, 8 void, 16 expiry
            List<String> wrong = new ArrayList<>();
            try (ResultSet rs = st.executeQuery("""
                    with effects as (
                      select debit_account_id as account,
                             case when flags & 2 <> 0 then amount when flags & (4|8|16) <> 0 then -amount else 0 end as dp,
                             case when flags & (2|8|16) = 0 then amount else 0 end as dpo,
                             0::bigint as cp, 0::bigint as cpo
                      from transfer
                      union all
                      select credit_account_id,
                             0, 0,
                             case when flags & 2 <> 0 then amount when flags & (4|8|16) <> 0 then -amount else 0 end,
                             case when flags & (2|8|16) = 0 then amount else 0 end
                      from transfer),
                    sums as (select account, sum(dp) dp, sum(dpo) dpo, sum(cp) cp, sum(cpo) cpo from effects group by account)
                    select a.id from account a left join sums s on s.account = a.id
                    where a.debits_pending <> coalesce(s.dp, 0) or a.debits_posted <> coalesce(s.dpo, 0)
                       or a.credits_pending <> coalesce(s.cp, 0) or a.credits_posted <> coalesce(s.cpo, 0)""")) {
                while (rs.next()) {
                    wrong.add(rs.getString(1));
                }
            }
            assertThat(wrong).as("accounts whose balances differ from their transfers").isEmpty();
        }
    }

    public static long count(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** The call fails with exactly this gRPC status. */
    public static void assertGrpcStatus(GrpcStatus expected, Supplier<?> call) {
        Throwable t = catchThrowable(call::get);
        assertThat(t).as("expected gRPC status " + expected).isInstanceOf(InvalidStatusException.class);
        assertThat(((InvalidStatusException) t).actualStatus()).isEqualTo(expected);
    }
}
