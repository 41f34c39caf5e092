package io.paymentledger.replication.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.replication.coordinator.ClusterRecord;
import io.paymentledger.replication.coordinator.Coordinator.RegionReport;
import io.paymentledger.replication.failover.FailoverStateMachine.Decision;
import io.paymentledger.replication.failover.FailoverStateMachine.Facts;
import io.paymentledger.replication.failover.FailoverStateMachine.Role;
import io.paymentledger.replication.failover.FailoverStateMachine.Step;
import io.paymentledger.replication.failover.FailoverStateMachine.SyncLossPolicy;
import io.paymentledger.replication.postgres.PgProbe;
import io.paymentledger.replication.postgres.PgProbe.Standby;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * The failover decisions as a pure function: every fact is built by hand, time is {@link Facts#nowMs()}.
 * Two regions, {@code eu} and {@code us}; each test names the region deciding and the role it is in.
 */
class FailoverStateMachineTest {

    static final String EU = "eu";
    static final String US = "us";
    static final long NOW = 1_700_000_000_000L;
    static final long FRESH_MS = 15_000;

    // ---------------------------------------------------------------- helpers

    static FailoverStateMachine machine(String me) {
        return machine(me, SyncLossPolicy.BLOCK);
    }

    static FailoverStateMachine machine(String me, SyncLossPolicy policy) {
        return new FailoverStateMachine(me, List.of(EU, US), policy, FRESH_MS);
    }

    /** A primary database at {@code epoch} with these standbys connected. */
    static PgProbe.State primaryDb(long epoch, Standby... standbys) {
        String names = standbys.length == 0 ? "" : "FIRST 1 (\"" + standbys[0].name() + "\")";
        return new PgProbe.State(true, true, epoch, List.of(standbys), names, 0, 0, "");
    }

    /** A database in recovery (a standby) that replicated up to {@code epoch}. */
    static PgProbe.State standbyDb(long epoch) {
        return new PgProbe.State(true, false, epoch, List.of(), "", 0, 0, "");
    }

    static PgProbe.State downDb() {
        return PgProbe.State.down("connection refused");
    }

    /** A standby that streams and has flushed all WAL. */
    static Standby streaming(String name) {
        return new Standby(name, "streaming", "sync", 0, 0.0, true);
    }

    /** A standby that streams but is behind. */
    static Standby lagging(String name, long lagBytes) {
        return new Standby(name, "streaming", "async", lagBytes, 1.5, false);
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

    static FactsBuilder facts() {
        return new FactsBuilder();
    }

    /** Defaults: CP answered, no lock, lease valid, empty record, no reports, db down, writer idle, no switchover. */
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

        Facts build() {
            return new Facts(now, cpError, holdsLock, leaseValid, record, Map.copyOf(reports), db, writeFault, switchoverTo,
                    writerIdle, stoppedLeadingAtMs);
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

    /** eu leads at epoch 5 with us as its synchronous standby. */
    static FactsBuilder healthyLeader() {
        return facts().lock().record(record(5, EU, US)).db(primaryDb(5, streaming(US)));
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
        void ownStaleReportAlsoBlocksBootstrap() {
            FactsBuilder f = facts().report(EU, report(true, true, 7, 60_000)).report(US, standbyReport(7)).db(primaryDb(7));
            assertDecision(decide(EU, Role.STARTING, f), Role.FOLLOWER, Step.NONE, null, "region eu has not reported");
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
        void bootstrapRegionHoldingTheLockTakesOverWithoutPromoting() {
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
        void downDatabaseInAnyRegionBlocksBootstrap() {
            FactsBuilder f = facts().report(EU, primaryReport(5)).report(US, report(false, false, 0, 1_000)).db(primaryDb(5));
            Decision d = decide(EU, Role.STARTING, f);
            assertThat(d.step()).as(d.explanation()).isEqualTo(Step.NONE);
            assertReadable(d.explanation(), "us");

            Decision withLock = decide(EU, Role.STARTING, facts().report(EU, primaryReport(5))
                    .report(US, report(false, false, 0, 1_000)).db(primaryDb(5)).lock());
            assertThat(withLock.step()).as(withLock.explanation()).isEqualTo(Step.STOP_AND_RELEASE);
        }

        @Test
        void equalEpochPrimariesNeverBothTryTheLock() {
            FailoverStateMachine eu = new FailoverStateMachine(EU, List.of(EU, US), SyncLossPolicy.BLOCK, FRESH_MS);
            FailoverStateMachine us = new FailoverStateMachine(US, List.of(US, EU), SyncLossPolicy.BLOCK, FRESH_MS);
            Decision de = eu.decide(Role.STARTING, facts().report(EU, primaryReport(5)).report(US, primaryReport(5))
                    .db(primaryDb(5)).build());
            Decision du = us.decide(Role.STARTING, facts().report(EU, primaryReport(5)).report(US, primaryReport(5))
                    .db(primaryDb(5)).build());
            assertThat(de.step() == Step.TRY_LOCK && du.step() == Step.TRY_LOCK)
                    .as("eu: %s / us: %s", de.explanation(), du.explanation()).isFalse();
        }
    }

    // ---------------------------------------------------------------- a healthy leader

    @Nested
    class Leading {

        @Test
        void renewsWhenEverythingMatches() {
            Decision d = decide(EU, Role.LEADER, healthyLeader());
            assertDecision(d, Role.LEADER, Step.RENEW, null, "no action", "leader with the lock", "epoch 5",
                    "standby us is synchronous");
        }

        @Test
        void addsAStreamingStandbyThatIsNotInTheSyncSet() {
            FactsBuilder f = facts().lock().record(record(5, EU)).db(primaryDb(5, streaming(US)));
            assertDecision(decide(EU, Role.LEADER, f), Role.LEADER, Step.ADD_SYNC, US, "standby us streams",
                    "making it synchronous");
        }

        @Test
        void doesNotAddAStandbyThatIsNotStreaming() {
            Standby catchingUp = new Standby(US, "catchup", "async", 1_000_000, 3.0, false);
            FactsBuilder f = facts().lock().record(record(5, EU)).db(primaryDb(5, catchingUp));
            assertDecision(decide(EU, Role.LEADER, f), Role.LEADER, Step.RENEW, null, "no synchronous standby",
                    "us not streaming", "one region only");
        }

        @Test
        void degradePolicyRemovesTheLostSyncStandby() {
            FactsBuilder f = facts().lock().record(record(5, EU, US)).db(primaryDb(5));
            assertDecision(decide(EU, SyncLossPolicy.DEGRADE, Role.LEADER, f), Role.LEADER, Step.REMOVE_SYNC, US,
                    "synchronous standby us is gone", "DEGRADE", "left the sync set");
        }

        @Test
        void degradePolicyRemovesASyncStandbyThatNoLongerStreams() {
            Standby catchingUp = new Standby(US, "catchup", "potential", 10_000, 2.0, false);
            FactsBuilder f = facts().lock().record(record(5, EU, US)).db(primaryDb(5, catchingUp));
            assertDecision(decide(EU, SyncLossPolicy.DEGRADE, Role.LEADER, f), Role.LEADER, Step.REMOVE_SYNC, US, "sync set");
        }

        @Test
        void blockPolicyKeepsTheLostSyncStandbyAndWritesWait() {
            FactsBuilder f = facts().lock().record(record(5, EU, US)).db(primaryDb(5));
            assertDecision(decide(EU, SyncLossPolicy.BLOCK, Role.LEADER, f), Role.LEADER, Step.RENEW, null,
                    "synchronous standby us is DISCONNECTED", "writes wait", "BLOCK");
        }

        @Test
        void degradePolicyWithAHealthySyncStandbyJustRenews() {
            assertDecision(decide(EU, SyncLossPolicy.DEGRADE, Role.LEADER, healthyLeader()), Role.LEADER, Step.RENEW, null,
                    "standby us is synchronous");
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
            assertThat(d.step()).as(d.explanation()).isIn(Step.STOP_SERVING, Step.STOP_AND_RELEASE);
            assertReadable(d.explanation(), "commit");
        }

        @Test
        void theLock() {
            FactsBuilder f = facts().record(record(5, EU, US)).db(primaryDb(5, streaming(US)));
            assertDecision(decide(EU, Role.LEADER, f), Role.FENCED, Step.STOP_SERVING, null, "no longer hold the leader lock");
        }

        @Test
        void theLockEvenWithAValidLease() {
            FactsBuilder f = facts().record(record(5, EU, US)).db(primaryDb(5, streaming(US)));
            assertThat(f.leaseValid).isTrue();
            assertThat(decide(EU, Role.LEADER, f).next()).isEqualTo(Role.FENCED);
        }

        @Test
        void itsDatabaseThatIsDown() {
            Decision d = decide(EU, Role.LEADER, healthyLeader().db(downDb()));
            assertDecision(d, Role.FENCED, Step.STOP_AND_RELEASE, null, "my database does not answer", "connection refused",
                    "releasing the lock so us can take over");
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
            assertDecision(d, Role.FENCED, Step.STOP_AND_RELEASE, null, "CP record names eu at epoch 6",
                    "database epoch 5");
        }

        @Test
        void theRecordWhenItIsEmpty() {
            Decision d = decide(EU, Role.LEADER, healthyLeader().record(ClusterRecord.EMPTY));
            assertThat(d.next()).isEqualTo(Role.FENCED);
            assertThat(d.step()).isEqualTo(Step.STOP_AND_RELEASE);
        }

        @Test
        void drainingLeaderLosesTheCpGroup() {
            Decision d = decide(EU, Role.DRAINING, healthyLeader().switchoverTo(US).cpError("timeout"));
            assertDecision(d, Role.FENCED, Step.STOP_SERVING, null, "CP group does not answer", "timeout");
        }

        @Test
        void drainingLeaderLosesTheLock() {
            FactsBuilder f = facts().record(record(5, EU, US)).db(primaryDb(5, streaming(US))).switchoverTo(US);
            assertDecision(decide(EU, Role.DRAINING, f), Role.FENCED, Step.STOP_SERVING, null, "leader lock");
        }
    }

    // ---------------------------------------------------------------- followers

    @Nested
    class Following {

        @Test
        void standbyInTheSyncSetTriesTheLock() {
            FactsBuilder f = facts().record(record(5, EU, US)).db(standbyDb(5));
            assertDecision(decide(US, Role.FOLLOWER, f), Role.FOLLOWER, Step.TRY_LOCK, null, "eligible",
                    "recorded synchronous standby", "lock");
        }

        @Test
        void startingStandbyInTheSyncSetBecomesFollowerAndTriesTheLock() {
            FactsBuilder f = facts().record(record(5, EU, US)).db(standbyDb(5));
            assertDecision(decide(US, Role.STARTING, f), Role.FOLLOWER, Step.TRY_LOCK, null, "synchronous standby");
        }

        @Test
        void standbyOutsideTheSyncSetNeverTriesTheLock() {
            FactsBuilder f = facts().record(record(5, EU)).db(standbyDb(5));
            for (Role r : List.of(Role.STARTING, Role.FOLLOWER, Role.FENCED)) {
                Decision d = decide(US, r, f);
                assertThat(d.step()).as("%s: %s", r, d.explanation()).isEqualTo(Step.NONE);
                assertDecision(d, Role.FOLLOWER, Step.NONE, null, "outside the recorded sync set", "may miss acknowledged writes",
                        "never promoted automatically");
            }
        }

        @Test
        void standbyHoldingTheLockOutsideTheSyncSetReleasesIt() {
            FactsBuilder f = facts().lock().record(record(5, EU)).db(standbyDb(5));
            assertDecision(decide(US, Role.FOLLOWER, f), Role.FOLLOWER, Step.STOP_AND_RELEASE, null,
                    "hold the leader lock but may not lead", "sync set", "releasing");
        }

        @Test
        void standbyHoldingTheLockInTheSyncSetPromotesAndLeads() {
            FactsBuilder f = facts().lock().record(record(5, EU, US)).db(standbyDb(5));
            assertDecision(decide(US, Role.FOLLOWER, f), Role.LEADER, Step.TAKE_OVER, null, "hold the leader lock",
                    "synchronous standby", "promoting my database", "new term");
        }

        @Test
        void databaseDownNeverTriesTheLock() {
            FactsBuilder f = facts().record(record(5, EU, US)).db(downDb());
            assertDecision(decide(US, Role.FOLLOWER, f), Role.FOLLOWER, Step.NONE, null, "my database does not answer",
                    "connection refused");
        }

        @Test
        void databaseDownWhileHoldingTheLockReleasesIt() {
            FactsBuilder f = facts().lock().record(record(5, EU, US)).db(downDb());
            assertDecision(decide(US, Role.FENCED, f), Role.FENCED, Step.STOP_AND_RELEASE, null, "does not answer", "releasing");
        }

        @Test
        void waitsWhileTheCpGroupDoesNotAnswer() {
            FactsBuilder f = facts().cpError("no quorum").record(record(5, EU, US)).db(standbyDb(5));
            assertDecision(decide(US, Role.STARTING, f), Role.FOLLOWER, Step.NONE, null, "waiting for the CP group", "no quorum");
            assertDecision(decide(US, Role.FENCED, f), Role.FENCED, Step.NONE, null, "CP group");
            assertDecision(decide(US, Role.DEMOTED, f), Role.DEMOTED, Step.NONE, null, "CP group");
        }

        @Test
        void fencedRecordedLeaderWithItsPrimaryMayRetakeTheLock() {
            FactsBuilder f = facts().record(record(5, EU, US)).db(primaryDb(5, streaming(US)));
            assertDecision(decide(EU, Role.FENCED, f), Role.FENCED, Step.TRY_LOCK, null, "recorded leader", "lock");
        }
    }

    // ---------------------------------------------------------------- former primaries

    @Nested
    class FormerPrimary {

        @Test
        void primaryThatIsNotTheRecordedLeaderIsDemoted() {
            FactsBuilder f = facts().record(record(6, US)).db(primaryDb(5));
            for (Role r : List.of(Role.STARTING, Role.FOLLOWER, Role.FENCED)) {
                Decision d = decide(EU, r, f);
                assertThat(d.step()).as("%s: %s", r, d.explanation()).isEqualTo(Step.NONE);
                assertDecision(d, Role.DEMOTED, Step.NONE, null, "my database is a primary but us is the recorded leader",
                        "former primary");
            }
        }

        @Test
        void demotedFormerPrimaryWaitsForAFailback() {
            FactsBuilder f = facts().record(record(6, US)).db(primaryDb(5));
            assertDecision(decide(EU, Role.DEMOTED, f), Role.DEMOTED, Step.NONE, null, "former primary", "us leads (epoch 6)",
                    "never acknowledged", "rejoin as a standby", "./ledger failback");
        }

        @Test
        void formerPrimaryHoldingTheLockReleasesIt() {
            FactsBuilder f = facts().lock().record(record(6, US)).db(primaryDb(5));
            assertDecision(decide(EU, Role.FENCED, f), Role.FENCED, Step.STOP_AND_RELEASE, null, "may not lead",
                    "former primary", "releasing");
        }

        @Test
        void demotedWhoseDatabaseIsAStandbyAgainFollows() {
            FactsBuilder f = facts().record(record(6, US)).db(standbyDb(6));
            assertDecision(decide(EU, Role.DEMOTED, f), Role.FOLLOWER, Step.NONE, null, "follows again", "standby of us");
        }

        @Test
        void afterFailbackItIsNotEligibleUntilAddedToTheSyncSet() {
            FactsBuilder f = facts().record(record(6, US)).db(standbyDb(6));
            assertDecision(decide(EU, Role.FOLLOWER, f), Role.FOLLOWER, Step.NONE, null, "sync set");
            assertThat(decide(EU, Role.FOLLOWER, facts().record(record(6, US, EU)).db(standbyDb(6))).step())
                    .isEqualTo(Step.TRY_LOCK);
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
            Decision d = decide(EU, Role.DRAINING, healthyLeader().switchoverTo(US).writerBusy());
            assertDecision(d, Role.DRAINING, Step.NONE, US, "draining for switchover to us", "in-flight batch");
        }

        @Test
        void drainingWaitsForALaggingTarget() {
            FactsBuilder f = healthyLeader().switchoverTo(US).db(primaryDb(5, lagging(US, 4096)));
            assertDecision(decide(EU, Role.DRAINING, f), Role.DRAINING, Step.NONE, US, "waiting for its database",
                    "4096 bytes behind");
        }

        @Test
        void drainingWaitsForADisconnectedTarget() {
            FactsBuilder f = healthyLeader().switchoverTo(US).db(primaryDb(5));
            assertDecision(decide(EU, Role.DRAINING, f), Role.DRAINING, Step.NONE, US, "not connected");
        }

        @Test
        void caughtUpTargetOutsideTheSyncSetIsMadeSynchronousFirst() {
            FactsBuilder f = healthyLeader().switchoverTo(US).record(record(5, EU));
            assertDecision(decide(EU, Role.DRAINING, f), Role.DRAINING, Step.ADD_SYNC, US, "recording it as synchronous",
                    "may be promoted");
        }

        @Test
        void caughtUpSynchronousTargetGetsTheHandover() {
            Decision d = decide(EU, Role.DRAINING, healthyLeader().switchoverTo(US));
            assertDecision(d, Role.DEMOTED, Step.HAND_OVER, US, "handing over to us", "all our WAL", "releasing the lock");
        }

        @Test
        void drainingWithoutAnExplicitTargetHandsOverToTheOtherRegion() {
            Decision d = decide(EU, Role.DRAINING, healthyLeader());
            assertDecision(d, Role.DEMOTED, Step.HAND_OVER, US, "handing over to us");
        }

        FactsBuilder handoverInProgressTo(String target, PgProbe.State db) {
            return facts().record(record(5, EU, US).withHandoverTo(target)).db(db);
        }

        @Test
        void duringTheHandoverTheOldLeaderNeverTriesTheLock() {
            Decision demoted = decide(EU, Role.DEMOTED, handoverInProgressTo(US, primaryDb(5, streaming(US)))
                    .stoppedLeadingAt(NOW - 500));
            assertDecision(demoted, Role.DEMOTED, Step.NONE, null, "handed over to us", "waiting for it to lead");

            // Restarted agent (role STARTING, no memory of the handover): still not a candidate.
            for (Role r : List.of(Role.STARTING, Role.FOLLOWER, Role.FENCED)) {
                Decision d = decide(EU, r, handoverInProgressTo(US, primaryDb(5, streaming(US))));
                assertThat(d.step()).as("%s: %s", r, d.explanation()).isEqualTo(Step.NONE);
                assertReadable(d.explanation(), "switchover to us is in progress");
            }
        }

        @Test
        void duringTheHandoverTheOldLeaderHoldingTheLockReleasesIt() {
            Decision d = decide(EU, Role.FENCED, handoverInProgressTo(US, primaryDb(5, streaming(US))).lock());
            assertDecision(d, Role.FENCED, Step.STOP_AND_RELEASE, null, "switchover to us is in progress", "releasing");
        }

        @Test
        void duringTheHandoverTheTargetTriesTheLockAndTakesOver() {
            Decision tries = decide(US, Role.FOLLOWER, handoverInProgressTo(US, standbyDb(5)));
            assertDecision(tries, Role.FOLLOWER, Step.TRY_LOCK, null, "planned handover to me", "lock");

            Decision takes = decide(US, Role.FOLLOWER, handoverInProgressTo(US, standbyDb(5)).lock());
            assertDecision(takes, Role.LEADER, Step.TAKE_OVER, null, "planned handover to me", "promoting my database");
        }

        @Test
        void aHandoverToAnotherRegionKeepsAStandbyFromTryingTheLock() {
            // A handover recorded to eu (e.g. an operator's choice) keeps us, a sync standby, from racing for the lock.
            Decision d = decide(US, Role.FOLLOWER, handoverInProgressTo(EU, standbyDb(5)));
            assertDecision(d, Role.FOLLOWER, Step.NONE, null, "switchover to eu is in progress");
        }

        @Test
        void afterTheHandoverTheOldLeaderRejoinsTheNewOne() {
            FactsBuilder f = facts().record(record(6, US, EU)).db(primaryDb(5)).stoppedLeadingAt(NOW - 2_000);
            assertDecision(decide(EU, Role.DEMOTED, f), Role.DEMOTED, Step.REJOIN, US, "switchover done", "us leads (epoch 6)",
                    "rejoining as its standby");
        }

        @Test
        void afterTheHandoverTheOldLeaderWithItsDatabaseStoppedRejoinsTheNewOne() {
            // HAND_OVER stops the old primary; the rejoin does not wait for it to answer.
            FactsBuilder f = facts().record(record(6, US, EU)).db(downDb()).stoppedLeadingAt(NOW - 2_000);
            assertDecision(decide(EU, Role.DEMOTED, f), Role.DEMOTED, Step.REJOIN, US, "switchover done", "rejoining");
        }

        @Test
        void whileTheTargetHasNotTakenOverTheStoppedOldLeaderWaits() {
            FactsBuilder f = handoverInProgressTo(US, downDb()).stoppedLeadingAt(NOW - 500);
            assertDecision(decide(EU, Role.DEMOTED, f), Role.DEMOTED, Step.NONE, null, "handed over to us", "waiting for it to lead");
        }

        @Test
        void afterRejoiningTheOldLeaderFollowsAndIsEligibleAsSyncStandby() {
            // The agent resets stoppedLeadingAtMs to 0 once REJOIN succeeded.
            FactsBuilder f = facts().record(record(6, US, EU)).db(standbyDb(6));
            assertDecision(decide(EU, Role.DEMOTED, f), Role.FOLLOWER, Step.NONE, null, "follows again", "standby of us");
            assertThat(decide(EU, Role.FOLLOWER, facts().record(record(6, US, EU)).db(standbyDb(6))).step())
                    .isEqualTo(Step.TRY_LOCK);
        }

        @Test
        void aHandoverTargetWhoseTakeoverFailedAfterPromotionMayFinishIt() {
            // Handover to eu recorded; eu promoted its database, then the takeover failed before recording the term.
            FactsBuilder f = facts().record(record(6, US, EU).withHandoverTo(EU)).db(primaryDb(6));
            Decision d = decide(EU, Role.DEMOTED, f);
            assertThat(d.step()).as(d.explanation()).isEqualTo(Step.TRY_LOCK);
            assertThat(decide(EU, Role.FOLLOWER, f.lock()).step()).isEqualTo(Step.TAKE_OVER);
        }

        @Test
        void aSyncStandbyWhoseTakeoverFailedAfterPromotionMayFinishIt() {
            FactsBuilder f = facts().record(record(6, US, EU)).db(primaryDb(6));
            Decision d = decide(EU, Role.DEMOTED, f);
            assertThat(d.step()).as(d.explanation()).isEqualTo(Step.TRY_LOCK);
        }
    }
}
