package io.paymentledger.replication.coordinator;

import io.paymentledger.replication.walkeeper.WalKeeperReport;
import java.util.Map;

/**
 * The distributed coordination the failover logic needs, behind an interface (Patroni's "DCS"): a
 * leadership lock whose holder loses it when its session expires, a compare-and-set cluster record, and
 * per-region reports. The production implementation is Hazelcast's CP Subsystem (Raft).
 *
 * <p>Every call either answers within the coordinator's call timeout or throws {@link CoordinatorUnavailable}
 * (no quorum, timeout, shut down). Callers treat that as "I cannot prove anything", never as "no".
 */
public interface Coordinator extends AutoCloseable {

    /** Takes the leadership lock if it is free; true when this member holds it afterwards. */
    boolean tryAcquireLeadership() throws CoordinatorUnavailable;

    /** Does this member hold the leadership lock (a linearizable read through the CP group)? */
    boolean holdsLeadership() throws CoordinatorUnavailable;

    /** Gives the lock up (no-op when not held). */
    void releaseLeadership() throws CoordinatorUnavailable;

    ClusterRecord readRecord() throws CoordinatorUnavailable;

    /** Replaces the record if it still equals {@code expected}; false when someone changed it first. */
    boolean compareAndSetRecord(ClusterRecord expected, ClusterRecord next) throws CoordinatorUnavailable;

    /** Publishes this region's view of its own database (used to bootstrap an empty record safely). */
    void report(String region, RegionReport report) throws CoordinatorUnavailable;

    Map<String, RegionReport> reports(java.util.Collection<String> regions) throws CoordinatorUnavailable;

    /** Publishes the WAL keeper's report (the witness does). */
    void reportWalKeeper(WalKeeperReport report) throws CoordinatorUnavailable;

    /** The WAL keeper's last report ({@link WalKeeperReport#NONE} when it never reported). */
    WalKeeperReport walKeeperReport() throws CoordinatorUnavailable;

    /**
     * Proof that {@code memberName}'s process is gone (not merely slow or cut off): its address refuses
     * connections. A paused or partitioned process does not refuse (the kernel still accepts, or nothing answers),
     * so this never deposes a live leader; it only lets the others stop waiting for its session to expire. No CP
     * call; answers within a fraction of a second.
     */
    default boolean memberProcessGone(String memberName) {
        return false;
    }

    /**
     * Closes the CP sessions of {@code memberName}'s dead process, releasing its locks at once instead of after
     * the session TTL — Hazelcast's documented use of forceCloseSession, for an owner that "definitely crashed".
     * Sessions are listed first and closed only if the address still refuses connections afterwards, so a new
     * process (which listens before it can open a session) never loses its own. Returns how many were closed.
     */
    default int forceCloseSessionsOf(String memberName) throws CoordinatorUnavailable {
        return 0;
    }

    /**
     * Tells {@code region}'s agent to look at the record now instead of at its next tick (a switchover's target, once the
     * record names it; the WAL keeper, by its name, once a new leader's record is written). A hint only: best effort,
     * no CP call, never throws; whoever gets it decides from the record.
     */
    default void nudge(String region) {
    }

    /** {@code listener} runs (on another thread) with the region named whenever a member calls {@link #nudge}. */
    default void onNudge(java.util.function.Consumer<String> listener) {
    }

    /** Periodic upkeep (e.g. rejoining the CP group after a restart); returns a sentence for the log. */
    default String maintain() {
        return "";
    }

    /** How many CP members are alive (in the cluster), or -1 when unknown. */
    default int cpMembersAlive() {
        return -1;
    }

    /** A line for operators: members, CP members, quorum. */
    String describe();

    @Override
    void close();

    /**
     * A region's own account of its database, and, while its writer leads, the writer's ledger time when the report
     * was made ({@code ledgerTimeNs}, Unix nanoseconds; 0 otherwise): a new leader checks its wall clock against it
     * ({@link io.paymentledger.replication.time.LedgerTimeReference}).
     */
    record RegionReport(boolean databaseUp, boolean databasePrimary, long databaseEpoch, long reportedAtMs, long ledgerTimeNs) {

        /** A report with no ledger time (the region's writer does not lead). */
        public RegionReport(boolean databaseUp, boolean databasePrimary, long databaseEpoch, long reportedAtMs) {
            this(databaseUp, databasePrimary, databaseEpoch, reportedAtMs, 0);
        }
    }

    /** The coordinator cannot answer now (no quorum, timeout, shutting down). */
    final class CoordinatorUnavailable extends Exception {
        public CoordinatorUnavailable(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
