package io.paymentledger.ledger.read;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.ledger.store.Database;
import io.paymentledger.ledger.support.TestLedger;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A page of an account's history costs what the page holds, not what the ledger holds (issue #24): the query reads the
 * account's own index whatever PostgreSQL's statistics say. The ledger here is shaped as `./ledger bench --preload`
 * shaped the one where it went wrong: 200,000 transfers among 10,000 accounts, then an account created late that
 * takes ~5 % of all transfers (12,000 as the debit side, 12,000 as the credit side). With {@code account = ?} PostgreSQL
 * planned its oldest page as a walk of {@code transfer_timestamp} filtering for the account — 200,100 rows read for a
 * page of 100 (measured on a 3.4 M-transfer ledger: 81–398 ms per page instead of 0.1 ms).
 *
 * <p>The rows are written with SQL into this class's own database (not through the writer): only their shape matters
 * to the planner, and no other test reads this database.
 */
class HistoryPlanTest {

    static TestLedger t;

    @BeforeAll
    static void start() throws Exception {
        t = TestLedger.start();
        try (Connection c = t.sql(); Statement s = c.createStatement()) {
            String balances = "0, 0, 0, 0, 0, 0, 0, 0";
            s.execute("insert into transfer (id, debit_account_id, credit_account_id, amount, currency, code, flags, timestamp_ns,"
                    + " batch_seq, dr_debits_pending, dr_debits_posted, dr_credits_pending, dr_credits_posted, cr_debits_pending,"
                    + " cr_debits_posted, cr_credits_pending, cr_credits_posted)"
                    + " select 'plan-' || g, 'acc-' || (g::bigint * 7919 % 10000), 'acc-' || (g::bigint * 104729 % 10000), 1, 'EUR', 7, 0,"
                    + " g::bigint * 1000, g / 1000, " + balances + " from generate_series(1, 200000) g");
            s.execute("insert into transfer (id, debit_account_id, credit_account_id, amount, currency, code, flags, timestamp_ns,"
                    + " batch_seq, dr_debits_pending, dr_debits_posted, dr_credits_pending, dr_credits_posted, cr_debits_pending,"
                    + " cr_debits_posted, cr_credits_pending, cr_credits_posted)"
                    + " select 'plan-hot-' || g, case when g % 2 = 0 then 'hot' else 'acc-' || (g % 10000) end,"
                    + " case when g % 2 = 1 then 'hot' else 'acc-' || (g % 10000) end, 1, 'EUR', 7, 0,"
                    + " (200000 + g)::bigint * 1000, 200 + g / 1000, " + balances + " from generate_series(1, 24000) g");
            s.execute("analyze transfer");
        }
    }

    @AfterAll
    static void stop() {
        t.close();
    }

    @ParameterizedTest(name = "{0}, reversed={1}, after={2}")
    @CsvSource({
            "DEBITS, false, 0", "DEBITS, true, 0", "DEBITS, false, 1000",
            "CREDITS, false, 0", "CREDITS, true, 0", "CREDITS, false, 1000",
            "BOTH, false, 0", "BOTH, true, 0", "BOTH, false, 1000"})
    void aBusyAccountsPageReadsItsOwnIndexNotTheWholeLedger(LedgerReader.Direction direction, boolean reversed, long afterNs)
            throws Exception {
        try (Connection c = t.sql(); Statement s = c.createStatement()) {
            String sql = Database.dsl(c).renderInlined(LedgerReader.touching(Database.dsl(c), "hot", direction, null,
                    new LedgerReader.Range(0, 0, reversed, 100, afterNs)));
            StringBuilder plan = new StringBuilder();
            try (ResultSet r = s.executeQuery("explain (analyze, format text) " + sql)) {
                while (r.next()) {
                    plan.append(r.getString(1)).append('\n');
                }
            }
            assertThat(plan.toString()).as(sql + "\n" + plan).doesNotContain("transfer_timestamp")
                    .doesNotContain("Seq Scan")
                    .contains(direction == LedgerReader.Direction.CREDITS ? "transfer_credit_account" : "transfer_debit_account");
            // What the page costs: the rows the scans return, not the ledger (no scan filters rows out by the account).
            assertThat(plan.toString()).as(plan.toString()).doesNotContain("Rows Removed by Filter");
        }
    }
}
