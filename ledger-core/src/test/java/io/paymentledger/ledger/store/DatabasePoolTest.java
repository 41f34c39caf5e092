package io.paymentledger.ledger.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.ledger.support.TestLedger;
import io.paymentledger.replication.postgres.PgCluster;
import io.paymentledger.replication.postgres.TestPostgres;
import java.sql.Connection;
import java.sql.Statement;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The read pool at a takeover (a real PostgreSQL): {@link Database#evictDead} keeps a pooled session that answers (a
 * promotion keeps its sessions, and a new one costs a TLS handshake in the middle of the outage) and drops one whose
 * backend is gone (a restart by pg_rewind), so that the takeover's first read does not fail on it.
 */
class DatabasePoolTest {

    static PgCluster pg;
    static Database db;

    @BeforeAll
    static void start() {
        pg = TestPostgres.startPrimary("pool", "ledger");
        db = TestLedger.database(pg);
    }

    @AfterAll
    static void stop() {
        if (db != null) {
            db.close();
        }
        TestPostgres.destroy(pg);
    }

    static long backend() throws Exception {
        Integer pid = db.read(dsl -> dsl.fetchSingle("select pg_backend_pid()").get(0, Integer.class));
        return pid.longValue();
    }

    @Test
    void aSessionThatAnswersIsKeptAndOneWhoseBackendIsGoneIsDropped() throws Exception {
        long first = backend();
        assertThat(backend()).as("the pool hands the idle session out again").isEqualTo(first);

        db.evictDead();
        assertThat(backend()).as("a live session survives the check").isEqualTo(first);

        try (Connection admin = pg.connect("postgres", 5); Statement st = admin.createStatement()) {
            st.execute("select pg_terminate_backend(" + first + ")");
        }
        db.evictDead();
        long next = backend();
        assertThat(next).as("the dead session was dropped, the read went through a new one").isNotEqualTo(first);
        assertThat(backend()).isEqualTo(next);
    }
}
