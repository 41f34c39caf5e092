package io.paymentledger.replication.postgres;

import static org.assertj.core.api.Assertions.assertThat;

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
}
