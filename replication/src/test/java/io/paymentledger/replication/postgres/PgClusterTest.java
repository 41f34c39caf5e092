package io.paymentledger.replication.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

class PgClusterTest {

    @Test
    void startsAsUnprivilegedUserAndStopsCleanly() throws Exception {
        PgCluster pg = TestPostgres.startPrimary("solo", "ledger");
        try {
            assertThat(pg.isRunning()).isTrue();
            try (Connection c = pg.connect("ledger"); Statement st = c.createStatement();
                    ResultSet rs = st.executeQuery("select current_setting('data_checksums'), "
                            + "(select usename from pg_stat_activity where backend_type = 'postmaster' or pid = pg_backend_pid() limit 1)")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo("on");
            }
            long pid = pg.postmasterPid().orElseThrow();
            String owner = ProcessHandle.of(pid).orElseThrow().info().user().orElse("?");
            assertThat(owner).isNotEqualTo("root");
            pg.stop();
            assertThat(pg.isRunning()).isFalse();
        } finally {
            TestPostgres.destroy(pg);
        }
    }

    @Test
    void aServerThatCannotStartSaysWhyFromItsLog() throws Exception {
        PgCluster first = TestPostgres.startPrimary("first", "ledger");
        // A second server on the same port: pg_ctl alone says only "could not start server, examine the log output".
        PgCluster second = TestPostgres.track(new PgCluster(PgCluster.Options.of("second", TestPostgres.tempDir("second"),
                first.port()).throwAway()));
        try {
            second.initdb();
            assertThatThrownBy(second::start).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("postgres second did not start")
                    .hasMessageContaining(second.logFile().toString())
                    .hasMessageContaining("could not bind");
            assertThat(second.isRunning()).isFalse();
        } finally {
            TestPostgres.destroy(second);
            TestPostgres.destroy(first);
        }
    }

    @Test
    void onlyPgRewindsOwnDivergenceVerdictsCountAsBeyondRepair() {
        String noAncestor = "pg_rewind: error: could not find common ancestor of the source and target cluster's timelines";
        assertThat(PgCluster.divergedBeyondRepair("pg_rewind: servers diverged at WAL location 0/3000000 on timeline 1\n"
                + noAncestor)).isEqualTo(noAncestor);
        assertThat(PgCluster.divergedBeyondRepair("pg_rewind: error: could not open file \"x/pg_wal/000000010000000000000003\": No such file"
                + " or directory\npg_rewind: error: could not read WAL record at 0/3000060")).contains("could not read WAL record");
        // The source unreachable or gone mid-way, or a setting: nothing is known about the histories.
        for (String other : new String[] {
                "pg_rewind: error: connection to server at \"127.0.0.1\", port 5432 failed: Connection refused",
                "pg_rewind: error: could not fetch file list: server closed the connection unexpectedly",
                "pg_rewind: error: error running query (SELECT 1) on source server: FATAL:  terminating connection",
                "pg_rewind: error: full_page_writes must be enabled in the source server",
                "pg_rewind: error: source and target clusters are from different systems"}) {
            assertThat(PgCluster.divergedBeyondRepair(other)).as(other).isNull();
        }
    }
}
