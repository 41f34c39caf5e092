package io.paymentledger.replication.failover;

import io.paymentledger.replication.coordinator.ClusterRecord;
import io.paymentledger.replication.coordinator.Coordinator.RegionReport;
import io.paymentledger.replication.postgres.Lsn;
import io.paymentledger.replication.postgres.PgProbe;
import io.paymentledger.replication.walkeeper.WalKeeperReport;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The failover decisions of one region's agent, as a pure function of what it observed: no I/O, no clock of
 * its own (time comes in {@link Facts#nowMs()}). The agent observes, asks {@link #decide}, performs the one
 * step decided, and logs the explanation — a sentence an operator understands.
 *
 * <p>Safety rules it enforces (docs/decisions/0002-failover.md, 0004-quorum-commit.md):
 * <ul>
 *   <li>Only the holder of the CP leader lock leads, and only within its lease.</li>
 *   <li>Quorum commit: the leader's commits wait for any one site of the record's commit set (the other region,
 *       the WAL keeper); PostgreSQL's setting is derived from the record and re-converged every tick. A site joins
 *       the record before PostgreSQL waits for it, and leaves the record's sync set only after the rest of the
 *       commit set provably holds every acknowledged write.</li>
 *   <li>A region is promoted only once it holds every write the recorded sync set holds: when the WAL keeper is
 *       in it, the keeper is fenced first (it stops following the old primary, so nothing more can be acknowledged
 *       there) and the region fetches whatever WAL it lacks from the keeper before promotion — or waits and
 *       says why.</li>
 *   <li>A primary that is not the recorded leader is a former primary: it never leads, and rejoins as a standby by
 *       itself (pg_rewind discards only writes that were never acknowledged).</li>
 *   <li>A leader process is deposed before its session expires only on proof of its death (its address refuses
 *       connections); a paused or cut-off leader is never deposed faster than before.</li>
 *   <li>When the CP record is empty (a fresh or fully restarted CP group), only the region whose database is
 *       a primary with the highest epoch, as reported by every region, may bootstrap it.</li>
 * </ul>
 */
public final class FailoverStateMachine {

    /** A keeper report older than this is not trusted to describe the keeper (it reports every 0.5 s). */
    public static final long KEEPER_REPORT_FRESH_MS = 3_000;
    /** A failed rejoin of a former primary is retried after this long. */
    public static final long REJOIN_RETRY_MS = 10_000;
    /** A switchover whose target has not caught up within this long is abandoned and the leader serves again. */
    public static final long SWITCHOVER_DRAIN_DEADLINE_MS = 10_000;
    /**
     * A switchover target whose node has not reported in the CP group for longer than this is not handed anything:
     * its agent (which would take the lock) is frozen, cut off or dead. Agents report every 2 s (plus one tick), so
     * this tolerates one late report on a loaded machine and still abandons before handing over to a silent node.
     */
    public static final long SWITCHOVER_TARGET_REPORT_FRESH_MS = 5_000;
    /**
     * After handing over, the old leader waits this long (from {@code stoppedLeadingAtMs}) for the target to record
     * its leadership, then takes leadership back (or, if the target did record it, follows it so it can take over
     * from it like any standby). A live target leads within ~1-2 s (a 0.2 s tick, the lock, a promotion, one CAS);
     * 12 s leaves a slow promotion on a loaded machine room, is longer than the drain deadline the target already
     * had, and is several CP session TTLs (3 s), so a target that took the lock and froze has lost it by then.
     * Reclaiming early is safe (the record's compare-and-set fences the target's late takeover); it only costs the
     * switchover.
     */
    public static final long HANDOVER_TAKEOVER_DEADLINE_MS = 12_000;
    /**
     * A takeover that has not promoted within this long since it took the leader lock gives the lock back, says what
     * it waited for, and may try again after a pause (FailoverAgent.RETAKE_AFTER_FAILURE_MS): the WAL keeper that
     * never reports where its WAL ends, WAL that cannot be fetched from it (the keeper's service unreachable, a full
     * disk) — before, the candidate held the lock in TAKING_OVER until an operator stepped in (issue #18). What it
     * fetched stays replayed, so a standby far behind still gets there over several attempts.
     */
    public static final long TAKEOVER_DEADLINE_MS = 20_000;

    /** The agent's states. */
    public enum Role {
        /** Just started: nothing observed yet. */
        STARTING,
        /** Not leading; its database follows the leader's (or waits to). */
        FOLLOWER,
        /** Holds the lock and is making its database complete and primary (fencing, fetching, promoting). */
        TAKING_OVER,
        /** Holds the lock and a valid lease: serves writes and linearizable reads. */
        LEADER,
        /** Was leading and stopped: lost the lock, the quorum, its lease or its database. */
        FENCED,
        /** Planned switchover: stopped taking writes, waiting to hand over. */
        DRAINING,
        /** Handed over (or found itself a stale former primary): its database must rejoin as a standby. */
        DEMOTED
    }

    /** When every other site of the commit set is lost while the primary lives. */
    public enum SyncLossPolicy {
        /** Writes wait until a site is back (acknowledged = in two sites, always). The default. */
        BLOCK,
        /** After recording in the CP group that nobody else holds the writes, writes go on with one copy. */
        DEGRADE
    }

    /** What to do in this tick. */
    public enum Step {
        NONE,
        /** Try to take the leader lock. */
        TRY_LOCK,
        /** The recorded leader's process is provably gone: close its CP sessions, then try the lock. */
        DEPOSE,
        /** Holding the lock: record that I am taking over, which fences the WAL keeper. */
        FENCE_KEEPER,
        /** Holding the lock: stop streaming from the old primary and fetch the missing WAL from the keeper. */
        FETCH_FROM_KEEPER,
        /** Holding the lock with a complete database: promote it if needed, start a new term, serve. */
        TAKE_OVER,
        /** Leading: extend the lease (the CP check this tick succeeded). */
        RENEW,
        /** Leading: extend the lease and make PostgreSQL wait for the record's commit set. */
        CONVERGE_SYNC,
        /** Leading: extend the lease and change the record's sets to {@link Decision#record()}. */
        RECORD_SYNC,
        /** Stop serving; keep the lock (switchover drain). */
        STOP_SERVING,
        /** Stop serving and release the lock. */
        STOP_AND_RELEASE,
        /** A switchover was abandoned: serve again in the same term. */
        RESUME,
        /** Switchover: record the handover to {@link Decision#region()} and release the lock. */
        HAND_OVER,
        /** Make the own database a standby of {@link Decision#region()}'s (in the background, bounded). */
        REJOIN,
        /**
         * As a standby that may take over: set synchronous_standby_names to {@link #newTermCommitSet} now, so that
         * PostgreSQL holds commits for it from the moment of a promotion (docs/decisions/0004, promotion rule 6).
         */
        PRESET_SYNC,
        /**
         * A handover whose target never recorded its leadership: clear the handover from the record (compare-and-set,
         * which fences the target's late takeover) and start the own database again (stopped cleanly right after the
         * handover, it holds every acknowledged write); the lock is then taken the ordinary way, under a new epoch.
         */
        RECLAIM,
        /**
         * After a handover the target recorded, the rejoin failed (the new leader's database does not answer): start
         * the own database (stopped cleanly right after the handover, so its WAL is a prefix of the new leader's) as
         * {@link Decision#region()}'s standby without a rewind, so it can take over from it through the WAL keeper.
         */
        FOLLOW_WITHOUT_REWIND,
        /** The own standby was detached for a takeover that did not happen: stream from the leader again. */
        REATTACH
    }

    /**
     * The decision: next role, the step to perform, and why.
     *
     * @param region  the region the step is about (switchover target, rejoin source, ...)
     * @param record  for {@link Step#RECORD_SYNC}: the record to write
     */
    public record Decision(Role next, Step step, String region, String explanation, ClusterRecord record) {
        public Decision(Role next, Step step, String region, String explanation) {
            this(next, step, region, explanation, null);
        }
    }

    /**
     * How the background rejoin of this region's database is doing.
     *
     * @param running         a rejoin runs now
     * @param lastFailure     why the last one failed ("" when it did not)
     * @param lastFailureAtMs when it failed
     */
    public record RejoinStatus(boolean running, String lastFailure, long lastFailureAtMs) {
        public static final RejoinStatus IDLE = new RejoinStatus(false, "", 0);
    }

    /**
     * What the agent saw this tick.
     *
     * @param cpError        null when the CP calls of this tick succeeded, else what failed
     * @param holdsLock      this member holds the leader lock (meaningless when cpError != null)
     * @param leaseValid     the lease from the last renewal has not run out
     * @param writeFault     the writer reported a failed commit since the last tick (reason), or null
     * @param switchoverTo   an operator asked this leader to hand over to that region, or null
     * @param writerIdle     no batch is being written
     * @param stoppedLeadingAtMs  when this node stopped leading for a handover (0 = not handing over)
     * @param keeper         the WAL keeper's last report
     * @param leaderProcessGone   the recorded leader's process provably died (its address refuses connections)
     * @param drainingSinceMs     when the current switchover drain began (0 = not draining)
     * @param syncConvergedAtLsn  as leader: the flushed WAL position when PostgreSQL's synchronous_standby_names was
     *                            first seen with its current value (every commit acknowledged before it could
     *                            have been acknowledged by a site that has left since)
     * @param rejoin         the background rejoin's state
     * @param reports        the regions' reports in the CP group (read while the record is empty and while draining)
     * @param takingOverSinceMs   when this node took the leader lock for the takeover under way (0 = none)
     */
    public record Facts(long nowMs, String cpError, boolean holdsLock, boolean leaseValid, ClusterRecord record,
            Map<String, RegionReport> reports, PgProbe.State db, String writeFault, String switchoverTo, boolean writerIdle,
            long stoppedLeadingAtMs, WalKeeperReport keeper, boolean leaderProcessGone, long drainingSinceMs,
            Lsn syncConvergedAtLsn, RejoinStatus rejoin, long takingOverSinceMs) {

        /** The same facts after the lock was taken this tick. */
        public Facts withLock() {
            return new Facts(nowMs, null, true, false, record, reports, db, writeFault, switchoverTo, writerIdle,
                    stoppedLeadingAtMs, keeper, leaderProcessGone, drainingSinceMs, syncConvergedAtLsn, rejoin, takingOverSinceMs);
        }
    }

    private final String me;
    private final List<String> regions;
    private final String keeper;
    private final SyncLossPolicy policy;
    private final long reportFreshMs;

    /**
     * @param me             this agent's region
     * @param regions        every region (this one included)
     * @param keeper         the WAL keeper's name (its application_name), or "" when the deployment has none
     * @param policy         what to do when every other site of the commit set is lost
     * @param reportFreshMs  how recent a region report must be to count at bootstrap
     */
    public FailoverStateMachine(String me, List<String> regions, String keeper, SyncLossPolicy policy, long reportFreshMs) {
        this.me = me;
        this.regions = List.copyOf(regions);
        this.keeper = keeper;
        this.policy = policy;
        this.reportFreshMs = reportFreshMs;
    }

    public String region() {
        return me;
    }

    String other() {
        return regions.stream().filter(r -> !r.equals(me)).findFirst().orElseThrow();
    }

    /** The sites other than the leader that can hold its WAL: the other region, and the WAL keeper if any. */
    List<String> otherSites() {
        List<String> sites = new ArrayList<>(List.of(other()));
        if (!keeper.isEmpty()) {
            sites.add(keeper);
        }
        return sites;
    }

    public Decision decide(Role current, Facts f) {
        if (f.cpError() != null) {
            return withoutCp(current, f);
        }
        if (f.holdsLock()) {
            return switch (current) {
                case LEADER -> leading(f);
                case DRAINING -> draining(f);
                default -> takeOver(current, f);
            };
        }
        if (current == Role.LEADER || current == Role.DRAINING) {
            return new Decision(Role.FENCED, Step.STOP_SERVING, null,
                    "stopped serving: I no longer hold the leader lock (my CP session expired or was lost)");
        }
        return notHoldingTheLock(current, f);
    }

    private Decision withoutCp(Role current, Facts f) {
        if ((current == Role.LEADER || current == Role.DRAINING)
                && (f.writeFault() != null || !f.db().connected() || (f.db().up() && !f.db().primary()))) {
            // Without the CP group the lock cannot be released, but serving must stop now.
            return new Decision(Role.FENCED, Step.STOP_SERVING, null, "stopped serving: "
                    + (f.writeFault() != null ? "a commit failed and its outcome is unknown (" + f.writeFault() + ")"
                    : "my database is down or not a primary") + ", and the CP group does not answer (" + f.cpError() + ")");
        }
        if (current == Role.LEADER && f.leaseValid()) {
            // The lease is exactly the window in which nobody else can have taken over: ride out a short
            // CP hiccup (e.g. a Raft election after the witness died) without stopping.
            return new Decision(Role.LEADER, Step.NONE, null, "the CP group does not answer (" + f.cpError()
                    + "); serving on within my lease, which ends soon unless the CP group answers again");
        }
        if (current == Role.LEADER || current == Role.DRAINING) {
            return new Decision(Role.FENCED, Step.STOP_SERVING, null,
                    "stopped serving: the CP group does not answer (" + f.cpError() + "); writes stop until it does (CP)");
        }
        Role next = current == Role.STARTING || current == Role.TAKING_OVER ? Role.FOLLOWER : current;
        return new Decision(next, Step.NONE, null, "waiting for the CP group: " + f.cpError());
    }

    // ---------------------------------------------------------------- leading

    private Decision leading(Facts f) {
        PgProbe.State db = f.db();
        ClusterRecord rec = f.record();
        if (!db.connected()) {
            return new Decision(Role.FENCED, Step.STOP_AND_RELEASE, null,
                    "stopped leading: my database does not answer (" + db.error() + "); releasing the lock so " + other() + " can take over");
        }
        if (!db.up()) {
            // Connected, but this observation failed (a statement timeout, a lock): its state is unknown, which is
            // not "down" and certainly not "epoch 0". Serve on within the lease without renewing it; commits check
            // the database themselves, and a failed commit stops the leader.
            return new Decision(Role.LEADER, Step.NONE, null, "could not read my database's state this tick (" + db.error()
                    + "): not renewing my lease until I can");
        }
        if (!db.primary()) {
            return new Decision(Role.FENCED, Step.STOP_AND_RELEASE, null, "stopped leading: my database is in recovery, not a primary");
        }
        if (f.writeFault() != null) {
            return new Decision(Role.FENCED, Step.STOP_AND_RELEASE, null,
                    "stopped leading: a commit failed and its outcome is unknown (" + f.writeFault() + "); releasing the lock");
        }
        if (!rec.leader().equals(me) || db.epoch() != rec.epoch()) {
            return new Decision(Role.FENCED, Step.STOP_AND_RELEASE, null, "stopped leading: the CP record names "
                    + rec.leader() + " at epoch " + rec.epoch() + " but I am " + me + " with database epoch " + db.epoch());
        }
        if (f.switchoverTo() != null) {
            return new Decision(Role.DRAINING, Step.STOP_SERVING, f.switchoverTo(),
                    "switchover to " + f.switchoverTo() + " requested: draining (no new writes; in-flight batch finishes)");
        }
        Decision sync = maintainQuorum(f);
        if (sync != null) {
            return sync;
        }
        return new Decision(Role.LEADER, Step.RENEW, null,
                "no action: I am " + me + ", the leader with the lock (epoch " + rec.epoch() + "); " + durability(f));
    }

    /** The one change to the commit quorum this tick needs, or null. */
    private Decision maintainQuorum(Facts f) {
        PgProbe.State db = f.db();
        ClusterRecord rec = f.record();
        String lead = "I am " + me + ", the leader (epoch " + rec.epoch() + "); ";
        for (String site : otherSites()) {
            if (db.streams(site) && !rec.inCommitSet(site)) {
                return new Decision(Role.LEADER, Step.RECORD_SYNC, site, lead + site + " streams: adding it to the commit quorum"
                        + " (recorded first, then PostgreSQL waits for it too)", rec.joining(site));
            }
        }
        for (String site : rec.commitSet()) {
            if (db.streams(site)) {
                continue;
            }
            List<String> rest = new ArrayList<>(rec.commitSet());
            rest.remove(site);
            if (!rest.isEmpty() && rest.stream().allMatch(db::streams)) {
                return new Decision(Role.LEADER, Step.RECORD_SYNC, site, lead + site + " is gone: commits are acknowledged by "
                        + String.join(" and ", rest) + " from now on (" + site + " stays in the recorded sync set until "
                        + String.join(" and ", rest) + " provably hold every acknowledged write)", rec.leavingCommitSet(site));
            }
            if (rest.isEmpty() && policy == SyncLossPolicy.DEGRADE) {
                return new Decision(Role.LEADER, Step.RECORD_SYNC, site, lead + site + " is gone and no other site streams;"
                        + " policy DEGRADE: recording that nobody else holds our writes, then writing alone",
                        rec.withSyncStandbys(List.of()));
            }
        }
        String wanted = PgProbe.syncNames(rec.commitSet());
        if (!wanted.equals(db.synchronousStandbyNames())) {
            return new Decision(Role.LEADER, Step.CONVERGE_SYNC, null, lead + "PostgreSQL waits for '"
                    + db.synchronousStandbyNames() + "' but the record says '" + wanted + "': setting it (re-checked every tick)");
        }
        if (!rec.syncStandbys().equals(rec.commitSet()) && !rec.commitSet().isEmpty() && !f.syncConvergedAtLsn().isNone()
                && rec.commitSet().stream().allMatch(s -> db.streams(s) && db.standby(s).flushLsn().atLeast(f.syncConvergedAtLsn()))) {
            List<String> leaving = new ArrayList<>(rec.syncStandbys());
            leaving.removeAll(rec.commitSet());
            return new Decision(Role.LEADER, Step.RECORD_SYNC, null, lead + String.join(" and ", rec.commitSet())
                    + " now hold every acknowledged write (flushed past " + f.syncConvergedAtLsn() + "): "
                    + String.join(", ", leaving) + " leaves the recorded sync set", rec.withSyncStandbys(rec.commitSet()));
        }
        return null;
    }

    /** A sentence: where acknowledged writes are right now. */
    private String durability(Facts f) {
        PgProbe.State db = f.db();
        ClusterRecord rec = f.record();
        if (rec.commitSet().isEmpty()) {
            return "no other site is in the commit quorum: writes are in one site only (policy " + policy + ")";
        }
        List<String> streaming = rec.commitSet().stream().filter(db::streams).toList();
        List<String> gone = rec.commitSet().stream().filter(s -> !db.streams(s)).toList();
        if (streaming.isEmpty()) {
            return "none of " + rec.commitSet() + " streams: writes wait for one of them (policy BLOCK)";
        }
        String s = "commits wait for any of " + rec.commitSet() + " (" + String.join(", ", streaming) + " streaming)";
        if (!gone.isEmpty()) {
            s += "; " + String.join(", ", gone) + " DISCONNECTED";
        }
        return s + ": every acknowledged write is in at least two sites";
    }

    /**
     * How many sites hold every acknowledged write right now, counting the leader's: 1, plus every site that streams
     * and has flushed at least {@code ackedBefore} — the leader's own flushed WAL one observation (~0.2 s) ago, which
     * every commit acknowledged until then is at or before (WAL is one ordered stream: a site that has flushed up to a
     * position has everything before it). Writes acknowledged in the last observation interval are on at least one
     * other site by construction (the commit quorum) but are not counted per site. One rule, used by the status, the
     * metrics and the drills. 0 when this database is not a primary.
     */
    public static int syncCopies(PgProbe.State db, Lsn ackedBefore) {
        if (!db.up() || !db.primary()) {
            return 0;
        }
        return 1 + (int) db.standbys().stream()
                .filter(s -> s.streaming() && !ackedBefore.isNone() && s.flushLsn().atLeast(ackedBefore)).count();
    }

    private Decision draining(Facts f) {
        String target = f.switchoverTo();
        if (target == null) {
            target = other();
        }
        if (!f.db().up() || !f.db().primary() || f.writeFault() != null) {
            return new Decision(Role.FENCED, Step.STOP_AND_RELEASE, null, "switchover to " + target + " abandoned: "
                    + (f.writeFault() != null ? "a commit failed (" + f.writeFault() + ")" : "my database is down or not a primary")
                    + "; releasing the lock so a complete standby can take over");
        }
        // A target whose node does not report would not take over: no handover to it. It may only be slow (a loaded
        // host, a late tick): the drain waits for its report as for its WAL, within the same deadline, and is
        // abandoned then (serving again, nothing handed over).
        String silent = silentTarget(f, target);
        String waiting;
        PgProbe.Standby s = f.db().standby(target);
        if (!f.writerIdle()) {
            waiting = "waiting for the in-flight batch";
        } else if (s == null || !s.caughtUp()) {
            waiting = "waiting for its database to have all our WAL (" + (s == null ? "not connected" : s.lagBytes() + " bytes behind") + ")";
        } else if (silent != null) {
            waiting = "not handing over: " + silent + ", so it would not take over";
        } else {
            return new Decision(Role.DEMOTED, Step.HAND_OVER, target,
                    "handing over to " + target + ": it has all our WAL; recording the handover and releasing the lock");
        }
        long drainedMs = f.drainingSinceMs() > 0 ? f.nowMs() - f.drainingSinceMs() : 0;
        if (drainedMs > SWITCHOVER_DRAIN_DEADLINE_MS) {
            return new Decision(Role.LEADER, Step.RESUME, target, "switchover to " + target + " abandoned after "
                    + drainedMs / 1000 + " s (" + waiting + "): serving again as " + me + " (epoch " + f.record().epoch() + ")");
        }
        return new Decision(Role.DRAINING, Step.NONE, target, "draining for switchover to " + target + ": " + waiting);
    }

    /** Null when the switchover target's node reported recently in the CP group, else what it did not do. */
    private static String silentTarget(Facts f, String target) {
        RegionReport rep = f.reports().get(target);
        if (rep == null) {
            return target + "'s node has never reported in the CP group";
        }
        long ageMs = f.nowMs() - rep.reportedAtMs();
        return ageMs <= SWITCHOVER_TARGET_REPORT_FRESH_MS ? null : target + "'s node has not reported in the CP group for "
                + ageMs / 1000 + " s (limit " + SWITCHOVER_TARGET_REPORT_FRESH_MS / 1000 + " s; it is frozen, cut off or dead)";
    }

    // ---------------------------------------------------------------- taking over

    private Decision takeOver(Role current, Facts f) {
        Decision d = takeOverStep(current, f);
        long tookMs = f.nowMs() - f.takingOverSinceMs();
        if (d.next() == Role.TAKING_OVER && f.takingOverSinceMs() > 0 && tookMs > TAKEOVER_DEADLINE_MS) {
            return new Decision(Role.FOLLOWER, Step.STOP_AND_RELEASE, null, "takeover abandoned after " + tookMs / 1000
                    + " s (limit " + TAKEOVER_DEADLINE_MS / 1000 + " s), still " + d.explanation().replaceFirst("^taking over: ", "")
                    + ": releasing the leader lock; trying again shortly (what was fetched stays replayed)");
        }
        return d;
    }

    private Decision takeOverStep(Role current, Facts f) {
        String why = whyNotEligible(f);
        if (why != null) {
            return new Decision(current == Role.STARTING || current == Role.TAKING_OVER ? Role.FOLLOWER : current,
                    Step.STOP_AND_RELEASE, null, "I hold the leader lock but may not lead (" + why + "): releasing it");
        }
        ClusterRecord rec = f.record();
        PgProbe.State db = f.db();
        boolean handover = rec.handoverTo().equals(me);
        if (!handover && !rec.isEmpty() && !rec.takeover().equals(me)) {
            return new Decision(Role.TAKING_OVER, Step.FENCE_KEEPER, null, "I hold the leader lock: recording that " + me
                    + " takes over, so the WAL keeper stops following " + rec.leader() + " (nothing more can be acknowledged there)");
        }
        if (!handover && needsKeeper(f)) {
            WalKeeperReport k = f.keeper();
            if (!k.fencedFor(me, rec.epoch())) {
                return new Decision(Role.TAKING_OVER, Step.NONE, null, "taking over: waiting for the WAL keeper to stop following "
                        + rec.leader() + " and report where its WAL ends (it may hold acknowledged writes my database lacks)");
            }
            if (!db.walLsn().atLeast(k.endLsn())) {
                if (db.primary()) {
                    return new Decision(Role.FOLLOWER, Step.STOP_AND_RELEASE, null, "my database (a primary) ends at "
                            + db.walLsn() + " but the WAL keeper holds WAL up to " + k.endLsn() + ": it lacks acknowledged writes,"
                            + " so it must not lead; restore it with the keeper's WAL (runbooks/restore.md)");
                }
                String have = "my database has WAL up to " + db.walLsn() + ", the WAL keeper up to " + k.endLsn() + " ("
                        + k.endLsn().bytesAhead(db.walLsn()) + " bytes more)";
                if (!fetching(db)) {
                    return new Decision(Role.TAKING_OVER, Step.FETCH_FROM_KEEPER, null,
                            "taking over: " + have + ": detaching from " + rec.leader() + " and fetching the rest from the keeper");
                }
                return new Decision(Role.TAKING_OVER, Step.NONE, null, "taking over: fetching WAL from the keeper before"
                        + " promotion: " + have);
            }
        }
        boolean promote = !db.primary();
        return new Decision(Role.LEADER, Step.TAKE_OVER, null, "I am " + me + " and hold the leader lock ("
                + eligibility(f) + "): " + (promote ? "promoting my database, " : "") + "starting a new term; "
                + newTermCommits(rec));
    }

    /** Must this takeover consult the WAL keeper (it may hold acknowledged writes this database lacks)? */
    private boolean needsKeeper(Facts f) {
        ClusterRecord rec = f.record();
        if (keeper.isEmpty() || !rec.isSync(keeper)) {
            return false;
        }
        // The recorded leader's own primary wrote everything of its term itself; the keeper is consulted only as
        // a safety net when it answers (a database restored without the keeper's WAL would lack writes).
        boolean ownPrimary = f.db().primary() && rec.leader().equals(me);
        return !ownPrimary || f.keeper().freshAt(f.nowMs(), KEEPER_REPORT_FRESH_MS);
    }

    private static boolean fetching(PgProbe.State db) {
        return db.primaryConninfo().isEmpty() && !db.restoreCommand().isEmpty();
    }

    /** The sets of a new term: who must confirm its commits from the first one (docs/decisions/0004). */
    public List<String> newTermSyncSet(ClusterRecord rec) {
        if (rec.leader().equals(me) && !rec.isEmpty()) {
            return rec.syncStandbys(); // the same leader again (its node restarted): nothing moved
        }
        List<String> sync = new ArrayList<>();
        if (!keeper.isEmpty()) {
            sync.add(keeper);
        }
        if (rec.handoverTo().equals(me)) {
            // The old leader rejoins within seconds (pg_rewind + start); meanwhile the keeper confirms.
            sync.add(rec.leader());
        }
        if (sync.isEmpty() && !rec.isEmpty() && policy == SyncLossPolicy.BLOCK) {
            // No keeper: the other region (the old leader, once it rejoined as a standby) is the only second site.
            // BLOCK means acknowledged = in two sites in this term too: its commits wait for it. Only DEGRADE starts
            // a term alone, recorded as such (an empty sync set: nobody is promoted automatically from it).
            sync.add(other());
        }
        return sync;
    }

    /** The sentence for a new term's commit set. */
    private String newTermCommits(ClusterRecord rec) {
        List<String> commit = newTermCommitSet(rec);
        return commit.isEmpty() ? "its commits wait for nobody else (policy " + policy + "): writes are in one site only"
                : "its commits wait for " + (commit.size() == 1 ? commit.get(0) : "any of " + commit) + " (policy " + policy + ")";
    }

    public List<String> newTermCommitSet(ClusterRecord rec) {
        return rec.leader().equals(me) && !rec.isEmpty() ? rec.commitSet() : newTermSyncSet(rec);
    }

    // ---------------------------------------------------------------- not holding the lock

    private Decision notHoldingTheLock(Role current, Facts f) {
        ClusterRecord rec = f.record();
        PgProbe.State db = f.db();
        if (f.rejoin().running()) {
            return new Decision(Role.DEMOTED, Step.NONE, null, "rejoining as a standby of " + rec.leader()
                    + " (pg_rewind, or a fresh clone when rewinding is impossible; in the background)");
        }
        if (current == Role.DEMOTED && f.stoppedLeadingAtMs() > 0) {
            return afterHandover(f);
        }
        if (current == Role.STARTING && !rec.isEmpty() && rec.leader().equals(me) && !rec.handoverTo().isEmpty()) {
            // This node restarted during its own handover (the time it stopped leading was in the old process's
            // memory): count the handover's deadline from now, as if it had just handed over. Before, a node restarted
            // here waited for a target that might never lead.
            return new Decision(Role.DEMOTED, Step.NONE, rec.handoverTo(), "restarted during my own handover to "
                    + rec.handoverTo() + ": waiting for it to lead before rejoining as its standby (taking leadership back"
                    + " if it has not within " + HANDOVER_TAKEOVER_DEADLINE_MS / 1000 + " s)");
        }
        if (db.up() && db.primary() && !rec.isEmpty() && !rec.leader().equals(me) && !rec.takeover().equals(me)
                && !rec.handoverTo().equals(me)) {
            return formerPrimary(f);
        }
        if (db.up() && !db.primary() && !rec.isEmpty() && !rec.leader().equals(me)
                && (db.primaryConninfo().isEmpty() || !db.restoreCommand().isEmpty())) {
            return new Decision(Role.FOLLOWER, Step.REATTACH, rec.leader(), "my database was detached for a takeover that"
                    + " did not happen: streaming from " + rec.leader() + " again");
        }
        String why = whyNotEligible(f);
        if (why != null) {
            return new Decision(Role.FOLLOWER, Step.NONE, null, why);
        }
        if (!rec.isEmpty() && !rec.leader().equals(me) && f.leaderProcessGone()) {
            return new Decision(Role.FOLLOWER, Step.DEPOSE, rec.leader(), "the leader " + rec.leader() + "'s process is gone"
                    + " (its address refuses connections): closing its CP session instead of waiting for it to expire, then"
                    + " taking the leader lock (" + eligibility(f) + ")");
        }
        Decision preset = presetSync(f);
        if (preset != null) {
            return preset;
        }
        return new Decision(Role.FOLLOWER, Step.TRY_LOCK, null,
                rec.isEmpty() ? "no leader recorded yet: I am " + me + " and may bootstrap it; taking the leader lock"
                        : "the leader lock may be free and I am eligible (" + eligibility(f) + "): trying to take it");
    }

    /**
     * A standby that may take over keeps synchronous_standby_names set (or empty) as its own term would start: in
     * PostgreSQL 15 commits obey WalSndCtl->sync_standbys_defined, which only the checkpointer changes
     * (SyncRepUpdateSyncStandbysDefined: at its start and between its own steps, checkpointer.c), and right after a
     * promotion it is busy with the promotion's checkpoint. Set on the standby, it is in force before the promotion.
     * Only empty-or-not matters here: which sites it names is set exactly at the takeover, and the WAL senders that
     * match names re-read their configuration themselves. Null when nothing is to change.
     */
    private Decision presetSync(Facts f) {
        PgProbe.State db = f.db();
        ClusterRecord rec = f.record();
        if (!db.up() || db.primary() || rec.isEmpty()) {
            return null;
        }
        List<String> commit = newTermCommitSet(rec);
        if (db.synchronousStandbyNames().isEmpty() == commit.isEmpty()) {
            return null;
        }
        return new Decision(Role.FOLLOWER, Step.PRESET_SYNC, null, "my database is a standby whose synchronous_standby_names is '"
                + db.synchronousStandbyNames() + "' but a term of mine would start with '" + PgProbe.syncNames(commit)
                + "': setting it now, so that PostgreSQL holds commits from the moment of a promotion (only its checkpointer"
                + " applies such a change, and a promotion keeps it busy)");
    }

    private Decision afterHandover(Facts f) {
        ClusterRecord rec = f.record();
        PgProbe.State db = f.db();
        if (!rec.leader().equals(me) && rec.handoverTo().isEmpty()) {
            if (db.up() && !db.primary()) {
                return new Decision(Role.FOLLOWER, Step.NONE, null, "switchover done: my database follows " + rec.leader());
            }
            if (!f.rejoin().lastFailure().isEmpty() && !db.up()) {
                // The new leader's database does not answer (or pg_rewind against it failed). Ours stopped cleanly
                // after it had all our WAL, so ours is a prefix of its history: a standby without a rewind, which
                // takes over from it through the WAL keeper (whatever it acknowledged is there) should it be gone.
                return new Decision(Role.FOLLOWER, Step.FOLLOW_WITHOUT_REWIND, rec.leader(), "switchover done: "
                        + rec.leader() + " leads (epoch " + rec.epoch() + ") but rejoining as its standby failed ("
                        + f.rejoin().lastFailure() + "); my database stopped cleanly right after the handover, so it"
                        + " starts as " + rec.leader() + "'s standby without a rewind and takes over through the WAL keeper"
                        + " if " + rec.leader() + " is gone");
            }
            // Our own planned handover completed: rejoin automatically.
            return new Decision(Role.DEMOTED, Step.REJOIN, rec.leader(), "switchover done: " + rec.leader()
                    + " leads (epoch " + rec.epoch() + "); rejoining as its standby");
        }
        long waitedMs = f.nowMs() - f.stoppedLeadingAtMs();
        if (rec.leader().equals(me) && (rec.handoverTo().isEmpty() || waitedMs > HANDOVER_TAKEOVER_DEADLINE_MS)) {
            // The target never recorded its leadership, so it acknowledged nothing (it serves only after that
            // compare-and-set); my database, stopped cleanly after the target had all of it, holds every
            // acknowledged write. Clearing the handover changes the record, so a late takeover by the target fails.
            String target = rec.handoverTo().isEmpty() ? "the target" : rec.handoverTo();
            return new Decision(Role.FOLLOWER, Step.RECLAIM, target, "switchover to " + target + " failed: it has not"
                    + " taken over " + waitedMs / 1000 + " s after my handover (limit " + HANDOVER_TAKEOVER_DEADLINE_MS / 1000
                    + " s) and the record still names me: clearing the handover, starting my database again (it holds"
                    + " every acknowledged write) and taking the leader lock back under a new epoch");
        }
        return new Decision(Role.DEMOTED, Step.NONE, null, "handed over to " + (rec.handoverTo().isEmpty() ? "?" : rec.handoverTo())
                + ": waiting for it to lead before rejoining as its standby (taking leadership back if it has not within "
                + HANDOVER_TAKEOVER_DEADLINE_MS / 1000 + " s)");
    }

    private Decision formerPrimary(Facts f) {
        ClusterRecord rec = f.record();
        PgProbe.State db = f.db();
        String what = "my database is a former primary (epoch " + db.epoch() + ") and " + rec.leader() + " leads (epoch "
                + rec.epoch() + ")";
        if (!rec.handoverTo().isEmpty()) {
            return new Decision(Role.DEMOTED, Step.NONE, null, what + "; a switchover to " + rec.handoverTo()
                    + " is in progress: rejoining once it completed");
        }
        if (db.epoch() >= rec.epoch()) {
            // Cannot happen under the rules (every term's epoch is above every database's); never guess.
            return new Decision(Role.DEMOTED, Step.NONE, null, what + ", but its epoch is not below the recorded one:"
                    + " which database has the acknowledged writes is not clear; an operator must decide (runbooks/failover.md)");
        }
        if (recentRejoinFailure(f)) {
            return new Decision(Role.DEMOTED, Step.NONE, null, rejoinFailedSentence(f));
        }
        return new Decision(Role.DEMOTED, Step.REJOIN, rec.leader(), what + ": it may hold writes that were never"
                + " acknowledged, so it rejoins as " + rec.leader() + "'s standby by itself (pg_rewind discards exactly those)");
    }

    private static boolean recentRejoinFailure(Facts f) {
        return !f.rejoin().lastFailure().isEmpty() && f.nowMs() - f.rejoin().lastFailureAtMs() < REJOIN_RETRY_MS;
    }

    private String rejoinFailedSentence(Facts f) {
        long inS = Math.max(0, (REJOIN_RETRY_MS - (f.nowMs() - f.rejoin().lastFailureAtMs())) / 1000);
        return "rejoining as a standby of " + f.record().leader() + " failed (" + f.rejoin().lastFailure() + "); retrying in "
                + inS + " s";
    }

    /** Null when this region may lead now, else why not. */
    private String whyNotEligible(Facts f) {
        PgProbe.State db = f.db();
        ClusterRecord rec = f.record();
        if (!db.up()) {
            return "my database does not answer (" + db.error() + ")";
        }
        if (!rec.handoverTo().isEmpty() && !rec.handoverTo().equals(me)) {
            return "a switchover to " + rec.handoverTo() + " is in progress";
        }
        if (rec.isEmpty()) {
            return bootstrapBlocker(f);
        }
        if (db.primary()) {
            // The recorded leader's own database; or one this agent promoted in a takeover (or handover) that
            // failed before recording its term: it was complete then and has served nothing since, so it may
            // finish the takeover.
            return rec.leader().equals(me) || rec.takeover().equals(me) || rec.handoverTo().equals(me) ? null
                    : "my database is a primary but " + rec.leader() + " is the recorded leader: I am a former primary";
        }
        if (rec.handoverTo().equals(me)) {
            return null;
        }
        if (!keeper.isEmpty() && rec.isSync(keeper)) {
            // Every acknowledged write is on the keeper or on a region of the sync set: fetching from the keeper
            // completes this database whether or not it was in the set.
            return f.keeper().freshAt(f.nowMs(), KEEPER_REPORT_FRESH_MS) ? null
                    : "the WAL keeper may hold acknowledged writes my database lacks and has not reported for over "
                    + KEEPER_REPORT_FRESH_MS / 1000 + " s: I cannot prove I have every acknowledged write, so I wait for it";
        }
        if (rec.isSync(me)) {
            return null;
        }
        return "my database is a standby outside the recorded sync set " + rec.syncStandbys()
                + ": it may miss acknowledged writes, so it is never promoted automatically";
    }

    private String bootstrapBlocker(Facts f) {
        long newest = -1;
        String best = null;
        boolean tie = false;
        for (String r : regions) {
            RegionReport rep = f.reports().get(r);
            if (rep == null || f.nowMs() - rep.reportedAtMs() > reportFreshMs) {
                return "the CP record is empty and region " + r + " has not reported its database yet";
            }
            if (!rep.databaseUp()) {
                // Its epoch is unknown: it may be the newer primary.
                return "the CP record is empty and region " + r + "'s database does not answer: the newest primary"
                        + " cannot be known, so nobody bootstraps until it does (or an operator decides)";
            }
            if (rep.databasePrimary()) {
                if (rep.databaseEpoch() > newest) {
                    best = r;
                    newest = rep.databaseEpoch();
                    tie = false;
                } else if (rep.databaseEpoch() == newest) {
                    tie = true;
                }
            }
        }
        if (best == null) {
            return "the CP record is empty and no region reports a primary database";
        }
        if (tie) {
            return "the CP record is empty and two primaries report the same epoch " + newest
                    + ": which one has every acknowledged write cannot be decided automatically; an operator must decide";
        }
        if (!best.equals(me)) {
            return "the CP record is empty and " + best + " has the primary with the highest epoch";
        }
        return f.db().primary() ? null : "my database is a standby";
    }

    private String eligibility(Facts f) {
        ClusterRecord rec = f.record();
        if (rec.isEmpty()) {
            return "bootstrap: mine is the primary with the highest epoch";
        }
        if (rec.handoverTo().equals(me)) {
            return "planned handover to me";
        }
        if (f.db().primary()) {
            return rec.leader().equals(me) ? "I am the recorded leader and my database is the primary"
                    : "my database was promoted in my own unfinished takeover";
        }
        if (!keeper.isEmpty() && rec.isSync(keeper)) {
            return "every acknowledged write is in the recorded sync set " + rec.syncStandbys()
                    + "; I fetch what my database lacks from the WAL keeper";
        }
        return "my database is a recorded synchronous standby";
    }
}
