package io.paymentledger.replication.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.replication.coordinator.ClusterRecord;
import io.paymentledger.replication.coordinator.Coordinator;
import io.paymentledger.replication.postgres.PgCluster;
import io.paymentledger.replication.postgres.TestPostgres;
import io.paymentledger.replication.time.LedgerTimeReference;
import io.paymentledger.replication.walkeeper.WalKeeperReport;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Issue #20, item 10: the leader's agent publishes its writer's ledger time with its region report, and the other
 * region's agent pins it to its own monotonic clock, whatever either host's wall clock says. Injected clocks, an
 * in-memory coordinator, databases that do not run (the agents only observe). That a new term takes the reference is
 * {@code WriterInvariantsTest.aNewLeaderWhoseClockIsAheadOfThePublishedLedgerTime...}'s and {@code SteadyClockTest}'s.
 */
class FailoverAgentLedgerTimeTest {

    static final long S = 1_000_000_000L;

    @Test
    void theOtherRegionsAgentPinsTheLeadersPublishedLedgerTimeToItsOwnMonotonicClock() {
        Coordinator cp = new InMemoryCoordinator(new ClusterRecord(1, "a", List.of("b"), "", "a leads", 0, 0));
        Map<String, PgCluster> dbs = Map.of("a", new PgCluster(TestPostgres.options("a")), "b", new PgCluster(TestPostgres.options("b")));
        // a's host: its writer leads; its ledger time is a's business (here 1 h off b's clocks).
        AtomicLong aMono = new AtomicLong(5 * S);
        AtomicLong aLedgerNs = new AtomicLong(1_800_000_000L * S);
        // b's host: its own monotonic clock and stamp clock.
        AtomicLong bMono = new AtomicLong(900 * S);
        FailoverAgent a = agent("a", dbs, cp, aMono, () -> aLedgerNs.get());
        FailoverAgent b = agent("b", dbs, cp, bMono, () -> 0);
        try {
            a.tick();
            b.tick();
            assertThat(b.ledgerTimeReference()).as("seen once: its age is unknown").isNull();
            // 2.5 s pass on both hosts (their reports and reads happen every 2 s).
            aMono.addAndGet(2_500_000_000L);
            aLedgerNs.addAndGet(2_500_000_000L);
            bMono.addAndGet(2_500_000_000L);
            a.tick();
            long readBy = bMono.get();
            b.tick();
            LedgerTimeReference r = b.ledgerTimeReference();
            assertThat(r).isNotNull();
            assertThat(r.ledgerNs()).isEqualTo(aLedgerNs.get());
            assertThat(r.seenAfterMonoNs()).isEqualTo(900 * S);
            assertThat(r.seenByMonoNs()).isEqualTo(readBy);
            assertThat(r.toleranceNs()).isEqualTo(1_500_000_000L);
            // a dies; 20 s later b's reference says a's ledger time would be 20 s on (to 22.5 s), on b's clock alone.
            bMono.addAndGet(20 * S);
            b.tick();
            assertThat(b.ledgerTimeReference()).isEqualTo(r);
            assertThat(r.lowNs(bMono.get())).isEqualTo(aLedgerNs.get() + 20 * S);
            assertThat(r.highNs(bMono.get())).isEqualTo(aLedgerNs.get() + 22_500_000_000L);
        } finally {
            a.close();
            b.close();
        }
    }

    private static FailoverAgent agent(String region, Map<String, PgCluster> dbs, Coordinator cp, AtomicLong mono,
            java.util.function.LongSupplier ledgerTimeNs) {
        FailoverAgent.LeaderHooks hooks = new FailoverAgent.LeaderHooks() {
            @Override
            public void migrateSchema() {}

            @Override
            public boolean claimEpoch(long epoch) {
                return false;
            }

            @Override
            public void lead(long epoch, long leaseUntilNanos) {}

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

            @Override
            public long ledgerTimeNs() {
                return ledgerTimeNs.getAsLong();
            }
        };
        // The stamp clock (report intervals) runs with the monotonic one here.
        return new FailoverAgent(new FailoverAgent.Config(region, dbs, 100, 1_500, FailoverStateMachine.SyncLossPolicy.BLOCK, ""),
                cp, hooks, mono::get, () -> mono.get() / 1_000_000);
    }

    /** The CP group as one map: nobody takes the lock (a's database does not run, so nobody may). */
    private static final class InMemoryCoordinator implements Coordinator {
        private final ClusterRecord record;
        private final Map<String, RegionReport> reports = new HashMap<>();

        InMemoryCoordinator(ClusterRecord record) {
            this.record = record;
        }

        @Override
        public boolean tryAcquireLeadership() {
            return false;
        }

        @Override
        public boolean holdsLeadership() {
            return false;
        }

        @Override
        public void releaseLeadership() {}

        @Override
        public ClusterRecord readRecord() {
            return record;
        }

        @Override
        public boolean compareAndSetRecord(ClusterRecord expected, ClusterRecord next) {
            return false;
        }

        @Override
        public synchronized void report(String region, RegionReport report) {
            reports.put(region, report);
        }

        @Override
        public synchronized Map<String, RegionReport> reports(Collection<String> regions) {
            Map<String, RegionReport> out = new HashMap<>(reports);
            out.keySet().retainAll(regions);
            return out;
        }

        @Override
        public void reportWalKeeper(WalKeeperReport report) {}

        @Override
        public WalKeeperReport walKeeperReport() {
            return WalKeeperReport.NONE;
        }

        @Override
        public String describe() {
            return "in memory";
        }

        @Override
        public void close() {}
    }
}
