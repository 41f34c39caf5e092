package io.paymentledger.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.ReadConsistency;
import io.paymentledger.api.v1.ReadOptions;
import io.paymentledger.ledger.grpc.ReadGate;
import io.paymentledger.replication.postgres.PgCluster;
import io.paymentledger.replication.postgres.PgProbe;
import io.paymentledger.replication.postgres.TestPostgres;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A bounded-staleness read on a real standby (issue #20 item 2): served while the standby streams from a primary
 * that commits, refused once the standby is cut off for longer than the bound — both when the primary's walsender
 * freezes with the connection still open (the walreceiver still says "streaming") and when the primary stops.
 * Before the fix both cut-offs answered "0 ms behind" (received WAL <= replayed WAL) and the reads were served.
 */
class BoundedStalenessTest {

    /** The bound the reads ask for. */
    static final int MAX_STALENESS_MS = 2_000;
    /** How often the test's probe observes the standby, as the failover agent's loop does. */
    static final long PROBE_INTERVAL_MS = 200;
    /** How often the primary commits while the standby should be fresh. */
    static final long COMMIT_INTERVAL_MS = 100;
    /**
     * Longest the refusal may take after a cut-off: the bound, plus the probe interval and slack for a loaded
     * 2-core machine; below wal_receiver_timeout (10 s), so the walreceiver is still "streaming" when it happens.
     */
    static final long REFUSED_WITHIN_MS = MAX_STALENESS_MS + 6_000;

    static final ReadOptions BOUNDED = ReadOptions.newBuilder()
            .setConsistency(ReadConsistency.READ_CONSISTENCY_BOUNDED_STALENESS).setMaxStalenessMs(MAX_STALENESS_MS).build();

    PgCluster primary;
    PgCluster standby;
    final AtomicBoolean running = new AtomicBoolean(true);
    final AtomicBoolean committing = new AtomicBoolean(true);
    Thread committer;
    Thread prober;
    volatile PgProbe.State lastObserved = PgProbe.State.down("not observed yet");
    Long frozenWalSender;

    /** The standby node's gate, as ReplicatedControl builds it: not leading, staleness from the last observation. */
    final ReadGate gate = new ReadGate() {
        @Override
        public boolean leads() {
            return false;
        }

        @Override
        public String notLeadingReason() {
            return "a standby";
        }

        @Override
        public long stalenessMs() {
            return lastObserved.stalenessMs(System.nanoTime());
        }
    };

    @BeforeEach
    void startPair() throws Exception {
        primary = TestPostgres.startPrimary("stale-a", "ledger");
        primary.createReplicationSlot("stale_b");
        standby = TestPostgres.track(new PgCluster(TestPostgres.options("stale_b")));
        try (Connection c = primary.connect("ledger"); Statement st = c.createStatement()) {
            st.execute("create table beat (at timestamptz not null)");
        }
        standby.cloneFrom(primary, "stale_b");
        standby.start();
        committer = Thread.ofVirtual().name("primary-commits").start(this::commitUntilStopped);
        PgProbe probe = new PgProbe(standby, "ledger");
        prober = Thread.ofVirtual().name("standby-probe").start(() -> {
            while (running.get()) {
                lastObserved = probe.observe();
                sleep(PROBE_INTERVAL_MS);
            }
        });
    }

    @AfterEach
    void stopPair() throws Exception {
        running.set(false);
        committing.set(false);
        if (frozenWalSender != null) {
            signal("CONT", frozenWalSender);
        }
        committer.join(10_000);
        prober.join(10_000);
        TestPostgres.destroy(standby);
        TestPostgres.destroy(primary);
    }

    @Test
    void aStandbyWhoseWalSenderFreezesRefusesBoundedReadsOnceOlderThanTheBound() throws Exception {
        awaitServed();
        long walSender = walSenderPid();
        signal("STOP", walSender);
        frozenWalSender = walSender;
        long cutAt = System.nanoTime();

        StatusException refused = awaitRefused(cutAt);
        assertThat(refused.message()).contains("behind, more than max_staleness_ms " + MAX_STALENESS_MS);
        assertThat(walReceiverStatus()).as("the connection is still open: only the freshness rule can tell")
                .isEqualTo("streaming");

        // The link heals: served again.
        signal("CONT", walSender);
        frozenWalSender = null;
        awaitServed();
    }

    @Test
    void aStandbyWhosePrimaryStoppedRefusesBoundedReadsOnceOlderThanTheBound() throws Exception {
        awaitServed();
        committing.set(false);
        committer.join(10_000);
        primary.stop();
        long cutAt = System.nanoTime();

        StatusException refused = awaitRefused(cutAt);
        assertThat(refused.status()).isEqualTo(GrpcStatus.UNAVAILABLE);
        assertThat(lastObserved.up()).as("the standby itself is up").isTrue();
    }

    private void commitUntilStopped() {
        while (committing.get()) {
            try (Connection c = primary.connect("ledger"); Statement st = c.createStatement()) {
                while (committing.get()) {
                    st.execute("insert into beat values (now())");
                    sleep(COMMIT_INTERVAL_MS);
                }
            } catch (Exception e) {
                sleep(COMMIT_INTERVAL_MS);
            }
        }
    }

    /** The standby serves the bounded read within 60 s (it has to clone, start and catch up first). */
    private void awaitServed() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        StatusException last = null;
        while (System.nanoTime() < deadline) {
            try {
                gate.check(BOUNDED);
                return;
            } catch (StatusException e) {
                last = e;
            }
            sleep(50);
        }
        throw new AssertionError("the streaming standby never served a read bounded by " + MAX_STALENESS_MS + " ms: "
                + (last == null ? "" : last.message()) + " (last observation: " + lastObserved + ")");
    }

    /** The standby refuses the bounded read within {@link #REFUSED_WITHIN_MS} of the cut-off. */
    private StatusException awaitRefused(long cutAt) {
        long deadline = cutAt + TimeUnit.MILLISECONDS.toNanos(REFUSED_WITHIN_MS);
        while (System.nanoTime() < deadline) {
            try {
                gate.check(BOUNDED);
            } catch (StatusException e) {
                assertThat(e.status()).isEqualTo(GrpcStatus.UNAVAILABLE);
                return e;
            }
            sleep(50);
        }
        throw new AssertionError("a standby cut off for " + REFUSED_WITHIN_MS + " ms still served a read bounded by "
                + MAX_STALENESS_MS + " ms; it reports " + gate.stalenessMs() + " ms (last observation: " + lastObserved + ")");
    }

    private long walSenderPid() throws Exception {
        try (Connection c = primary.connect("postgres"); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select pid from pg_stat_replication where application_name = '"
                        + standby.name() + "' and state = 'streaming'")) {
            assertThat(rs.next()).as("the standby streams from the primary").isTrue();
            return rs.getLong(1);
        }
    }

    private String walReceiverStatus() throws Exception {
        try (Connection c = standby.connect("postgres"); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select status from pg_stat_wal_receiver")) {
            return rs.next() ? rs.getString(1) : "none";
        }
    }

    /** Sends a signal to a walsender of the test's own primary. */
    private static void signal(String name, long pid) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(pid)).inheritIO().start();
        assertThat(kill.waitFor(10, TimeUnit.SECONDS)).as("kill -" + name + " finished").isTrue();
        assertThat(kill.exitValue()).as("kill -" + name + " " + pid).isZero();
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
