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
}
