package io.paymentledger.replication.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.replication.coordinator.ClusterRecord;
import io.paymentledger.replication.coordinator.Coordinator.RegionReport;
import io.paymentledger.replication.failover.FailoverStateMachine.Decision;
import io.paymentledger.replication.failover.FailoverStateMachine.Facts;
import io.paymentledger.replication.failover.FailoverStateMachine.RejoinStatus;
import io.paymentledger.replication.failover.FailoverStateMachine.Role;
import io.paymentledger.replication.failover.FailoverStateMachine.Step;
import io.paymentledger.replication.failover.FailoverStateMachine.SyncLossPolicy;
import io.paymentledger.replication.postgres.Lsn;
import io.paymentledger.replication.postgres.PgProbe;
import io.paymentledger.replication.postgres.PgProbe.Standby;
import io.paymentledger.replication.walkeeper.WalKeeperReport;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * The failover decisions as a pure function: every fact is built by hand, time is {@link Facts#nowMs()}.
 * Two regions, {@code eu} and {@code us}, and the WAL keeper {@code walkeeper}; each test names the region
 * deciding and the role it is in.
 */
class FailoverStateMachineTest {

    static final String EU = "eu";
    static final String US = "us";
    static final String KEEPER = "walkeeper";
    static final long NOW = 1_700_000_000_000L;
    static final long FRESH_MS = 15_000;
    /** The leader's flushed WAL in these tests; standbys that stream have flushed it too unless said otherwise. */
    static final Lsn WAL = Lsn.parse("0/5000100");

    // ---------------------------------------------------------------- helpers

    static FailoverStateMachine machine(String me) {
        return machine(me, SyncLossPolicy.BLOCK);
    }

    static FailoverStateMachine machine(String me, SyncLossPolicy policy) {
        return new FailoverStateMachine(me, List.of(EU, US), KEEPER, policy, FRESH_MS);
    }

    /** A primary database at {@code epoch} waiting for any of {@code commitSet}, with these standbys connected. */
    static PgProbe.State primaryDb(long epoch, List<String> commitSet, Standby... standbys) {
        return new PgProbe.State(true, true, true, epoch, List.of(standbys), PgProbe.syncNames(commitSet), 0, 0, "", WAL, "", "");
    }

    /** A primary database whose synchronous_standby_names waits for exactly the standbys given. */
    static PgProbe.State primaryDb(long epoch, Standby... standbys) {
        List<String> names = new ArrayList<>();
        for (Standby s : standbys) {
            names.add(s.name());
        }
        return primaryDb(epoch, names, standbys);
    }

    /**
     * A database in recovery (a standby) that replicated up to {@code epoch}, streaming, with WAL up to {@code wal};
     * its synchronous_standby_names already set for a term of its own (PRESET_SYNC was done).
     */
    static PgProbe.State standbyDb(long epoch, Lsn wal) {
        return standbyDb(epoch, wal, PgProbe.syncNames(List.of(KEEPER)));
    }

    static PgProbe.State standbyDb(long epoch, Lsn wal, String syncNames) {
        return new PgProbe.State(true, true, false, epoch, List.of(), syncNames, 0, 0, "", wal, "", "host=eu port=1");
    }

    static PgProbe.State standbyDb(long epoch) {
        return standbyDb(epoch, WAL);
    }

    /** A standby that stopped streaming and fetches from the keeper (FETCH_FROM_KEEPER was done). */
    static PgProbe.State fetchingDb(long epoch, Lsn wal) {
        return new PgProbe.State(true, true, false, epoch, List.of(), "", 0, 0, "", wal, "cp keeper/%f %p", "");
    }

    static PgProbe.State downDb() {
        return PgProbe.State.down("connection refused");
    }

    /** A site that streams and has flushed {@code flushed}. */
    static Standby streaming(String name, Lsn flushed) {
        return new Standby(name, "streaming", "quorum", 0, 0.0, flushed.atLeast(WAL), flushed);
    }

    /** A site that streams and has flushed all WAL. */
    static Standby streaming(String name) {
        return streaming(name, WAL);
    }

    /** A standby that streams but is behind. */
    static Standby lagging(String name, long lagBytes) {
        return new Standby(name, "streaming", "quorum", lagBytes, 1.5, false, new Lsn(WAL.value() - lagBytes));
    }

    static ClusterRecord record(long epoch, String leader, String... sync) {
        return new ClusterRecord(epoch, leader, List.of(sync), "", "test", 0, NOW - 60_000);
    }

    static RegionReport report(boolean up, boolean primary, long epoch, long ageMs) {
        return new RegionReport(up, primary, epoch, NOW - ageMs);
    }

    static RegionReport primaryReport(long epoch) {
        return report(true, true, epoch, 1_000);
    }

    static RegionReport standbyReport(long epoch) {
        return report(true, false, epoch, 1_000);
    }

    static WalKeeperReport keeperFollowing(String region) {
        return new WalKeeperReport(WalKeeperReport.State.FOLLOWING, region, "", 0, Lsn.NONE, 0, 1, NOW - 60_000, "", NOW - 200);
    }

    static WalKeeperReport keeperFencedFor(String region, long epoch, Lsn end) {
        return new WalKeeperReport(WalKeeperReport.State.FENCED, "", region, epoch, end, 1, 1, NOW - 60_000, "", NOW - 200);
    }

    static FactsBuilder facts() {
        return new FactsBuilder();
    }

    /** Defaults: CP answered, no lock, lease valid, empty record, no reports, db down, writer idle, keeper following eu. */
    static final class FactsBuilder {
        long now = NOW;
        String cpError;
        boolean holdsLock;
        boolean leaseValid = true;
        ClusterRecord record = ClusterRecord.EMPTY;
        Map<String, RegionReport> reports = new HashMap<>();
        PgProbe.State db = downDb();
        String writeFault;
        String switchoverTo;
        boolean writerIdle = true;
        long stoppedLeadingAtMs;
        WalKeeperReport keeper = keeperFollowing(EU);
        boolean leaderGone;
        long drainingSinceMs;
        Lsn convergedAt = Lsn.NONE;
        RejoinStatus rejoin = RejoinStatus.IDLE;
        long takingOverSinceMs;

        FactsBuilder cpError(String e) {
            cpError = e;
            return this;
        }

        FactsBuilder lock() {
            holdsLock = true;
            return this;
        }

        FactsBuilder leaseExpired() {
            leaseValid = false;
            return this;
        }

        FactsBuilder record(ClusterRecord r) {
            record = r;
            return this;
        }

        FactsBuilder report(String region, RegionReport r) {
            reports.put(region, r);
            return this;
        }

        FactsBuilder db(PgProbe.State d) {
            db = d;
            return this;
        }

        FactsBuilder writeFault(String f) {
            writeFault = f;
            return this;
        }

        FactsBuilder switchoverTo(String r) {
            switchoverTo = r;
            return this;
        }

        FactsBuilder writerBusy() {
            writerIdle = false;
            return this;
        }

        FactsBuilder stoppedLeadingAt(long ms) {
            stoppedLeadingAtMs = ms;
            return this;
        }

        FactsBuilder keeper(WalKeeperReport k) {
            keeper = k;
            return this;
        }

        FactsBuilder takingOverSince(long ms) {
            takingOverSinceMs = ms;
            return this;
        }

        FactsBuilder leaderGone() {
            leaderGone = true;
            return this;
        }

        FactsBuilder drainingSince(long ms) {
            drainingSinceMs = ms;
            return this;
        }

        FactsBuilder syncConvergedAt(Lsn lsn) {
            convergedAt = lsn;
            return this;
        }

        FactsBuilder rejoin(RejoinStatus r) {
            rejoin = r;
            return this;
        }

        Facts build() {
            return new Facts(now, cpError, holdsLock, leaseValid, record, Map.copyOf(reports), db, writeFault, switchoverTo,
                    writerIdle, stoppedLeadingAtMs, keeper, leaderGone, drainingSinceMs, convergedAt, rejoin, takingOverSinceMs);
        }
    }

    static Decision decide(String me, Role current, FactsBuilder f) {
        return machine(me).decide(current, f.build());
    }

    static Decision decide(String me, SyncLossPolicy policy, Role current, FactsBuilder f) {
        return machine(me, policy).decide(current, f.build());
    }

    /** Next role, step, region, and an explanation that is a sentence mentioning every key phrase. */
    static void assertDecision(Decision d, Role next, Step step, String region, String... keyPhrases) {
        assertThat(d.next()).as("next role (%s)", d.explanation()).isEqualTo(next);
        assertThat(d.step()).as("step (%s)", d.explanation()).isEqualTo(step);
        assertThat(d.region()).as("region (%s)", d.explanation()).isEqualTo(region);
        assertReadable(d.explanation(), keyPhrases);
    }

    static void assertReadable(String explanation, String... keyPhrases) {
        assertThat(explanation).isNotBlank().hasSizeGreaterThan(20).doesNotContain("null").contains(" ");
        for (String k : keyPhrases) {
            assertThat(explanation).containsIgnoringCase(k);
        }
    }

    /** eu leads at epoch 5; us and the keeper stream; commits wait for either; us's node reported a second ago. */
    static FactsBuilder healthyLeader() {
        return facts().lock().record(record(5, EU, US, KEEPER)).db(primaryDb(5, streaming(US), streaming(KEEPER)))
                .report(US, standbyReport(5));
    }

    // ---------------------------------------------------------------- bootstrap

    @Nested
    class Bootstrap {

        FactsBuilder bothReported() {
            return facts().report(EU, primaryReport(7)).report(US, standbyReport(7));
        }

        @Test
        void regionWithPrimaryDatabaseTriesTheLock() {
            Decision d = decide(EU, Role.STARTING, bothReported().db(primaryDb(7)));
            assertDecision(d, Role.FOLLOWER, Step.TRY_LOCK, null, "no leader recorded", "bootstrap", "lock");
        }

        @Test
        void regionWithStandbyDatabaseWaits() {
            Decision d = decide(US, Role.STARTING, bothReported().db(standbyDb(7)));
            assertDecision(d, Role.FOLLOWER, Step.NONE, null, "CP record is empty", "eu has the primary with the highest epoch");
        }

        @Test
        void ofTwoPrimariesOnlyTheHighestEpochTriesTheLock() {
            Decision eu = decide(EU, Role.STARTING, facts().report(EU, primaryReport(3)).report(US, primaryReport(9))
                    .db(primaryDb(3)));
            Decision us = decide(US, Role.STARTING, facts().report(EU, primaryReport(3)).report(US, primaryReport(9))
                    .db(primaryDb(9)));

            assertDecision(eu, Role.FOLLOWER, Step.NONE, null, "us has the primary with the highest epoch");
            assertDecision(us, Role.FOLLOWER, Step.TRY_LOCK, null, "bootstrap", "lock");
        }

        @Test
        void staleReportOfTheOtherRegionBlocksBootstrap() {
            FactsBuilder f = facts().report(EU, primaryReport(7)).report(US, report(true, false, 7, FRESH_MS + 1))
                    .db(primaryDb(7));
            assertDecision(decide(EU, Role.STARTING, f), Role.FOLLOWER, Step.NONE, null,
                    "CP record is empty", "region us has not reported");
        }

        @Test
        void reportExactlyAtTheFreshnessLimitStillCounts() {
            FactsBuilder f = facts().report(EU, primaryReport(7)).report(US, report(true, false, 7, FRESH_MS)).db(primaryDb(7));
            assertThat(decide(EU, Role.STARTING, f).step()).isEqualTo(Step.TRY_LOCK);
        }

        @Test
        void missingReportBlocksBootstrap() {
            FactsBuilder f = facts().report(EU, primaryReport(7)).db(primaryDb(7));
            assertDecision(decide(EU, Role.STARTING, f), Role.FOLLOWER, Step.NONE, null, "region us has not reported");
        }

        @Test
        void noPrimaryAnywhereBlocksBootstrap() {
            FactsBuilder f = facts().report(EU, standbyReport(7)).report(US, standbyReport(7)).db(standbyDb(7));
            assertDecision(decide(EU, Role.STARTING, f), Role.FOLLOWER, Step.NONE, null, "no region reports a primary");
        }

        @Test
        void ownDatabaseDownBlocksBootstrap() {
            FactsBuilder f = bothReported().db(downDb());
            assertDecision(decide(EU, Role.STARTING, f), Role.FOLLOWER, Step.NONE, null, "does not answer");
        }

        @Test
        void bootstrapRegionHoldingTheLockTakesOverWithoutPromotingOrFencing() {
            Decision d = decide(EU, Role.STARTING, bothReported().lock().db(primaryDb(7)));
            assertDecision(d, Role.LEADER, Step.TAKE_OVER, null, "hold the leader lock", "bootstrap", "new term");
            assertThat(d.explanation()).doesNotContain("promoting");
        }

        @Test
        void otherRegionHoldingTheLockAtBootstrapReleasesIt() {
            Decision d = decide(US, Role.STARTING, bothReported().lock().db(standbyDb(7)));
            assertDecision(d, Role.FOLLOWER, Step.STOP_AND_RELEASE, null, "may not lead", "highest epoch", "releasing");
        }

        @Test
        void equalEpochPrimariesNeverBothTryTheLock() {
            Decision de = decide(EU, Role.STARTING, facts().report(EU, primaryReport(5)).report(US, primaryReport(5)).db(primaryDb(5)));
            Decision du = decide(US, Role.STARTING, facts().report(EU, primaryReport(5)).report(US, primaryReport(5)).db(primaryDb(5)));
            assertThat(de.step() == Step.TRY_LOCK || du.step() == Step.TRY_LOCK)
                    .as("eu: %s / us: %s", de.explanation(), du.explanation()).isFalse();
            assertReadable(de.explanation(), "operator must decide");
        }

        @Test
        void aNewTermStartsWithTheWalKeeperAsItsSecondSite() {
            assertThat(machine(EU).newTermSyncSet(ClusterRecord.EMPTY)).containsExactly(KEEPER);
            assertThat(machine(EU).newTermCommitSet(ClusterRecord.EMPTY)).containsExactly(KEEPER);
        }
    }

    // ---------------------------------------------------------------- quorum commit while leading

    @Nested
    class QuorumCommit {

        @Test
        void renewsWhenEverythingMatches() {
            Decision d = decide(EU, Role.LEADER, healthyLeader());
            assertDecision(d, Role.LEADER, Step.RENEW, null, "no action", "leader with the lock", "epoch 5",
                    "any of [us, walkeeper]", "at least two sites");
        }

        @Test
        void aSiteThatStreamsJoinsTheRecordBeforePostgresWaitsForIt() {
            FactsBuilder f = facts().lock().record(record(5, EU, KEEPER)).db(primaryDb(5, List.of(KEEPER), streaming(US), streaming(KEEPER)));
            Decision d = decide(EU, Role.LEADER, f);
            assertDecision(d, Role.LEADER, Step.RECORD_SYNC, US, "us streams", "adding it to the commit quorum", "recorded first");
            assertThat(d.record().syncStandbys()).containsExactly(KEEPER, US);
            assertThat(d.record().commitSet()).containsExactly(KEEPER, US);

            // Next tick: the record has it, PostgreSQL does not yet.
            Decision next = decide(EU, Role.LEADER, f.record(d.record()));
            assertDecision(next, Role.LEADER, Step.CONVERGE_SYNC, null, "PostgreSQL waits for", "ANY 1 (\"walkeeper\", \"us\")");
        }

        @Test
        void aStandbyThatIsStillCatchingUpDoesNotJoin() {
            Standby catchingUp = new Standby(US, "catchup", "async", 1_000_000, 3.0, false, Lsn.parse("0/1000000"));
            FactsBuilder f = facts().lock().record(record(5, EU, KEEPER)).db(primaryDb(5, List.of(KEEPER), catchingUp, streaming(KEEPER)));
            assertDecision(decide(EU, Role.LEADER, f), Role.LEADER, Step.RENEW, null, "any of [walkeeper]");
        }

        @Test
        void aLostSiteLeavesTheCommitSetAtOnceButTheSyncSetOnlyOnceTheRestHoldsEverything() {
            // us is gone; commits go on with the keeper (no stall): us leaves the commit set only.
            FactsBuilder f = facts().lock().record(record(5, EU, US, KEEPER)).db(primaryDb(5, List.of(US, KEEPER), streaming(KEEPER)));
            Decision d = decide(EU, Role.LEADER, f);
            assertDecision(d, Role.LEADER, Step.RECORD_SYNC, US, "us is gone", "acknowledged by walkeeper from now on",
                    "stays in the recorded sync set");
            assertThat(d.record().commitSet()).containsExactly(KEEPER);
            assertThat(d.record().syncStandbys()).containsExactly(US, KEEPER);

            // PostgreSQL converges to the keeper alone ...
            ClusterRecord narrowed = d.record();
            assertThat(decide(EU, Role.LEADER, f.record(narrowed)).step()).isEqualTo(Step.CONVERGE_SYNC);

            // ... and until the keeper has flushed past the point where that took effect, us stays recorded:
            // it may hold writes the keeper does not (acknowledged by us alone before).
            Lsn converged = Lsn.parse("0/5000200");
            FactsBuilder behind = facts().lock().record(narrowed).syncConvergedAt(converged)
                    .db(primaryDb(5, List.of(KEEPER), streaming(KEEPER, Lsn.parse("0/5000100"))));
            assertThat(decide(EU, Role.LEADER, behind).step()).isEqualTo(Step.RENEW);

            FactsBuilder past = facts().lock().record(narrowed).syncConvergedAt(converged)
                    .db(primaryDb(5, List.of(KEEPER), streaming(KEEPER, Lsn.parse("0/5000300"))));
            Decision done = decide(EU, Role.LEADER, past);
            assertDecision(done, Role.LEADER, Step.RECORD_SYNC, null, "walkeeper now hold every acknowledged write",
                    "us leaves the recorded sync set");
            assertThat(done.record().syncStandbys()).containsExactly(KEEPER);
        }

        @Test
        void losingTheKeeperLeavesTheOtherRegionAsTheSecondSite() {
            FactsBuilder f = facts().lock().record(record(5, EU, US, KEEPER)).db(primaryDb(5, List.of(US, KEEPER), streaming(US)));
            Decision d = decide(EU, Role.LEADER, f);
            assertThat(d.step()).isEqualTo(Step.RECORD_SYNC);
            assertThat(d.record().commitSet()).containsExactly(US);
        }

        @Test
        void blockPolicyWithEveryOtherSiteGoneKeepsThemAndWritesWait() {
            FactsBuilder f = facts().lock().record(record(5, EU, KEEPER)).db(primaryDb(5, List.of(KEEPER)));
            assertDecision(decide(EU, Role.LEADER, f), Role.LEADER, Step.RENEW, null, "none of [walkeeper] streams",
                    "writes wait", "BLOCK");
        }

        @Test
        void aSiteIsNotDroppedWhileTheOthersDoNotStreamEither() {
            FactsBuilder f = facts().lock().record(record(5, EU, US, KEEPER)).db(primaryDb(5, List.of(US, KEEPER)));
            assertThat(decide(EU, Role.LEADER, f).step()).isEqualTo(Step.RENEW);
        }

        @Test
        void degradePolicyRecordsThatNobodyElseHoldsTheWritesBeforeWritingAlone() {
            FactsBuilder f = facts().lock().record(record(5, EU, KEEPER)).db(primaryDb(5, List.of(KEEPER)));
            Decision d = decide(EU, SyncLossPolicy.DEGRADE, Role.LEADER, f);
            assertDecision(d, Role.LEADER, Step.RECORD_SYNC, KEEPER, "DEGRADE", "nobody else holds our writes", "writing alone");
            assertThat(d.record().syncStandbys()).isEmpty();
            assertThat(d.record().commitSet()).isEmpty();
        }

        @Test
        void postgresThatDisagreesWithTheRecordIsReconvergedEveryTick() {
            // The record says "write alone" (DEGRADE) but an ALTER SYSTEM failed: PostgreSQL still waits for us.
            // Every tick sets it again until it agrees, like Patroni.
            FactsBuilder f = facts().lock().record(record(5, EU)).db(primaryDb(5, List.of(US)));
            for (int tick = 0; tick < 3; tick++) {
                Decision d = decide(EU, SyncLossPolicy.DEGRADE, Role.LEADER, f);
                assertDecision(d, Role.LEADER, Step.CONVERGE_SYNC, null, "PostgreSQL waits for 'ANY 1 (\"us\")'",
                        "the record says ''");
            }
        }

        @Test
        void syncCopiesCountsTheSitesHoldingEveryAcknowledgedWrite() {
            // Every write acknowledged one observation ago is at or before the leader's flush then.
            Lsn before = Lsn.parse("0/5000000");
            assertThat(FailoverStateMachine.syncCopies(primaryDb(5, List.of(US, KEEPER), streaming(US), streaming(KEEPER)), before))
                    .as("both have flushed past it").isEqualTo(3);
            assertThat(FailoverStateMachine.syncCopies(primaryDb(5, List.of(US, KEEPER), streaming(US, Lsn.parse("0/4000000")),
                    streaming(KEEPER)), before)).as("us behind: it may lack a write the keeper confirmed").isEqualTo(2);
            assertThat(FailoverStateMachine.syncCopies(primaryDb(5, List.of(US, KEEPER), streaming(KEEPER)), before))
                    .as("us gone").isEqualTo(2);
            assertThat(FailoverStateMachine.syncCopies(primaryDb(5, List.of(US, KEEPER)), before))
                    .as("nobody streams: acknowledged writes are here only, as far as anyone can see").isEqualTo(1);
            assertThat(FailoverStateMachine.syncCopies(primaryDb(5, List.of(US, KEEPER), streaming(US), streaming(KEEPER)), Lsn.NONE))
                    .as("nothing observed before: nothing proven").isEqualTo(1);
            assertThat(FailoverStateMachine.syncCopies(standbyDb(5), before)).as("not a primary").isZero();
        }
    }

    // ---------------------------------------------------------------- the leader loses something

    @Nested
    class LeaderLoses {

        @Test
        void theCpGroupAfterItsLeaseRanOut() {
            Decision d = decide(EU, Role.LEADER, healthyLeader().cpError("no quorum").leaseExpired());
            assertDecision(d, Role.FENCED, Step.STOP_SERVING, null, "stopped serving", "CP group does not answer", "no quorum");
        }

        @Test
        void theCpGroupWithinItsLeaseRidesItOut() {
            Decision d = decide(EU, Role.LEADER, healthyLeader().cpError("no quorum"));
            assertDecision(d, Role.LEADER, Step.NONE, null, "CP group does not answer", "within my lease");
        }

        @Test
        void aWriteFaultDuringACpHiccupStillStopsTheLeader() {
            Decision d = decide(EU, Role.LEADER, healthyLeader().cpError("no quorum").writeFault("commit outcome unknown"));
            assertThat(d.next()).as(d.explanation()).isEqualTo(Role.FENCED);
            assertReadable(d.explanation(), "commit");
        }

        @Test
        void theLock() {
            FactsBuilder f = facts().record(record(5, EU, US)).db(primaryDb(5, streaming(US)));
            assertDecision(decide(EU, Role.LEADER, f), Role.FENCED, Step.STOP_SERVING, null, "no longer hold the leader lock");
        }

        @Test
        void itsDatabaseThatIsDown() {
            Decision d = decide(EU, Role.LEADER, healthyLeader().db(downDb()));
            assertDecision(d, Role.FENCED, Step.STOP_AND_RELEASE, null, "my database does not answer", "connection refused",
                    "releasing the lock so us can take over");
        }

        @Test
        void notItsDatabaseWhenOneObservationFailed() {
            // A statement timeout or a lock is not "down", and certainly not "epoch 0" (which used to make the
            // leader step down): it keeps its role, serves on within its lease, and does not renew it.
            Decision d = decide(EU, Role.LEADER, healthyLeader().db(PgProbe.State.unreadable("canceling statement due to statement timeout")));
            assertDecision(d, Role.LEADER, Step.NONE, null, "could not read my database", "statement timeout", "not renewing");
        }

        @Test
        void itsDatabaseThatIsInRecovery() {
            Decision d = decide(EU, Role.LEADER, healthyLeader().db(standbyDb(5)));
            assertDecision(d, Role.FENCED, Step.STOP_AND_RELEASE, null, "in recovery", "not a primary");
        }

        @Test
        void aCommitThatFailed() {
            Decision d = decide(EU, Role.LEADER, healthyLeader().writeFault("I/O error on commit"));
            assertDecision(d, Role.FENCED, Step.STOP_AND_RELEASE, null, "a commit failed", "outcome is unknown",
                    "I/O error on commit", "releasing the lock");
        }

        @Test
        void theRecordWhenItNamesAnotherLeader() {
            Decision d = decide(EU, Role.LEADER, healthyLeader().record(record(5, US, EU)));
            assertDecision(d, Role.FENCED, Step.STOP_AND_RELEASE, null, "CP record names us at epoch 5", "but I am eu");
        }

        @Test
        void theRecordWhenItHasAnotherEpoch() {
            Decision d = decide(EU, Role.LEADER, healthyLeader().record(record(6, EU, US)));
            assertDecision(d, Role.FENCED, Step.STOP_AND_RELEASE, null, "CP record names eu at epoch 6", "database epoch 5");
        }

        @Test
        void drainingLeaderLosesTheCpGroup() {
            Decision d = decide(EU, Role.DRAINING, healthyLeader().switchoverTo(US).cpError("timeout"));
            assertDecision(d, Role.FENCED, Step.STOP_SERVING, null, "CP group does not answer", "timeout");
        }
    }

    // ---------------------------------------------------------------- followers and takeovers

    @Nested
    class TakingOver {

        /** eu led at epoch 5 with us and the keeper in the sync set; us follows with a complete database. */
        FactsBuilder usFollows() {
            return facts().record(record(5, EU, US, KEEPER)).db(standbyDb(5));
        }

        @Test
        void aStandbyThatCanMakeItselfCompleteTriesTheLock() {
            assertDecision(decide(US, Role.FOLLOWER, usFollows()), Role.FOLLOWER, Step.TRY_LOCK, null, "eligible",
                    "fetch what my database lacks from the WAL keeper");
        }

        @Test
        void holdingTheLockItFirstFencesTheKeeper() {
            Decision d = decide(US, Role.FOLLOWER, usFollows().lock());
            assertDecision(d, Role.TAKING_OVER, Step.FENCE_KEEPER, null, "recording that us takes over",
                    "WAL keeper stops following eu");
        }

        @Test
        void thenWaitsForTheKeeperToSayWhereItsWalEnds() {
            FactsBuilder f = usFollows().lock().record(record(5, EU, US, KEEPER).withTakeover(US));
            assertDecision(decide(US, Role.TAKING_OVER, f), Role.TAKING_OVER, Step.NONE, null,
                    "waiting for the WAL keeper", "where its WAL ends");
            // A report fenced for an older term does not count.
            assertThat(decide(US, Role.TAKING_OVER, f.keeper(keeperFencedFor(US, 4, WAL))).step()).isEqualTo(Step.NONE);
        }

        @Test
        void fetchesWhatItLacksFromTheKeeperBeforePromotion() {
            Lsn end = Lsn.parse("0/5000400");
            FactsBuilder f = usFollows().lock().record(record(5, EU, US, KEEPER).withTakeover(US))
                    .keeper(keeperFencedFor(US, 5, end));
            assertDecision(decide(US, Role.TAKING_OVER, f), Role.TAKING_OVER, Step.FETCH_FROM_KEEPER, null,
                    "0/5000100", "0/5000400", "768 bytes more", "fetching the rest from the keeper");

            Decision fetching = decide(US, Role.TAKING_OVER, f.db(fetchingDb(5, Lsn.parse("0/5000200"))));
            assertDecision(fetching, Role.TAKING_OVER, Step.NONE, null, "fetching WAL from the keeper before promotion");

            Decision complete = decide(US, Role.TAKING_OVER, f.db(fetchingDb(5, end)));
            assertDecision(complete, Role.LEADER, Step.TAKE_OVER, null, "promoting my database", "new term");
        }

        @Test
        void aTakeoverThatCannotGetTheKeepersWalGivesTheLockBackAfterItsDeadlineNotNever() {
            Lsn end = Lsn.parse("0/5000400");
            FactsBuilder f = usFollows().lock().record(record(5, EU, US, KEEPER).withTakeover(US))
                    .keeper(keeperFencedFor(US, 5, end)).db(fetchingDb(5, Lsn.parse("0/5000200")));
            // Before, the candidate fetched (or waited for the keeper's report) for as long as it failed, holding the lock.
            long started = NOW - FailoverStateMachine.TAKEOVER_DEADLINE_MS + 1_000;
            assertDecision(decide(US, Role.TAKING_OVER, f.takingOverSince(started)), Role.TAKING_OVER, Step.NONE, null,
                    "fetching WAL from the keeper");
            long late = NOW - FailoverStateMachine.TAKEOVER_DEADLINE_MS - 1_000;
            assertDecision(decide(US, Role.TAKING_OVER, f.takingOverSince(late)), Role.FOLLOWER, Step.STOP_AND_RELEASE, null,
                    "takeover abandoned after 21 s", "fetching WAL from the keeper", "512 bytes more",
                    "releasing the leader lock");
            FactsBuilder unreported = usFollows().lock().record(record(5, EU, US, KEEPER).withTakeover(US)).takingOverSince(late);
            assertDecision(decide(US, Role.TAKING_OVER, unreported), Role.FOLLOWER, Step.STOP_AND_RELEASE, null,
                    "takeover abandoned", "waiting for the WAL keeper to stop following eu");
            // A takeover that can complete does, however long it took.
            assertThat(decide(US, Role.TAKING_OVER, f.db(fetchingDb(5, end))).step()).isEqualTo(Step.TAKE_OVER);
        }

        @Test
        void aStandbyAlreadyAheadOfTheKeeperPromotesAtOnce() {
            FactsBuilder f = usFollows().lock().record(record(5, EU, US, KEEPER).withTakeover(US))
                    .keeper(keeperFencedFor(US, 5, Lsn.parse("0/5000000")));
            assertThat(decide(US, Role.TAKING_OVER, f).step()).isEqualTo(Step.TAKE_OVER);
        }

        @Test
        void aStandbyOutsideTheSyncSetIsCompletedFromTheKeeperWhenTheKeeperHoldsEveryWrite() {
            // us was lost earlier (it left the sync set), eu wrote with the keeper alone, then eu died: us came back
            // as a lagging standby and can still become complete from the keeper (pg_auto_failover's rule).
            FactsBuilder f = facts().record(record(7, EU, KEEPER)).db(standbyDb(6, Lsn.parse("0/3000000")));
            assertThat(decide(US, Role.FOLLOWER, f).step()).isEqualTo(Step.TRY_LOCK);
            FactsBuilder fenced = f.lock().record(record(7, EU, KEEPER).withTakeover(US)).keeper(keeperFencedFor(US, 7, WAL));
            assertThat(decide(US, Role.TAKING_OVER, fenced).step()).isEqualTo(Step.FETCH_FROM_KEEPER);
        }

        @Test
        void withoutAFreshKeeperReportAStandbyThatMayLackWritesNeitherTriesNorKeepsTheLock() {
            WalKeeperReport stale = new WalKeeperReport(WalKeeperReport.State.FOLLOWING, EU, "", 0, Lsn.NONE, 0, 1, 0, "",
                    NOW - FailoverStateMachine.KEEPER_REPORT_FRESH_MS - 1);
            assertDecision(decide(US, Role.FOLLOWER, usFollows().keeper(stale)), Role.FOLLOWER, Step.NONE, null,
                    "WAL keeper may hold acknowledged writes my database lacks", "has not reported");
            assertDecision(decide(US, Role.TAKING_OVER, usFollows().lock().keeper(stale)), Role.FOLLOWER, Step.STOP_AND_RELEASE,
                    null, "may not lead", "WAL keeper");
        }

        @Test
        void aSyncStandbyWithoutTheKeeperInTheSetDoesNotWaitForIt() {
            // The keeper had left the sync set (it was lost): us alone had every acknowledged write.
            WalKeeperReport gone = WalKeeperReport.NONE;
            FactsBuilder f = facts().record(record(5, EU, US)).db(standbyDb(5)).keeper(gone).lock();
            assertThat(decide(US, Role.FOLLOWER, f).step()).as("fences it anyway, best effort").isEqualTo(Step.FENCE_KEEPER);
            Decision d = decide(US, Role.TAKING_OVER, f.record(record(5, EU, US).withTakeover(US)));
            assertDecision(d, Role.LEADER, Step.TAKE_OVER, null, "recorded synchronous standby", "promoting");
        }

        @Test
        void aStandbyOutsideTheSyncSetWithoutTheKeeperInItIsNeverPromoted() {
            FactsBuilder f = facts().record(record(5, EU)).db(standbyDb(5));
            for (Role r : List.of(Role.STARTING, Role.FOLLOWER, Role.FENCED)) {
                assertDecision(decide(US, r, f), Role.FOLLOWER, Step.NONE, null, "outside the recorded sync set",
                        "may miss acknowledged writes", "never promoted automatically");
            }
            assertDecision(decide(US, Role.FOLLOWER, f.lock()), Role.FOLLOWER, Step.STOP_AND_RELEASE, null,
                    "hold the leader lock but may not lead", "releasing");
        }

        @Test
        void theRecordedLeadersOwnPrimaryThatLacksTheKeepersWalNeverLeads() {
            // eu's database was restored without the keeper's WAL: the keeper holds acknowledged writes it lacks.
            FactsBuilder f = facts().lock().record(record(5, EU, KEEPER).withTakeover(EU)).db(primaryDb(5))
                    .keeper(keeperFencedFor(EU, 5, Lsn.parse("0/6000000")));
            assertDecision(decide(EU, Role.TAKING_OVER, f), Role.FOLLOWER, Step.STOP_AND_RELEASE, null,
                    "lacks acknowledged writes", "must not lead", "restore it with the keeper's WAL");
        }

        @Test
        void theRecordedLeaderRestartingWithItsPrimaryLeadsAgainWithTheSameSets() {
            FactsBuilder f = facts().lock().record(record(5, EU, US, KEEPER).withTakeover(EU)).db(primaryDb(5))
                    .keeper(keeperFencedFor(EU, 5, Lsn.parse("0/5000000")));
            assertDecision(decide(EU, Role.FENCED, f), Role.LEADER, Step.TAKE_OVER, null, "recorded leader");
            assertThat(machine(EU).newTermSyncSet(record(5, EU, US, KEEPER))).containsExactly(US, KEEPER);
        }

        @Test
        void afterAFailoverTheKeeperIsTheNewLeadersSecondSiteFromItsFirstCommit() {
            assertThat(machine(US).newTermSyncSet(record(5, EU, US, KEEPER))).containsExactly(KEEPER);
            assertThat(machine(US).newTermCommitSet(record(5, EU, US, KEEPER))).containsExactly(KEEPER);
        }

        @Test
        void aStandbyThatMayTakeOverSetsItsTermsQuorumBeforeAnyPromotion() {
            // PostgreSQL applies '' -> set only in its checkpointer, which a promotion keeps busy: set it as a standby.
            FactsBuilder unset = usFollows().db(standbyDb(5, WAL, ""));
            assertDecision(decide(US, Role.FOLLOWER, unset), Role.FOLLOWER, Step.PRESET_SYNC, null,
                    "ANY 1 (\"walkeeper\")", "from the moment of a promotion");
            // Which sites it names is set at the takeover; only empty-or-not matters before it.
            FactsBuilder handover = facts().record(new ClusterRecord(5, EU, List.of(US, KEEPER), US, "test", 0, NOW))
                    .db(standbyDb(5));
            assertThat(decide(US, Role.FOLLOWER, handover).step()).isEqualTo(Step.TRY_LOCK);
            // Without a keeper and with DEGRADE a term of its own starts alone: nothing to hold commits for.
            FailoverStateMachine degrade = new FailoverStateMachine(US, List.of(EU, US), "", SyncLossPolicy.DEGRADE, FRESH_MS);
            Decision clear = degrade.decide(Role.FOLLOWER, facts().record(record(5, EU, US)).db(standbyDb(5)).build());
            assertDecision(clear, Role.FOLLOWER, Step.PRESET_SYNC, null, "would start with ''");
            // A standby that may not lead changes nothing.
            assertThat(decide(US, Role.FOLLOWER, facts().record(record(5, EU)).db(standbyDb(5, WAL, ""))).step())
                    .isEqualTo(Step.NONE);
        }

        @Test
        void withoutAKeeperPolicyBlockMakesTheNewTermWaitForTheOtherRegion() {
            // No WAL keeper: the only other site is eu, the old leader. BLOCK means acknowledged = in two sites, in the
            // new term too: its commits wait until eu has rejoined and confirms them.
            FailoverStateMachine us = new FailoverStateMachine(US, List.of(EU, US), "", SyncLossPolicy.BLOCK, FRESH_MS);
            ClusterRecord rec = record(5, EU, US).withTakeover(US);
            assertThat(us.newTermSyncSet(rec)).containsExactly(EU);
            assertThat(us.newTermCommitSet(rec)).containsExactly(EU);
            Decision d = us.decide(Role.TAKING_OVER, facts().lock().record(rec).db(standbyDb(5)).keeper(WalKeeperReport.NONE).build());
            assertDecision(d, Role.LEADER, Step.TAKE_OVER, null, "promoting", "commits wait for eu", "policy BLOCK");

            // Leading in that term while eu does not stream yet: writes wait, nothing is dropped from the quorum.
            ClusterRecord term = new ClusterRecord(6, US, List.of(EU), "", "failover", 0, NOW);
            Decision leading = us.decide(Role.LEADER, facts().lock().record(term).db(primaryDb(6, List.of(EU))).build());
            assertDecision(leading, Role.LEADER, Step.RENEW, null, "writes wait", "policy BLOCK");
        }

        @Test
        void withoutAKeeperPolicyDegradeStartsTheNewTermAloneAndRecordsIt() {
            FailoverStateMachine us = new FailoverStateMachine(US, List.of(EU, US), "", SyncLossPolicy.DEGRADE, FRESH_MS);
            ClusterRecord rec = record(5, EU, US).withTakeover(US);
            assertThat(us.newTermSyncSet(rec)).isEmpty();
            assertThat(us.newTermCommitSet(rec)).isEmpty();
            Decision d = us.decide(Role.TAKING_OVER, facts().lock().record(rec).db(standbyDb(5)).keeper(WalKeeperReport.NONE).build());
            assertDecision(d, Role.LEADER, Step.TAKE_OVER, null, "promoting", "nobody else", "policy DEGRADE");
        }

        @Test
        void databaseDownNeverTriesTheLock() {
            assertDecision(decide(US, Role.FOLLOWER, usFollows().db(downDb())), Role.FOLLOWER, Step.NONE, null,
                    "my database does not answer", "connection refused");
        }

        @Test
        void waitsWhileTheCpGroupDoesNotAnswer() {
            FactsBuilder f = usFollows().cpError("no quorum");
            assertDecision(decide(US, Role.STARTING, f), Role.FOLLOWER, Step.NONE, null, "waiting for the CP group", "no quorum");
            assertDecision(decide(US, Role.TAKING_OVER, f), Role.FOLLOWER, Step.NONE, null, "CP group");
        }

        @Test
        void aFollowerDeposesALeaderWhoseProcessIsProvablyGone() {
            Decision d = decide(US, Role.FOLLOWER, usFollows().leaderGone());
            assertDecision(d, Role.FOLLOWER, Step.DEPOSE, EU, "process is gone", "refuses connections",
                    "instead of waiting for it to expire");
        }

        @Test
        void aLeaderThatIsOnlySlowOrCutOffIsNotDeposedEarly() {
            // No proof of death (its address still accepts, or cannot be reached): wait for its session as before.
            assertThat(decide(US, Role.FOLLOWER, usFollows()).step()).isEqualTo(Step.TRY_LOCK);
        }

        @Test
        void aFollowerThatMayNotLeadNeverDeposesAnybody() {
            FactsBuilder f = facts().record(record(5, EU)).db(standbyDb(5)).leaderGone();
            assertThat(decide(US, Role.FOLLOWER, f).step()).isEqualTo(Step.NONE);
        }

        @Test
        void aStandbyLeftDetachedByATakeoverThatDidNotHappenStreamsFromTheLeaderAgain() {
            FactsBuilder f = facts().record(record(6, EU, US, KEEPER)).db(fetchingDb(6, WAL));
            assertDecision(decide(US, Role.FOLLOWER, f), Role.FOLLOWER, Step.REATTACH, EU, "detached", "streaming from eu again");
        }
    }

    // ---------------------------------------------------------------- former primaries

    @Nested
    class FormerPrimary {

        @Test
        void aFormerPrimaryRejoinsAsAStandbyByItself() {
            FactsBuilder f = facts().record(record(6, US, KEEPER)).db(primaryDb(5));
            for (Role r : List.of(Role.STARTING, Role.FOLLOWER, Role.FENCED, Role.DEMOTED)) {
                assertDecision(decide(EU, r, f), Role.DEMOTED, Step.REJOIN, US, "former primary", "us leads (epoch 6)",
                        "never acknowledged", "rejoins as us's standby by itself");
            }
        }

        @Test
        void whileItsRejoinRunsItWaits() {
            FactsBuilder f = facts().record(record(6, US, KEEPER)).db(downDb()).rejoin(new RejoinStatus(true, "", 0));
            assertDecision(decide(EU, Role.DEMOTED, f), Role.DEMOTED, Step.NONE, null, "rejoining as a standby of us");
        }

        @Test
        void aFailedRejoinIsRetriedLater() {
            RejoinStatus failed = new RejoinStatus(false, "pg_rewind: could not connect", NOW - 1_000);
            FactsBuilder f = facts().record(record(6, US, KEEPER)).db(primaryDb(5)).rejoin(failed);
            assertDecision(decide(EU, Role.DEMOTED, f), Role.DEMOTED, Step.NONE, null, "failed", "could not connect", "retrying in 9 s");
            RejoinStatus longAgo = new RejoinStatus(false, "pg_rewind: could not connect", NOW - FailoverStateMachine.REJOIN_RETRY_MS - 1);
            assertThat(decide(EU, Role.DEMOTED, f.rejoin(longAgo)).step()).isEqualTo(Step.REJOIN);
        }

        @Test
        void aFormerPrimaryWhoseEpochIsNotBelowTheRecordsIsLeftToAnOperator() {
            FactsBuilder f = facts().record(record(6, US, KEEPER)).db(primaryDb(6));
            assertDecision(decide(EU, Role.FOLLOWER, f), Role.DEMOTED, Step.NONE, null, "not below the recorded one",
                    "operator must decide");
        }

        @Test
        void formerPrimaryHoldingTheLockReleasesIt() {
            FactsBuilder f = facts().lock().record(record(6, US)).db(primaryDb(5));
            assertDecision(decide(EU, Role.FENCED, f), Role.FENCED, Step.STOP_AND_RELEASE, null, "may not lead",
                    "former primary", "releasing");
        }

        @Test
        void aRegionWhoseTakeoverFailedAfterPromotionMayFinishIt() {
            // us fenced the keeper, promoted its database, and failed before recording its term.
            FactsBuilder f = facts().record(record(5, EU, US, KEEPER).withTakeover(US)).db(primaryDb(5))
                    .keeper(keeperFencedFor(US, 5, WAL));
            assertThat(decide(US, Role.FOLLOWER, f).step()).isEqualTo(Step.TRY_LOCK);
            assertThat(decide(US, Role.FOLLOWER, f.lock()).step()).isEqualTo(Step.TAKE_OVER);
        }

        @Test
        void rejoinedItFollowsAndIsEligibleOnceInTheSyncSet() {
            FactsBuilder f = facts().record(record(6, US, KEEPER)).db(standbyDb(6));
            assertThat(decide(EU, Role.DEMOTED, f).step()).as("the keeper holds every write: eligible").isEqualTo(Step.TRY_LOCK);
            assertThat(decide(EU, Role.DEMOTED, facts().record(record(6, US)).db(standbyDb(6))).step())
                    .as("written alone (DEGRADE): never").isEqualTo(Step.NONE);
        }
    }

    // ---------------------------------------------------------------- planned switchover

    @Nested
    class Switchover {

        @Test
        void leaderAskedToSwitchOverDrains() {
            Decision d = decide(EU, Role.LEADER, healthyLeader().switchoverTo(US));
            assertDecision(d, Role.DRAINING, Step.STOP_SERVING, US, "switchover to us requested", "draining", "no new writes");
        }

        @Test
        void drainingWaitsForTheInFlightBatch() {
            Decision d = decide(EU, Role.DRAINING, healthyLeader().switchoverTo(US).writerBusy().drainingSince(NOW - 100));
            assertDecision(d, Role.DRAINING, Step.NONE, US, "draining for switchover to us", "in-flight batch");
        }

        @Test
        void drainingWaitsForALaggingTarget() {
            FactsBuilder f = healthyLeader().switchoverTo(US).db(primaryDb(5, lagging(US, 4096), streaming(KEEPER)))
                    .drainingSince(NOW - 100);
            assertDecision(decide(EU, Role.DRAINING, f), Role.DRAINING, Step.NONE, US, "waiting for its database",
                    "4096 bytes behind");
        }

        @Test
        void aSwitchoverWhoseTargetDoesNotCatchUpInTimeIsAbandonedAndTheLeaderServesAgain() {
            FactsBuilder f = healthyLeader().switchoverTo(US).db(primaryDb(5, List.of(US, KEEPER), streaming(KEEPER)))
                    .drainingSince(NOW - FailoverStateMachine.SWITCHOVER_DRAIN_DEADLINE_MS - 1);
            assertDecision(decide(EU, Role.DRAINING, f), Role.LEADER, Step.RESUME, US, "switchover to us abandoned after 10 s",
                    "not connected", "serving again");
            assertThat(decide(EU, Role.DRAINING, f.drainingSince(NOW - 2_000)).step()).as("within the deadline").isEqualTo(Step.NONE);
        }

        @Test
        void aTargetWhoseNodeHasNotReportedRecentlyIsNotHandedOverToEvenWithItsDatabaseCaughtUp() {
            // Its PostgreSQL streams and has everything, but its agent (which would take the lock) is frozen.
            long stale = FailoverStateMachine.SWITCHOVER_TARGET_REPORT_FRESH_MS + 1_000;
            FactsBuilder f = healthyLeader().switchoverTo(US).drainingSince(NOW - 100).report(US, report(true, false, 5, stale));
            assertDecision(decide(EU, Role.DRAINING, f), Role.DRAINING, Step.NONE, US, "draining for switchover to us",
                    "not handing over", "us's node has not reported in the CP group for 6 s");
            // Still silent at the drain's deadline: abandoned, serving again in the same term, nothing handed over.
            FactsBuilder late = healthyLeader().switchoverTo(US)
                    .drainingSince(NOW - FailoverStateMachine.SWITCHOVER_DRAIN_DEADLINE_MS - 1).report(US, report(true, false, 5, stale));
            assertDecision(decide(EU, Role.DRAINING, late), Role.LEADER, Step.RESUME, US, "switchover to us abandoned after",
                    "us's node has not reported", "serving again as eu (epoch 5)");
            FactsBuilder never = healthyLeader().switchoverTo(US).drainingSince(NOW - 100);
            never.reports.clear();
            assertDecision(decide(EU, Role.DRAINING, never), Role.DRAINING, Step.NONE, US, "us's node has never reported");
            FactsBuilder fresh = healthyLeader().switchoverTo(US).drainingSince(NOW - 100)
                    .report(US, report(true, false, 5, FailoverStateMachine.SWITCHOVER_TARGET_REPORT_FRESH_MS));
            assertThat(decide(EU, Role.DRAINING, fresh).step()).as("a report at the limit still counts").isEqualTo(Step.HAND_OVER);
        }

        @Test
        void caughtUpTargetGetsTheHandover() {
            Decision d = decide(EU, Role.DRAINING, healthyLeader().switchoverTo(US).drainingSince(NOW - 300));
            assertDecision(d, Role.DEMOTED, Step.HAND_OVER, US, "handing over to us", "all our WAL", "releasing the lock");
        }

        FactsBuilder handoverInProgressTo(String target, PgProbe.State db) {
            return facts().record(record(5, EU, US, KEEPER).withHandoverTo(target)).db(db);
        }

        @Test
        void duringTheHandoverTheOldLeaderNeverTriesTheLock() {
            Decision demoted = decide(EU, Role.DEMOTED, handoverInProgressTo(US, downDb()).stoppedLeadingAt(NOW - 500));
            assertDecision(demoted, Role.DEMOTED, Step.NONE, null, "handed over to us", "waiting for it to lead");
            for (Role r : List.of(Role.STARTING, Role.FOLLOWER, Role.FENCED)) {
                Decision d = decide(EU, r, handoverInProgressTo(US, primaryDb(5, streaming(US))));
                assertThat(d.step()).as("%s: %s", r, d.explanation()).isEqualTo(Step.NONE);
            }
        }

        @Test
        void theTargetTakesOverWithoutWaitingForTheKeeper() {
            // It had all of the old leader's WAL when the handover was recorded (the leader checked).
            Decision tries = decide(US, Role.FOLLOWER, handoverInProgressTo(US, standbyDb(5)));
            assertDecision(tries, Role.FOLLOWER, Step.TRY_LOCK, null, "planned handover to me", "lock");
            Decision takes = decide(US, Role.FOLLOWER, handoverInProgressTo(US, standbyDb(5)).lock());
            assertDecision(takes, Role.LEADER, Step.TAKE_OVER, null, "planned handover to me", "promoting my database");
        }

        @Test
        void theNewLeaderCommitsWithTheKeeperWhileTheOldOneRejoins() {
            ClusterRecord handover = record(5, EU, US, KEEPER).withHandoverTo(US);
            assertThat(machine(US).newTermSyncSet(handover)).containsExactly(KEEPER, EU);
            assertThat(machine(US).newTermCommitSet(handover)).containsExactly(KEEPER, EU);
        }

        @Test
        void afterTheHandoverTheOldLeaderRejoinsTheNewOne() {
            FactsBuilder f = facts().record(record(6, US, KEEPER, EU)).db(downDb()).stoppedLeadingAt(NOW - 2_000);
            assertDecision(decide(EU, Role.DEMOTED, f), Role.DEMOTED, Step.REJOIN, US, "switchover done", "us leads (epoch 6)",
                    "rejoining as its standby");
        }

        @Test
        void aTargetThatNeverRecordedItsLeadershipWithinTheDeadlineLetsTheOldLeaderTakeItBackUnderANewEpoch() {
            // us was frozen when eu handed over: the record still names eu, eu's database was stopped cleanly.
            long deadline = FailoverStateMachine.HANDOVER_TAKEOVER_DEADLINE_MS;
            Decision waits = decide(EU, Role.DEMOTED, handoverInProgressTo(US, downDb()).stoppedLeadingAt(NOW - deadline));
            assertDecision(waits, Role.DEMOTED, Step.NONE, null, "handed over to us", "waiting for it to lead", "within 12 s");
            Decision reclaims = decide(EU, Role.DEMOTED, handoverInProgressTo(US, downDb()).stoppedLeadingAt(NOW - deadline - 1));
            assertDecision(reclaims, Role.FOLLOWER, Step.RECLAIM, US, "switchover to us failed", "has not taken over 12 s",
                    "the record still names me", "clearing the handover", "starting my database again",
                    "every acknowledged write", "new epoch");
            // Even with a takeover mark (it may have promoted, but serves only after recording its leadership).
            Decision marked = decide(EU, Role.DEMOTED, facts().record(record(5, EU, US, KEEPER).withHandoverTo(US).withTakeover(US))
                    .db(downDb()).stoppedLeadingAt(NOW - deadline - 1));
            assertThat(marked.step()).as(marked.explanation()).isEqualTo(Step.RECLAIM);
        }

        @Test
        void anOldLeaderRestartedDuringItsHandoverCountsTheDeadlineFromItsRestartInsteadOfWaitingForever() {
            // The time it stopped leading was in the old process's memory; the new one starts with none. Before, it
            // found its database stopped, was "not eligible", and waited for a target that might never lead.
            Decision restarted = decide(EU, Role.STARTING, handoverInProgressTo(US, downDb()));
            assertDecision(restarted, Role.DEMOTED, Step.NONE, US, "restarted during my own handover to us",
                    "taking leadership back if it has not within 12 s");
            // From then on it is the ordinary after-handover wait (the agent stamps the restart as the handover's time).
            long deadline = FailoverStateMachine.HANDOVER_TAKEOVER_DEADLINE_MS;
            Decision reclaims = decide(EU, Role.DEMOTED, handoverInProgressTo(US, downDb()).stoppedLeadingAt(NOW - deadline - 1));
            assertThat(reclaims.step()).as(reclaims.explanation()).isEqualTo(Step.RECLAIM);
        }

        @Test
        void onceTheHandoverIsClearedTheOldLeaderStartsItsDatabaseAndTakesTheLockTheOrdinaryWay() {
            // A RECLAIM whose database start failed after the handover was cleared: no waiting any more.
            Decision again = decide(EU, Role.DEMOTED, facts().record(record(5, EU, US, KEEPER)).db(downDb()).stoppedLeadingAt(NOW - 500));
            assertDecision(again, Role.FOLLOWER, Step.RECLAIM, "the target", "starting my database again");
            // Started (a primary at the recorded epoch, the recorded leader): it tries the lock, then takes over.
            FactsBuilder started = facts().record(record(5, EU, US, KEEPER)).db(primaryDb(5, List.of(US, KEEPER), streaming(KEEPER)))
                    .keeper(keeperFencedFor(EU, 5, WAL));
            assertDecision(decide(EU, Role.FOLLOWER, started), Role.FOLLOWER, Step.TRY_LOCK, null, "I am the recorded leader");
            ClusterRecord fenced = record(5, EU, US, KEEPER).withTakeover(EU);
            assertDecision(decide(EU, Role.FOLLOWER, started.record(fenced).lock()), Role.LEADER, Step.TAKE_OVER, null,
                    "starting a new term");
            assertThat(machine(EU).newTermSyncSet(fenced)).containsExactly(US, KEEPER);
        }

        @Test
        void aTargetThatRecordedItsLeadershipIsNeverOverruledByTheOldLeader() {
            FactsBuilder f = facts().record(record(6, US, KEEPER, EU)).db(downDb()).stoppedLeadingAt(NOW - 60_000);
            assertDecision(decide(EU, Role.DEMOTED, f), Role.DEMOTED, Step.REJOIN, US, "switchover done");
        }

        @Test
        void whenTheNewLeaderIsGoneBeforeTheOldOneRejoinedItFollowsWithoutRewindAndTakesOverThroughTheKeeper() {
            FactsBuilder f = facts().record(record(6, US, KEEPER, EU)).db(downDb()).stoppedLeadingAt(NOW - 15_000)
                    .rejoin(new RejoinStatus(false, "connection refused", NOW - 100));
            assertDecision(decide(EU, Role.DEMOTED, f), Role.FOLLOWER, Step.FOLLOW_WITHOUT_REWIND, US, "rejoining as its standby failed",
                    "connection refused", "stopped cleanly right after the handover", "without a rewind", "through the WAL keeper");
            // Its database now a standby of us's that us never reached: a candidate like any recorded sync standby.
            FactsBuilder follower = facts().record(record(6, US, KEEPER, EU)).db(standbyDb(5, Lsn.parse("0/4000000")))
                    .keeper(keeperFencedFor(EU, 6, WAL));
            assertDecision(decide(EU, Role.FOLLOWER, follower), Role.FOLLOWER, Step.TRY_LOCK, null, "WAL keeper");
            ClusterRecord taking = record(6, US, KEEPER, EU).withTakeover(EU);
            assertDecision(decide(EU, Role.FOLLOWER, follower.record(taking).lock()), Role.TAKING_OVER, Step.FETCH_FROM_KEEPER,
                    null, "fetching the rest from the keeper");
        }

        @Test
        void aHandoverToAnotherRegionKeepsAStandbyFromTryingTheLock() {
            Decision d = decide(US, Role.FOLLOWER, handoverInProgressTo(EU, standbyDb(5)));
            assertDecision(d, Role.FOLLOWER, Step.NONE, null, "switchover to eu is in progress");
        }
    }
}
