package io.paymentledger.replication.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.replication.coordinator.ClusterRecord;
import io.paymentledger.replication.coordinator.HazelcastCoordinator;
import io.paymentledger.replication.net.Ports;
import io.paymentledger.replication.postgres.PgCluster;
import io.paymentledger.replication.postgres.PgProbe;
import io.paymentledger.replication.postgres.ProcessRunner;
import io.paymentledger.replication.postgres.TestPostgres;
import io.paymentledger.replication.walkeeper.WalKeeper;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A takeover on real servers (PostgreSQL primary and standby, a three-member Hazelcast CP group): the new term's first
 * commit is acknowledged only once a second site has it, even while PostgreSQL's checkpointer — the one process that
 * makes a reloaded synchronous_standby_names take effect — is still busy (here: stopped) after the promotion.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class TakeoverQuorumTest {

    static final List<String> MEMBERS = List.of("a", "b", "witness");

    @Test
    void theFirstCommitOfANewTermWaitsForASecondSiteWhileTheCheckpointerIsBusy() throws Exception {
        List<HazelcastCoordinator> cp = startCpGroup();
        PgCluster a = TestPostgres.startPrimary("a", "ledger");
        PgCluster b = TestPostgres.track(new PgCluster(TestPostgres.options("b")));
        PgCluster keeper = TestPostgres.track(new PgCluster(TestPostgres.options(WalKeeper.NAME)));
        FailoverAgent agent = null;
        long checkpointer = 0;
        boolean checkpointerStopped = false;
        CompletableFuture<Void> firstCommit = null;
        try {
            a.createReplicationSlot("b");
            b.cloneFrom(a, "b");
            b.start();
            exec(a, "create table leadership (epoch bigint not null, region text not null)");
            exec(a, "insert into leadership values (1, 'a')");
            exec(a, "create table payment (id int primary key)");
            awaitStandbyHas(b, "select count(*) from leadership", 1);
            // a led epoch 1 with b as its synchronous standby; a's database is gone now (the failover's cause).
            HazelcastCoordinator cpB = cp.get(1);
            assertThat(cp.get(0).compareAndSetRecord(ClusterRecord.EMPTY,
                    new ClusterRecord(1, "a", List.of("b"), "", "a leads", 0, 0))).isTrue();
            a.kill();

            // The checkpointer re-reads postgresql.conf only between its own steps; stop it, as a long
            // post-promotion checkpoint would keep it busy.
            checkpointer = checkpointerPid(b);
            signal("STOP", checkpointer);
            checkpointerStopped = true;

            AtomicLong ledEpoch = new AtomicLong();
            agent = new FailoverAgent(new FailoverAgent.Config("b", Map.of("a", a, "b", b), 100, 1_500,
                    FailoverStateMachine.SyncLossPolicy.BLOCK, "false"), cpB, hooks(b, ledEpoch));
            agent.start();
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            long promotedAt = 0;
            while (ledEpoch.get() == 0 && (promotedAt == 0 || System.nanoTime() - promotedAt < Duration.ofSeconds(5).toNanos())) {
                assertThat(System.nanoTime()).as("b takes over (" + agent.explanation() + ")").isLessThan(deadline);
                if (promotedAt == 0 && isPrimary(b)) {
                    promotedAt = System.nanoTime();
                }
                Thread.sleep(50);
            }
            if (ledEpoch.get() == 0) {
                // The takeover waits for PostgreSQL to enforce the quorum; the checkpointer finishes its work.
                signal("CONT", checkpointer);
                checkpointerStopped = false;
                while (ledEpoch.get() == 0) {
                    assertThat(System.nanoTime()).as("b leads once its checkpointer applied the setting (" + agent.explanation()
                            + ")").isLessThan(deadline);
                    Thread.sleep(50);
                }
            }
            assertThat(new PgProbe(b, "ledger").observe().standbys()).as("no second site streams from b yet").isEmpty();

            firstCommit = CompletableFuture.runAsync(() -> {
                try {
                    exec(b, "insert into payment values (1)");
                } catch (SQLException e) {
                    throw new IllegalStateException(e);
                }
            });
            Throwable early = null;
            try {
                firstCommit.get(3, TimeUnit.SECONDS);
            } catch (TimeoutException expected) {
                early = expected;
            }
            assertThat(early).as("the first commit of epoch " + ledEpoch.get() + " is not acknowledged while b alone has it")
                    .isInstanceOf(TimeoutException.class);

            if (checkpointerStopped) {
                signal("CONT", checkpointer);
                checkpointerStopped = false;
            }
            // A second site of the new term's commit set connects: the commit is acknowledged.
            keeper.cloneFrom(b, WalKeeper.NAME);
            keeper.start();
            firstCommit.get(60, TimeUnit.SECONDS);
            // Confirmed once flushed there (synchronous_commit = on); replayed a moment later.
            awaitStandbyHas(keeper, "select count(*) from payment", 1);
        } finally {
            if (checkpointerStopped) {
                signal("CONT", checkpointer);
            }
            if (agent != null) {
                agent.close();
            }
            if (firstCommit != null) {
                firstCommit.cancel(true);
            }
            TestPostgres.destroy(keeper);
            TestPostgres.destroy(b);
            TestPostgres.destroy(a);
            cp.forEach(HazelcastCoordinator::close);
        }
    }

    @Test
    void aStandbyThatSetItsQuorumBeforeThePromotionLeadsWithoutWaitingForItsCheckpointer() throws Exception {
        List<HazelcastCoordinator> cp = startCpGroup();
        PgCluster a = TestPostgres.startPrimary("a", "ledger");
        PgCluster b = TestPostgres.track(new PgCluster(TestPostgres.options("b")));
        PgCluster keeper = TestPostgres.track(new PgCluster(TestPostgres.options(WalKeeper.NAME)));
        FailoverAgent agent = null;
        long checkpointer = 0;
        boolean checkpointerStopped = false;
        CompletableFuture<Void> firstCommit = null;
        try {
            a.createReplicationSlot("b");
            b.cloneFrom(a, "b");
            b.start();
            exec(a, "create table leadership (epoch bigint not null, region text not null)");
            exec(a, "insert into leadership values (1, 'a')");
            exec(a, "create table payment (id int primary key)");
            awaitStandbyHas(b, "select count(*) from leadership", 1);
            HazelcastCoordinator cpA = cp.get(0);
            assertThat(cpA.compareAndSetRecord(ClusterRecord.EMPTY, new ClusterRecord(1, "a", List.of("b"), "", "a leads", 0, 0))).isTrue();
            assertThat(cpA.tryAcquireLeadership()).as("a leads").isTrue();

            AtomicLong ledEpoch = new AtomicLong();
            agent = new FailoverAgent(new FailoverAgent.Config("b", Map.of("a", a, "b", b), 100, 1_500,
                    FailoverStateMachine.SyncLossPolicy.BLOCK, "false"), cp.get(1), hooks(b, ledEpoch));
            agent.start();
            // Following a, b's agent sets the quorum its own term would start with, on its standby.
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (new PgProbe(b, "ledger").observe().synchronousStandbyNames().isEmpty()) {
                assertThat(System.nanoTime()).as("b presets its quorum (" + agent.explanation() + ")").isLessThan(deadline);
                Thread.sleep(50);
            }
            // An idle checkpointer applies a reload within milliseconds (3 s: a loaded 2-core box); then it is kept
            // busy (stopped) from before the promotion until after the first commit.
            Thread.sleep(3_000);
            checkpointer = checkpointerPid(b);
            signal("STOP", checkpointer);
            checkpointerStopped = true;
            a.kill();
            cpA.releaseLeadership();
            while (ledEpoch.get() == 0) {
                assertThat(System.nanoTime()).as("b leads while its checkpointer is stopped (" + agent.explanation() + ")")
                        .isLessThan(deadline);
                Thread.sleep(50);
            }
            assertThat(new PgProbe(b, "ledger").observe().standbys()).as("no second site streams from b yet").isEmpty();

            firstCommit = CompletableFuture.runAsync(() -> {
                try {
                    exec(b, "insert into payment values (1)");
                } catch (SQLException e) {
                    throw new IllegalStateException(e);
                }
            });
            Throwable early = null;
            try {
                firstCommit.get(3, TimeUnit.SECONDS);
            } catch (TimeoutException expected) {
                early = expected;
            }
            assertThat(early).as("the first commit of epoch " + ledEpoch.get() + " is not acknowledged while b alone has it")
                    .isInstanceOf(TimeoutException.class);
            signal("CONT", checkpointer);
            checkpointerStopped = false;
            keeper.cloneFrom(b, WalKeeper.NAME);
            keeper.start();
            firstCommit.get(60, TimeUnit.SECONDS);
            // Confirmed once flushed there (synchronous_commit = on); replayed a moment later.
            awaitStandbyHas(keeper, "select count(*) from payment", 1);
        } finally {
            if (checkpointerStopped) {
                signal("CONT", checkpointer);
            }
            if (agent != null) {
                agent.close();
            }
            if (firstCommit != null) {
                firstCommit.cancel(true);
            }
            TestPostgres.destroy(keeper);
            TestPostgres.destroy(b);
            TestPostgres.destroy(a);
            cp.forEach(HazelcastCoordinator::close);
        }
    }

    static FailoverAgent.LeaderHooks hooks(PgCluster db, AtomicLong ledEpoch) {
        return new FailoverAgent.LeaderHooks() {
            @Override
            public void migrateSchema() {}

            @Override
            public boolean claimEpoch(long epoch) throws Exception {
                try (Connection c = db.connect("ledger"); Statement st = c.createStatement()) {
                    c.setAutoCommit(false);
                    st.execute("set local synchronous_commit = local"); // as LedgerNode.claimEpoch
                    boolean claimed = st.executeUpdate("update leadership set epoch = " + epoch + ", region = 'b' where epoch < " + epoch) == 1;
                    c.commit();
                    return claimed;
                }
            }

            @Override
            public void lead(long epoch, long leaseUntilNanos) {
                ledEpoch.compareAndSet(0, epoch);
            }

            @Override
            public void extendLease(long leaseUntilNanos) {}

            @Override
            public void stopServing(String reason) {}

            @Override
            public boolean writerIdle() {
                return true;
            }

            @Override
            public String takeWriteFault() {
                return null;
            }
        };
    }

    static List<HazelcastCoordinator> startCpGroup() {
        String cluster = "takeover-test-" + Long.toHexString(System.nanoTime());
        List<Integer> ports = List.of(Ports.free(), Ports.free(), Ports.free());
        List<String> addresses = ports.stream().map(p -> "127.0.0.1:" + p).toList();
        List<CompletableFuture<HazelcastCoordinator>> starting = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            HazelcastCoordinator.Settings s = new HazelcastCoordinator.Settings(cluster, MEMBERS.get(i), "127.0.0.1", ports.get(i),
                    addresses, MEMBERS, 10, 2, 0, Duration.ofSeconds(5), 0);
            starting.add(CompletableFuture.supplyAsync(() -> HazelcastCoordinator.start(s)));
        }
        return starting.stream().map(CompletableFuture::join).toList();
    }

    static long checkpointerPid(PgCluster pg) throws SQLException {
        try (Connection c = pg.connect("postgres"); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select pid from pg_stat_activity where backend_type = 'checkpointer'")) {
            assertThat(rs.next()).as("a checkpointer runs").isTrue();
            return rs.getLong(1);
        }
    }

    static void signal(String sig, long pid) {
        ProcessRunner.run(List.of("kill", "-" + sig, Long.toString(pid)), 10);
    }

    static boolean isPrimary(PgCluster pg) {
        try {
            return !pg.isInRecovery();
        } catch (IllegalStateException notAnswering) {
            return false;
        }
    }

    static void exec(PgCluster pg, String sql) throws SQLException {
        try (Connection c = pg.connect("ledger"); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    static long count(PgCluster pg, String sql) throws SQLException {
        try (Connection c = pg.connect("ledger"); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    static void awaitStandbyHas(PgCluster standby, String countSql, long n) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            try {
                if (count(standby, countSql) >= n) {
                    return;
                }
            } catch (SQLException notYet) {
                // not replayed yet
            }
            assertThat(System.nanoTime()).as(standby.name() + " replays").isLessThan(deadline);
            Thread.sleep(50);
        }
    }
}
