package io.paymentledger.replication.failover;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.paymentledger.replication.postgres.PgCluster;
import io.paymentledger.replication.postgres.TestPostgres;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A former primary rejoining the new one on real PostgreSQL servers: its data directory is deleted only when
 * pg_rewind says the histories diverged beyond repair, never because the new primary went away during the rejoin.
 */
@Timeout(value = 3, unit = java.util.concurrent.TimeUnit.MINUTES)
class RejoinTest {

    /** Held here: java.util.logging keeps loggers only weakly, and the handler must stay attached. */
    private static final Logger PG_LOG = Logger.getLogger(PgCluster.class.getName());

    @Test
    void aRejoinWhoseNewPrimaryDiesKeepsTheFormerPrimarysData() throws Exception {
        PgCluster a = TestPostgres.startPrimary("a", "ledger");
        PgCluster b = TestPostgres.track(new PgCluster(TestPostgres.options("b")));
        Level levelBefore = PG_LOG.getLevel();
        AtomicBoolean newPrimaryStopped = new AtomicBoolean();
        // The new primary dies after the rejoin checkpointed it and stopped the former primary: pg_rewind then finds
        // nobody at the source's address. Stopped from the former primary's "stopped" log line, on the rejoin's own
        // thread, so the order is exact.
        Handler stopNewPrimary = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (("postgres " + a.name() + ": stopped").equals(r.getMessage()) && newPrimaryStopped.compareAndSet(false, true)) {
                    b.stop();
                }
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        try {
            a.createReplicationSlot("b");
            b.cloneFrom(a, "b");
            b.start();
            exec(a, "create table payment (id int primary key)");
            exec(a, "insert into payment select generate_series(1, 100)");
            awaitRows(b, 100);
            b.promote();
            // Written on a after b took over: never acknowledged, but a's directory is still the only copy of all
            // else should b's disk be lost now.
            exec(a, "insert into payment values (101)");

            PG_LOG.setLevel(Level.INFO);
            PG_LOG.addHandler(stopNewPrimary);
            Throwable failure = catchThrowable(() -> Rejoin.asStandbyOf(a, b));

            assertThat(newPrimaryStopped).as("the new primary was stopped during the rejoin").isTrue();
            assertThat(a.isInitialised()).as("a's data directory is still there (" + failure + ")").isTrue();
            assertThat(failure).as("the rejoin fails").isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("data directory kept")
                    .hasMessageContaining("not because the histories diverged");
            a.start();
            assertThat(a.isInRecovery()).as("a is untouched: still the primary it was").isFalse();
            assertThat(rows(a)).as("every row a had").isEqualTo(101);
        } finally {
            PG_LOG.removeHandler(stopNewPrimary);
            PG_LOG.setLevel(levelBefore);
            TestPostgres.destroy(b);
            TestPostgres.destroy(a);
        }
    }

    @Test
    void aFormerPrimaryWhoseWalSinceTheDivergenceIsGoneIsClonedAfresh() throws Exception {
        // pg_rewind needs full-page writes on the source (throw-away test servers turn them off).
        PgCluster a = TestPostgres.track(new PgCluster(TestPostgres.options("a").withSettings(Map.of("full_page_writes", "on"))));
        PgCluster b = TestPostgres.track(new PgCluster(TestPostgres.options("b").withSettings(Map.of("full_page_writes", "on"))));
        try {
            a.initdb();
            a.start();
            a.createDatabase("ledger");
            a.createReplicationSlot("b");
            b.cloneFrom(a, "b");
            b.start();
            exec(a, "create table payment (id int primary key)");
            exec(a, "insert into payment select generate_series(1, 100)");
            awaitRows(b, 100);
            b.promote();
            b.createReplicationSlot("a");
            String divergenceSegment = query(a, "select pg_walfile_name(pg_current_wal_insert_lsn())");
            // a goes on alone (never acknowledged), into later WAL segments.
            for (int id = 101; id <= 103; id++) {
                exec(a, "insert into payment values (" + id + ")");
                query(a, "select pg_switch_wal()::text");
            }
            a.stop();
            // The segment where the histories forked is gone from a (recycled, or lost): pg_rewind cannot tell what
            // a changed since, so no rewind can ever make it b's standby.
            Files.delete(a.dataDir().resolve("pg_wal").resolve(divergenceSegment));

            Rejoin.How how = Rejoin.asStandbyOf(a, b);

            assertThat(how).isEqualTo(Rejoin.How.CLONED);
            assertThat(a.isInRecovery()).as("a is b's standby").isTrue();
            assertThat(rows(a)).as("a holds b's rows, not its own unacknowledged ones").isEqualTo(100);
        } finally {
            TestPostgres.destroy(b);
            TestPostgres.destroy(a);
        }
    }

    static String query(PgCluster pg, String sql) throws SQLException {
        try (Connection c = pg.connect("ledger"); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    static void exec(PgCluster pg, String sql) throws SQLException {
        try (Connection c = pg.connect("ledger"); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    static int rows(PgCluster pg) throws SQLException {
        try (Connection c = pg.connect("ledger"); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select count(*) from payment")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    static void awaitRows(PgCluster standby, int n) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            try {
                if (rows(standby) >= n) {
                    return;
                }
            } catch (SQLException notYet) {
                // the table's creation is not replayed yet
            }
            assertThat(System.nanoTime()).as(standby.name() + " replays " + n + " rows").isLessThan(deadline);
            Thread.sleep(50);
        }
    }
}
