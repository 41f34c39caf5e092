package io.paymentledger.replication.failover;

import io.paymentledger.replication.coordinator.ClusterRecord;
import io.paymentledger.replication.coordinator.Coordinator.RegionReport;
import io.paymentledger.replication.postgres.PgProbe;
import java.util.List;
import java.util.Map;

/**
 * The failover decisions of one region's agent, as a pure function of what it observed: no I/O, no clock of
 * its own (time comes in {@link Facts#nowMs()}). The agent observes, asks {@link #decide}, performs the one
 * step decided, and logs the explanation — a sentence an operator understands.
 *
 * <p>Safety rules it enforces:
 * <ul>
 *   <li>Only the holder of the CP leader lock leads, and only within its lease.</li>
 *   <li>A standby is promoted only if the CP record lists it as synchronous (it has every acknowledged write).</li>
 *   <li>A primary that is not the recorded leader is a former primary that may hold unacknowledged writes:
 *       it never leads again until it has rejoined as a standby (failback).</li>
 *   <li>When the CP record is empty (a fresh or fully restarted CP group), only the region whose database is
 *       a primary with the highest epoch, as reported by every region, may bootstrap it.</li>
 * </ul>
 */
public final class FailoverStateMachine {

    /** The agent's states. */
    public enum Role {
        /** Just started: nothing observed yet. */
        STARTING,
        /** Not leading; its database follows the leader's (or waits to). */
        FOLLOWER,
        /** Holds the lock and a valid lease: serves writes and linearizable reads. */
        LEADER,
        /** Was leading and stopped: lost the lock, the quorum, its lease or its database. */
        FENCED,
        /** Planned switchover: stopped taking writes, waiting to hand over. */
        DRAINING,
        /** Handed over (or found itself a stale former primary): its database must rejoin as a standby. */
        DEMOTED
    }

    /** When the synchronous standby is lost while the primary lives. */
    public enum SyncLossPolicy {
        /** Writes wait until the standby is back (acknowledged = in two regions, always). The default. */
        BLOCK,
        /** After recording in the CP group that the standby left the sync set, writes go on with one copy. */
        DEGRADE
    }

    /** What to do in this tick. */
    public enum Step {
        NONE,
        /** Try to take the leader lock. */
        TRY_LOCK,
        /** Holding the lock: promote the database if needed, start a new term, serve. */
        TAKE_OVER,
        /** Leading: extend the lease (the CP check this tick succeeded). */
        RENEW,
        /** Leading: make {@link Decision#region()} synchronous (database first, then the CP record). */
        ADD_SYNC,
        /** Leading, policy DEGRADE: record that {@link Decision#region()} left the sync set, then relax the database. */
        REMOVE_SYNC,
        /** Stop serving; keep the lock (switchover drain) . */
        STOP_SERVING,
        /** Stop serving and release the lock. */
        STOP_AND_RELEASE,
        /** Switchover: record the handover to {@link Decision#region()} and release the lock. */
        HAND_OVER,
        /** Make the own database a standby of {@link Decision#region()}'s (after a handover). */
        REJOIN
    }

    /** The decision: next role, the step to perform, and why. */
    public record Decision(Role next, Step step, String region, String explanation) {}

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
     */
    public record Facts(long nowMs, String cpError, boolean holdsLock, boolean leaseValid, ClusterRecord record,
            Map<String, RegionReport> reports, PgProbe.State db, String writeFault, String switchoverTo, boolean writerIdle,
            long stoppedLeadingAtMs) {}

    private final String me;
    private final List<String> regions;
    private final SyncLossPolicy policy;
    private final long reportFreshMs;

    /**
     * @param me             this agent's region
     * @param regions        every region (this one included)
     * @param policy         what to do when the synchronous standby is lost
     * @param reportFreshMs  how recent a region report must be to count at bootstrap
     */
    public FailoverStateMachine(String me, List<String> regions, SyncLossPolicy policy, long reportFreshMs) {
        this.me = me;
        this.regions = List.copyOf(regions);
        this.policy = policy;
        this.reportFreshMs = reportFreshMs;
    }

    public String region() {
        return me;
    }

    String other() {
        return regions.stream().filter(r -> !r.equals(me)).findFirst().orElseThrow();
    }

    public Decision decide(Role current, Facts f) {
        if (f.cpError() != null) {
            if ((current == Role.LEADER || current == Role.DRAINING)
                    && (f.writeFault() != null || !f.db().up() || !f.db().primary())) {
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
            return new Decision(current == Role.STARTING ? Role.FOLLOWER : current, Step.NONE, null,
                    "waiting for the CP group: " + f.cpError());
        }
        ClusterRecord rec = f.record();
        PgProbe.State db = f.db();
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
        if (current == Role.DEMOTED && (f.stoppedLeadingAtMs() > 0 || !db.up() || !db.primary() || whyNotEligible(f) != null)) {
            return demoted(f);
        }
        String why = whyNotEligible(f);
        if (why != null) {
            Role next = db.up() && db.primary() && !rec.isEmpty() && !rec.leader().equals(me) ? Role.DEMOTED : Role.FOLLOWER;
            return new Decision(next, Step.NONE, null, why);
        }
        return new Decision(current == Role.STARTING || current == Role.DEMOTED ? Role.FOLLOWER : current, Step.TRY_LOCK, null,
                rec.isEmpty() ? "no leader recorded yet: I am " + me + " and may bootstrap it; taking the leader lock"
                        : "the leader lock may be free and I am eligible (" + eligibility(f) + "): trying to take it");
    }

    private Decision leading(Facts f) {
        PgProbe.State db = f.db();
        ClusterRecord rec = f.record();
        if (!db.up()) {
            return new Decision(Role.FENCED, Step.STOP_AND_RELEASE, null,
                    "stopped leading: my database does not answer (" + db.error() + "); releasing the lock so " + other() + " can take over");
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
        String standby = other();
        PgProbe.Standby s = db.standby(standby);
        boolean streaming = s != null && "streaming".equals(s.state());
        if (!rec.isSync(standby) && streaming) {
            return new Decision(Role.LEADER, Step.ADD_SYNC, standby,
                    "I am " + me + ", the leader with the lock (epoch " + rec.epoch() + "); standby " + standby
                            + " streams: making it synchronous");
        }
        if (rec.isSync(standby) && !streaming && policy == SyncLossPolicy.DEGRADE) {
            return new Decision(Role.LEADER, Step.REMOVE_SYNC, standby,
                    "I am " + me + ", the leader (epoch " + rec.epoch() + "); synchronous standby " + standby
                            + " is gone and the policy is DEGRADE: recording that it left the sync set, then writing alone");
        }
        String sync = rec.isSync(standby) ? (streaming ? "standby " + standby + " is synchronous"
                : "synchronous standby " + standby + " is DISCONNECTED: writes wait for it (policy BLOCK)")
                : "no synchronous standby (" + standby + " not streaming): writes are in one region only until failback";
        return new Decision(Role.LEADER, Step.RENEW, null,
                "no action: I am " + me + ", the leader with the lock (epoch " + rec.epoch() + "); " + sync);
    }

    private Decision draining(Facts f) {
        String target = f.switchoverTo();
        if (target == null) {
            target = other();
        }
        if (!f.db().up() || !f.db().primary() || f.writeFault() != null) {
            return new Decision(Role.FENCED, Step.STOP_AND_RELEASE, null, "switchover to " + target + " abandoned: "
                    + (f.writeFault() != null ? "a commit failed (" + f.writeFault() + ")" : "my database is down or not a primary")
                    + "; releasing the lock so a synchronous standby can take over");
        }
        if (!f.writerIdle()) {
            return new Decision(Role.DRAINING, Step.NONE, target, "draining for switchover to " + target + ": waiting for the in-flight batch");
        }
        PgProbe.Standby s = f.db().standby(target);
        if (s == null || !s.caughtUp()) {
            return new Decision(Role.DRAINING, Step.NONE, target,
                    "draining for switchover to " + target + ": waiting for its database to have all our WAL ("
                            + (s == null ? "not connected" : s.lagBytes() + " bytes behind") + ")");
        }
        if (!f.record().isSync(target)) {
            return new Decision(Role.DRAINING, Step.ADD_SYNC, target,
                    "draining for switchover to " + target + ": recording it as synchronous so it may be promoted");
        }
        return new Decision(Role.DEMOTED, Step.HAND_OVER, target,
                "handing over to " + target + ": it has all our WAL; recording the handover and releasing the lock");
    }

    private Decision takeOver(Role current, Facts f) {
        String why = whyNotEligible(f);
        if (why != null) {
            return new Decision(current == Role.STARTING ? Role.FOLLOWER : current, Step.STOP_AND_RELEASE, null,
                    "I hold the leader lock but may not lead (" + why + "): releasing it");
        }
        boolean promote = !f.db().primary();
        return new Decision(Role.LEADER, Step.TAKE_OVER, null, "I am " + me + " and hold the leader lock ("
                + eligibility(f) + "): " + (promote ? "promoting my database, " : "") + "starting a new term");
    }

    private Decision demoted(Facts f) {
        ClusterRecord rec = f.record();
        PgProbe.State db = f.db();
        if (f.stoppedLeadingAtMs() > 0 && !rec.leader().equals(me) && rec.handoverTo().isEmpty()) {
            // Our own planned handover completed: rejoin automatically.
            return new Decision(Role.DEMOTED, Step.REJOIN, rec.leader(), "switchover done: " + rec.leader()
                    + " leads (epoch " + rec.epoch() + "); rejoining as its standby");
        }
        if (db.up() && !db.primary()) {
            return new Decision(Role.FOLLOWER, Step.NONE, null, "my database follows again: I am a standby of " + rec.leader());
        }
        if (!rec.handoverTo().isEmpty() || rec.leader().equals(me)) {
            return new Decision(Role.DEMOTED, Step.NONE, null, "handed over to " + (rec.handoverTo().isEmpty() ? "?" : rec.handoverTo())
                    + ": waiting for it to lead before rejoining as its standby");
        }
        return new Decision(Role.DEMOTED, Step.NONE, null, "my database is a former primary and " + rec.leader()
                + " leads (epoch " + rec.epoch() + "): it may hold writes that were never acknowledged, so it must rejoin"
                + " as a standby first: run ./ledger failback");
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
            // The recorded leader's own database; or a synchronous standby (or the handover target) that this
            // agent promoted in a takeover that failed before recording its term: it still has every
            // acknowledged write and has served none, so it may finish the takeover.
            return rec.leader().equals(me) || rec.isSync(me) || rec.handoverTo().equals(me) ? null
                    : "my database is a primary but " + rec.leader() + " is the recorded leader: I am a former primary";
        }
        if (!rec.isSync(me)) {
            return "my database is a standby outside the recorded sync set " + rec.syncStandbys()
                    + ": it may miss acknowledged writes, so it is never promoted automatically";
        }
        return null;
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
        if (f.db().primary()) {
            return "I am the recorded leader and my database is the primary";
        }
        return rec.handoverTo().equals(me) ? "planned handover to me" : "my database is a recorded synchronous standby";
    }
}
