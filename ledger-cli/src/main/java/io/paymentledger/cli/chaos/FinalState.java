package io.paymentledger.cli.chaos;

import io.paymentledger.ledger.read.LedgerChecks;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The ledger as it stands after the faults are healed, read from the leader's database: the transfers the
 * history names (with the epoch and region of the batch that committed each), the posted credits of the
 * accounts it read, and the ledger-wide invariant checks.
 */
public record FinalState(Map<String, Committed> transfers, Map<String, Long> creditsPosted, List<String> ledgerProblems) {

    /** A transfer as committed: its fields and the term (epoch, region) of the batch that wrote it. */
    public record Committed(String id, String debitAccountId, String creditAccountId, long amount, long epoch, String region) {}

    private static final int IDS_PER_QUERY = 10_000;

    public static FinalState read(Connection c, Collection<String> transferIds, Collection<String> accountIds) throws SQLException {
        Map<String, Committed> transfers = new HashMap<>();
        List<String> ids = new ArrayList<>(transferIds);
        try (PreparedStatement st = c.prepareStatement("""
                select t.id, t.debit_account_id, t.credit_account_id, t.amount, j.epoch, j.region
                from transfer t join journal_batch j on j.seq = t.batch_seq where t.id = any(?)""")) {
            for (int from = 0; from < ids.size(); from += IDS_PER_QUERY) {
                Array array = c.createArrayOf("varchar", ids.subList(from, Math.min(ids.size(), from + IDS_PER_QUERY)).toArray());
                st.setArray(1, array);
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        transfers.put(rs.getString(1), new Committed(rs.getString(1), rs.getString(2), rs.getString(3),
                                rs.getLong(4), rs.getLong(5), rs.getString(6)));
                    }
                }
            }
        }
        Map<String, Long> credits = new HashMap<>();
        try (PreparedStatement st = c.prepareStatement("select id, credits_posted from account where id = any(?)")) {
            st.setArray(1, c.createArrayOf("varchar", accountIds.toArray()));
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    credits.put(rs.getString(1), rs.getLong(2));
                }
            }
        }
        List<String> problems = new ArrayList<>(LedgerChecks.currenciesBalance(c));
        problems.addAll(LedgerChecks.balancesMatchTransfers(c));
        try (PreparedStatement st = c.prepareStatement("""
                select epoch, string_agg(distinct region, ', ') from journal_batch group by epoch having count(distinct region) > 1""");
                ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
                problems.add("epoch " + rs.getLong(1) + " was written by more than one region: " + rs.getString(2));
            }
        }
        return new FinalState(Map.copyOf(transfers), Map.copyOf(credits), List.copyOf(problems));
    }
}
