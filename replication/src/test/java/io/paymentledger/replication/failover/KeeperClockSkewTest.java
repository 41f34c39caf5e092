package io.paymentledger.replication.failover;

import static io.paymentledger.replication.failover.TakeoverQuorumTest.awaitStandbyHas;
import static io.paymentledger.replication.failover.TakeoverQuorumTest.exec;
import static io.paymentledger.replication.failover.TakeoverQuorumTest.hooks;
import static io.paymentledger.replication.failover.TakeoverQuorumTest.startCpGroup;
import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.replication.coordinator.ClusterRecord;
import io.paymentledger.replication.coordinator.HazelcastCoordinator;
import io.paymentledger.replication.postgres.Lsn;
import io.paymentledger.replication.postgres.PgCluster;
import io.paymentledger.replication.postgres.TestPostgres;
import io.paymentledger.replication.time.HazelcastClock;
import io.paymentledger.replication.walkeeper.WalKeeper;
import io.paymentledger.replication.walkeeper.WalKeeperReport;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue #20, item 10: whether the WAL keeper's report is recent is judged on the agent's own clock, not by comparing
 * it with the witness's. Real CP group (three Hazelcast members), real PostgreSQL primary and standby; the keeper is a
 * thread that reports every 0.5 s as the real one does, with the stamps of a witness whose clock runs 3.5 s behind.
 * That a keeper which stops reporting is no longer trusted is {@link ObservedStampsTest}'s.
 */
@Timeout(value = 3, unit = java.util.concurrent.TimeUnit.MINUTES)
class KeeperClockSkewTest {

    private static final long WITNESS_CLOCK_BEHIND_MS = 3_500;

    @Test
    void aKeeperOnAHostWhoseClockRunsBehindStillCountsAsReporting() throws Exception {
        List<HazelcastCoordinator> cp = startCpGroup();
        PgCluster a = TestPostgres.startPrimary("a", "ledger");
        PgCluster b = TestPostgres.track(new PgCluster(TestPostgres.options("b")));
        FailoverAgent agent = null;
        AtomicBoolean keeperReports = new AtomicBoolean(true);
        Thread keeper = null;
        try {
            a.createReplicationSlot("b");
            b.cloneFrom(a, "b");
            b.start();
            exec(a, "create table leadership (epoch bigint not null, region text not null)");
            exec(a, "insert into leadership values (1, 'a')");
            awaitStandbyHas(b, "select count(*) from leadership", 1);
            // a led epoch 1 (its commits waited for b or the keeper) and is gone: the leader lock is free.
            assertThat(cp.get(0).compareAndSetRecord(ClusterRecord.EMPTY,
                    new ClusterRecord(1, "a", List.of("b", WalKeeper.NAME), "", "a leads", 0, 0))).isTrue();
            HazelcastCoordinator witness = cp.get(2);
            keeper = Thread.ofPlatform().daemon(true).start(() -> {
                while (keeperReports.get()) {
                    try {
                        witness.reportWalKeeper(new WalKeeperReport(WalKeeperReport.State.FOLLOWING, "a", "", 0, Lsn.NONE, 0, 1, 0,
                                "following a", HazelcastClock.stampMillis() - WITNESS_CLOCK_BEHIND_MS));
                        Thread.sleep(500);
                    } catch (Exception e) {
                        return;
                    }
                }
            });

            agent = new FailoverAgent(new FailoverAgent.Config("b", Map.of("a", a, "b", b), 100, 1_500,
                    FailoverStateMachine.SyncLossPolicy.BLOCK, "false"), cp.get(1), hooks(b, new AtomicLong()));
            agent.start();
            // The keeper reports, however the witness's clock reads: b may take over and starts to (before: "the WAL
            // keeper ... has not reported for over 3 s: I cannot prove I have every acknowledged write", for good).
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (agent.role() == FailoverStateMachine.Role.FOLLOWER || agent.role() == FailoverStateMachine.Role.STARTING) {
                assertThat(System.nanoTime()).as("b starts a takeover (it says: " + agent.explanation() + ")").isLessThan(deadline);
                Thread.sleep(50);
            }
            assertThat(agent.role()).isEqualTo(FailoverStateMachine.Role.TAKING_OVER);
        } finally {
            keeperReports.set(false);
            if (agent != null) {
                agent.close();
            }
            TestPostgres.destroy(b);
            TestPostgres.destroy(a);
            cp.forEach(HazelcastCoordinator::close);
        }
    }

}
