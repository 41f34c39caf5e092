package io.paymentledger.replication.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.Statement;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** What the failover agent reads from its PostgreSQL, on a real server. */
class PgProbeTest {

    static PgCluster pg;

    @BeforeAll
    static void start() throws Exception {
        pg = TestPostgres.startPrimary("probe", "ledger");
    }

    @AfterAll
    static void stop() {
        TestPostgres.destroy(pg);
    }

    @Test
    void aFreshDatabaseWithoutTheSchemaHasEpochZero() {
        PgProbe.State st = new PgProbe(pg, "ledger").observe();
        assertThat(st.up()).isTrue();
        assertThat(st.primary()).isTrue();
        assertThat(st.epoch()).isZero();
        assertThat(st.walLsn().isNone()).isFalse();
    }

    @Test
    void anEpochThatCannotBeReadIsNotEpochZero() throws Exception {
        pg.createDatabase("locked");
        try (Connection admin = pg.connect("locked"); Statement st = admin.createStatement()) {
            st.execute("create table leadership (epoch bigint not null)");
            st.execute("insert into leadership values (7)");
            PgProbe probe = new PgProbe(pg, "locked");
            assertThat(probe.observe().epoch()).isEqualTo(7);
            // Another session holds the table exclusively: the probe's query times out. That used to read as "epoch
            // 0" on a primary that is up — a leader seeing it stepped down for nothing.
            admin.setAutoCommit(false);
            st.execute("lock table leadership in access exclusive mode");
            PgProbe.State locked = probe.observe();
            assertThat(locked.up()).as(locked.error()).isFalse();
            assertThat(locked.connected()).as("the server answered the connection").isTrue();
            assertThat(locked.error()).contains("statement timeout");
            admin.rollback();
            assertThat(probe.observe().epoch()).as("readable again").isEqualTo(7);
        }
    }

    @Test
    void aStandbysStalenessKeepsGrowingUntilItIsObservedAgain() {
        long observedAt = System.nanoTime();
        PgProbe.State standby = new PgProbe.State(true, false, 3, java.util.List.of(), "", 0, observedAt - 1_500_000_000L, "");
        assertThat(standby.stalenessMs(observedAt)).isEqualTo(1_500);
        assertThat(standby.stalenessMs(observedAt + 10_000_000_000L)).as("ten seconds later, nothing new observed")
                .isEqualTo(11_500);
        assertThat(standby.stalenessMs(observedAt - 2_000_000_000L)).as("a time before it was fresh: cannot tell")
                .isEqualTo(Long.MAX_VALUE);
        PgProbe.State notStreaming = new PgProbe.State(true, false, 3, java.util.List.of(), "", 0,
                PgProbe.State.FRESHNESS_UNKNOWN, "");
        assertThat(notStreaming.stalenessMs(observedAt)).isEqualTo(Long.MAX_VALUE);
        assertThat(PgProbe.State.down("gone").stalenessMs(observedAt)).isEqualTo(Long.MAX_VALUE);
        // A primary is not a standby: it has no staleness to prove (the leader answers 0 from its lease instead).
        assertThat(new PgProbe(pg, "ledger").observe().stalenessMs(System.nanoTime())).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void aServerThatIsGoneIsDownNotUnreadable() {
        PgCluster nothing = new PgCluster(PgCluster.Options.of("nothing", TestPostgres.tempDir("nothing"),
                io.paymentledger.replication.net.Ports.free()));
        PgProbe.State st = new PgProbe(nothing, "ledger").observe();
        assertThat(st.up()).isFalse();
        assertThat(st.connected()).isFalse();
    }

    @Test
    void theQuorumSettingIsWrittenAndReadBackTheSameWay() throws Exception {
        PgProbe probe = new PgProbe(pg, "ledger");
        probe.setSynchronousStandbys(java.util.List.of("b", "walkeeper"));
        try {
            assertThat(probe.observe().synchronousStandbyNames()).isEqualTo(PgProbe.syncNames(java.util.List.of("b", "walkeeper")))
                    .isEqualTo("ANY 1 (\"b\", \"walkeeper\")");
        } finally {
            probe.setSynchronousStandbys(java.util.List.of());
        }
    }
}
