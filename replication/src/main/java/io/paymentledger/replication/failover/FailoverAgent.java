package io.paymentledger.replication.failover;

import io.paymentledger.replication.postgres.ProcessRunner;
import io.paymentledger.replication.coordinator.ClusterRecord;
import io.paymentledger.replication.coordinator.Coordinator;
import io.paymentledger.replication.coordinator.Coordinator.CoordinatorUnavailable;
import io.paymentledger.replication.failover.FailoverStateMachine.Decision;
import io.paymentledger.replication.failover.FailoverStateMachine.Facts;
import io.paymentledger.replication.failover.FailoverStateMachine.RejoinStatus;
import io.paymentledger.replication.failover.FailoverStateMachine.Role;
import io.paymentledger.replication.failover.FailoverStateMachine.Step;
import io.paymentledger.replication.postgres.Lsn;
import io.paymentledger.replication.postgres.PgCluster;
import io.paymentledger.replication.postgres.PgProbe;
import io.paymentledger.replication.time.LedgerTimeReference;
import io.paymentledger.replication.walkeeper.WalKeeper;
import io.paymentledger.replication.walkeeper.WalKeeperReport;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One region's failover agent: the HA loop. Every tick it observes (CP record and lock, its own database,
 * the writer, the WAL keeper's report), asks the {@link FailoverStateMachine}, performs the one step decided, and
 * logs the decision when it changes. It runs in the ledger node's process, next to the writer it controls. The one
 * slow step, rejoining a former primary (pg_rewind or a clone), runs on its own executor so the loop keeps ticking.
 */
public final class FailoverAgent implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(FailoverAgent.class.getName());
    /** While taking over or draining, the loop ticks this often: each tick is a step closer to serving again. */
    static final long FAST_TICK_MS = 20;
    /** For this long after a term begins, the loop ticks fast until a site of the commit quorum streams. */
    static final long NEW_TERM_FAST_MS = 5_000;
    /** Region reports and CP upkeep happen at most this often. */
    private static final long REPORT_INTERVAL_MS = 2_000;
    /** The keeper's report is read at most this often while it does not matter for a decision in progress. */
    private static final long KEEPER_READ_INTERVAL_MS = 500;
    /** How recent a region report must be to count at bootstrap. */
    private static final long REGION_REPORT_FRESH_MS = 15_000;
    /** How long a takeover waits for PostgreSQL to hold commits for the new term's commit set before giving up. */
    static final long QUORUM_IN_FORCE_TIMEOUT_MS = 30_000;
    /** One probe commit: long enough to see it wait on a loaded machine. */
    private static final java.time.Duration SYNC_PROBE_BOUND = java.time.Duration.ofSeconds(5);
    /** One checkpoint request while the setting is not in force. */
    private static final long CHECKPOINT_NUDGE_MAX_MS = 10_000;
    /** How long the takeover only asks again before it requests a checkpoint (which costs up to a second). */
    private static final long QUORUM_GRACE_MS = 500;
    private static final long QUORUM_PROBE_PAUSE_MS = 50;

    /** What the agent needs from the ledger node it runs in. */
    public interface LeaderHooks {
        /**
         * A takeover begins (before the promotion): open now, beside the promotion, what {@link #migrateSchema} and
         * {@link #claimEpoch} will need (a database session: a TLS handshake in the middle of the outage otherwise).
         */
        default void takeoverBegins() {
        }

        /** Brings the schema up to date (only ever called on the primary, before leading). */
        void migrateSchema() throws Exception;

        /** Stores the epoch in the database (fails when the stored one is not lower). */
        boolean claimEpoch(long epoch) throws Exception;

        /** Starts writing under {@code epoch} until {@code leaseUntilNanos} (System.nanoTime scale). */
        void lead(long epoch, long leaseUntilNanos);

        /**
         * Starts a new term as {@link #lead(long, long)}, with the ledger time the last leader published, as this node
         * observed it ({@code reference}, null when it saw none): the writer takes its wall clock for ledger time only
         * if it agrees with that ({@link io.paymentledger.replication.time.SteadyClock#anchor(long, LedgerTimeReference)}).
         */
        default void lead(long epoch, long leaseUntilNanos, LedgerTimeReference reference) {
            lead(epoch, leaseUntilNanos);
        }

        /** The writer's ledger time now (Unix nanoseconds) while it leads, else 0: published with the region's report. */
        default long ledgerTimeNs() {
            return 0;
        }

        void extendLease(long leaseUntilNanos);

        /** Stops writes and linearizable reads at once. */
        void stopServing(String reason);

        /** No batch is being written and none is queued. */
        boolean writerIdle();

        /** A failed commit reported since the last call (and forgets it), or null. */
        String takeWriteFault();
    }

    /**
     * @param region     this agent's region
     * @param databases  every region's PostgreSQL (this region's is the one the agent controls; the others are
     *                   where it streams from after a handover or a rejoin)
     * @param tickMs     HA loop period
     * @param leaseMs    how long a successful CP check lets the leader serve; must be shorter than the CP session
     *                   TTL minus its heartbeat interval, so a cut-off leader stops before anyone can take over
     * @param keeperRestoreCommand  restore_command that fetches WAL from the WAL keeper ({@link WalKeeper#restoreCommand});
     *                   "" when the deployment has no keeper
     */
    public record Config(String region, Map<String, PgCluster> databases, long tickMs, long leaseMs,
            FailoverStateMachine.SyncLossPolicy policy, String keeperRestoreCommand) {
        public Config {
            databases = Map.copyOf(databases);
            if (!databases.containsKey(region)) {
                throw new IllegalArgumentException("no database for region " + region);
            }
        }

        public boolean hasKeeper() {
            return !keeperRestoreCommand.isEmpty();
        }
    }

    private final Config config;
    private final Coordinator coordinator;
    private final LeaderHooks hooks;
    private final FailoverStateMachine machine;
    private final PgProbe probe;
    private final LongSupplier nanoClock;
    /**
     * Time stamps other processes compare (region reports, the cluster record):
     * {@link io.paymentledger.replication.time.HazelcastClock#stampMillis}.
     */
    private final LongSupplier stampClockMs;
    private final Thread thread;
    private final ExecutorService rejoinExecutor;
    private final AtomicReference<String> switchoverTo = new AtomicReference<>();

    private volatile Role role = Role.STARTING;
    private volatile String explanation = "starting";
    private volatile ClusterRecord lastRecord = ClusterRecord.EMPTY;
    private volatile PgProbe.State lastDb = PgProbe.State.down("not observed yet");
    /** The keeper's last report, stamped when this agent saw it change ({@link ObservedStamps}). */
    private volatile WalKeeperReport keeperReport = WalKeeperReport.NONE;
    private final ObservedStamps observedStamps = new ObservedStamps();
    /** The ledger time the other region's leader published, pinned to this node's monotonic clock. */
    private final ObservedLedgerTime observedLedgerTime;
    /**
     * After giving the lock up because of a failure here (a commit fault, a failed takeover), this node does not try
     * to take it again for this long: long enough for the other region's agent (ticking every 100-500 ms) to take it,
     * short enough that a lone surviving region is not kept waiting. Before, the node that had just failed raced the
     * other for the lock, won, and failed again (a stalled writer's region took the lock back each time).
     */
    static final long RETAKE_AFTER_FAILURE_MS = 3_000;
    private volatile long releasedAfterFailureNanos;
    /** When the region reports were last read (stamp clock). */
    private long lastReportsReadMs;
    private volatile boolean cpOk;
    private volatile int cpMembersAlive = -1;
    private volatile int syncCopies;
    private volatile String switchoverAbandoned = "";
    private volatile long switchoversAbandoned;
    private volatile RejoinStatus rejoin = RejoinStatus.IDLE;
    private volatile long stoppedLeadingAtMs;
    /** When this node took the leader lock for the takeover under way (0 = none): a takeover has a deadline. */
    private long takingOverSinceMs;
    private volatile boolean closed;
    private long leaseUntilNanos;
    private long lastReportMs;
    private long lastMaintainMs;
    private long lastKeeperReadMs;
    private long drainingSinceMs;
    /** When this node's role last became LEADER (nanoClock), 0 when it does not lead. */
    private volatile long leadingSinceNanos;
    /** When this agent deposed a dead leader (nanoTime), 0 when it did not: it serves only after that leader's lease. */
    private long deposedAtNanos;
    private String lastSyncNames;
    private Lsn syncConvergedAtLsn = Lsn.NONE;
    private Lsn previousFlush = Lsn.NONE;

    public FailoverAgent(Config config, Coordinator coordinator, LeaderHooks hooks) {
        this(config, coordinator, hooks, System::nanoTime, io.paymentledger.replication.time.HazelcastClock::stampMillis);
    }

    FailoverAgent(Config config, Coordinator coordinator, LeaderHooks hooks, LongSupplier nanoClock, LongSupplier stampClockMs) {
        this.config = config;
        this.coordinator = coordinator;
        this.hooks = hooks;
        this.machine = new FailoverStateMachine(config.region(), List.copyOf(config.databases().keySet()),
                config.hasKeeper() ? WalKeeper.NAME : "", config.policy(), REGION_REPORT_FRESH_MS);
        this.probe = new PgProbe(config.databases().get(config.region()), "ledger");
        // A new leader's wall clock within a lease of the published ledger time is taken as it is.
        this.observedLedgerTime = new ObservedLedgerTime(config.leaseMs() * 1_000_000L);
        this.nanoClock = nanoClock;
        this.stampClockMs = stampClockMs;
        this.thread = Thread.ofPlatform().name("failover-agent-" + config.region()).daemon(true).unstarted(this::loop);
        coordinator.onNudge(region -> {
            if (region.equals(config.region())) {
                nudge();
            }
        });
        this.rejoinExecutor = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform()
                .name("rejoin-" + config.region()).daemon(true).unstarted(r));
    }

    public void start() {
        thread.start();
    }

    public Role role() {
        return role;
    }

    public String explanation() {
        return explanation;
    }

    public ClusterRecord record() {
        return lastRecord;
    }

    public PgProbe.State database() {
        return lastDb;
    }

    /** The WAL keeper's last report as this agent read it. */
    public WalKeeperReport walKeeper() {
        return keeperReport;
    }

    public boolean coordinatorReachable() {
        return cpOk;
    }

    public String region() {
        return config.region();
    }

    /**
     * The ledger time the other region's leader last published, pinned to this node's monotonic clock; null when this
     * node has not seen it change.
     */
    public LedgerTimeReference ledgerTimeReference() {
        return observedLedgerTime.reference();
    }

    /** CP members alive at the last check (every 2 s), -1 when unknown. */
    public int cpMembersAlive() {
        return cpMembersAlive;
    }

    /** As leader: how many sites hold every acknowledged write ({@link FailoverStateMachine#syncCopies}); else 0. */
    public int syncCopies() {
        return syncCopies;
    }

    /** Asks this (leading) agent to hand over to {@code region}. */
    public void requestSwitchover(String region) {
        switchoverTo.set(region);
    }

    /** Why the last switchover was abandoned ("" when none was). */
    public String switchoverAbandoned() {
        return switchoverAbandoned;
    }

    /** How many switchovers were abandoned so far (a caller compares before and after its request). */
    public long switchoversAbandoned() {
        return switchoversAbandoned;
    }

    /** Set (under its own lock) when the agent should tick now rather than at the end of its period. */
    private final boolean[] nudged = new boolean[1];

    /** Tick now: the record changed in a way this region acts on (a switchover handed over to it). */
    void nudge() {
        synchronized (nudged) {
            nudged[0] = true;
            nudged.notifyAll();
        }
    }

    private void loop() {
        while (!closed) {
            long started = nanoClock.getAsLong();
            try {
                tick();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "failover agent: tick failed", e);
            }
            long period = role == Role.TAKING_OVER || role == Role.DRAINING || newTermWithoutQuorum() ? FAST_TICK_MS : config.tickMs();
            long sleepMs = period - (nanoClock.getAsLong() - started) / 1_000_000;
            long until = System.nanoTime() + Math.max(0, sleepMs) * 1_000_000L;
            try {
                synchronized (nudged) {
                    // Until the next tick is due, or a nudge (a switchover's leader handed over to this region).
                    while (!nudged[0] && !closed) {
                        long leftNs = until - System.nanoTime();
                        if (leftNs <= 0) {
                            break;
                        }
                        TimeUnit.NANOSECONDS.timedWait(nudged, leftNs);
                    }
                    nudged[0] = false;
                }
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Where a takeover's time went, step by step, for its log line (ms). */
    private static final class StepTimes {
        private final java.util.function.LongSupplier clock;
        private final StringBuilder text = new StringBuilder();
        private long last;

        StepTimes(java.util.function.LongSupplier nanoClock) {
            this.clock = nanoClock;
            this.last = nanoClock.getAsLong();
        }

        void done(String step) {
            long now = clock.getAsLong();
            text.append(text.isEmpty() ? "" : ", ").append(step).append(' ').append((now - last) / 1_000_000).append(" ms");
            last = now;
        }

        @Override
        public String toString() {
            return text.toString();
        }
    }

    /**
     * A term that began within {@link #NEW_TERM_FAST_MS} and whose commit quorum has nobody streaming yet, as the last
     * probe saw it: the node reports NOT_SERVING until a tick sees a site stream (the WAL keeper reconnects to a new
     * primary in ~0.2 s), so ticking at the normal period added up to a period to every switchover (measured: 0.2-0.4 s).
     */
    private boolean newTermWithoutQuorum() {
        if (role != Role.LEADER || leadingSinceNanos == 0 || nanoClock.getAsLong() - leadingSinceNanos > NEW_TERM_FAST_MS * 1_000_000L) {
            return false;
        }
        ClusterRecord rec = lastRecord;
        PgProbe.State db = lastDb;
        return rec != null && db != null && !rec.commitSet().isEmpty() && rec.commitSet().stream().noneMatch(db::streams);
    }

    /** One HA loop iteration (public for deterministic tests). */
    public void tick() {
        long t0 = nanoClock.getAsLong();
        Facts facts = observe(t0);
        Decision d = machine.decide(role, facts);
        if (d.step() == Step.TRY_LOCK && releasedAfterFailureNanos != 0
                && nanoClock.getAsLong() - releasedAfterFailureNanos < RETAKE_AFTER_FAILURE_MS * 1_000_000L) {
            // This node just gave the lock up because it could not commit (or its takeover failed): leave it to the
            // other region for a moment instead of racing it for the lock and failing the same way again.
            settle(d.next(), "gave the leader lock up " + (nanoClock.getAsLong() - releasedAfterFailureNanos) / 1_000_000
                    + " ms ago after a failure here; leaving it to the other region for " + RETAKE_AFTER_FAILURE_MS + " ms");
            return;
        }
        if (d.step() == Step.TRY_LOCK || d.step() == Step.DEPOSE) {
            if (d.step() == Step.DEPOSE) {
                String deposed = d.region();
                int closedSessions = attempt(() -> coordinator.forceCloseSessionsOf(deposed), 0);
                if (closedSessions > 0) {
                    deposedAtNanos = nanoClock.getAsLong();
                }
            }
            boolean got = attempt(coordinator::tryAcquireLeadership, false);
            if (!got) {
                ClusterRecord rec = facts.record();
                settle(d.next(), rec.isEmpty() ? "waiting for the bootstrap leader to take the lock"
                        : "no action: I am " + config.region() + ", following " + rec.leader() + " (it holds the leader lock, epoch "
                        + rec.epoch() + "); my database " + (facts.db().primary() ? "is a primary" : "replays "
                        + facts.db().replayLagBytes() + " bytes behind"));
                return;
            }
            facts = facts.withLock();
            d = machine.decide(role, facts);
        }
        perform(d, facts, t0);
    }

    private Facts observe(long t0) {
        PgProbe.State db = probe.observe();
        lastDb = db;
        long now = stampClockMs.getAsLong();
        String cpError = null;
        boolean holds = false;
        ClusterRecord rec = lastRecord;
        Map<String, Coordinator.RegionReport> reports = Map.of();
        try {
            rec = coordinator.readRecord();
            // Asked every tick whatever the role: a takeover that failed half-way must not keep the lock unnoticed.
            holds = coordinator.holdsLeadership();
            if (rec.isEmpty() || now - lastReportMs > REPORT_INTERVAL_MS) {
                coordinator.report(config.region(), new Coordinator.RegionReport(db.up(), db.up() && db.primary(), db.epoch(), now,
                        hooks.ledgerTimeNs()));
                lastReportMs = now;
            }
            // Read when the record is empty (bootstrap compares every region's report), while draining (a drain
            // hands over only to a target whose node reports) and every report interval besides, so that each report's
            // age is known on this clock (ObservedStamps: the hosts' clocks differ) by the time a drain asks.
            if (rec.isEmpty() || role == Role.DRAINING || now - lastReportsReadMs > REPORT_INTERVAL_MS) {
                Map<String, Coordinator.RegionReport> observed = new java.util.HashMap<>();
                long readStartedNs = nanoClock.getAsLong();
                Map<String, Coordinator.RegionReport> read = coordinator.reports(config.databases().keySet());
                long readEndedNs = nanoClock.getAsLong();
                for (var e : read.entrySet()) {
                    Coordinator.RegionReport r = e.getValue();
                    if (!e.getKey().equals(config.region())) {
                        observedLedgerTime.read(e.getKey(), r.ledgerTimeNs(), readStartedNs, readEndedNs);
                    }
                    observed.put(e.getKey(), new Coordinator.RegionReport(r.databaseUp(), r.databasePrimary(), r.databaseEpoch(),
                            observedStamps.observedAt("region " + e.getKey(), r.reportedAtMs(), now)));
                }
                reports = observed;
                lastReportsReadMs = now;
            }
            // The keeper's report decides a takeover (read every tick then); otherwise it is for the status.
            if (config.hasKeeper() && (holds || role == Role.TAKING_OVER || now - lastKeeperReadMs > KEEPER_READ_INTERVAL_MS)) {
                WalKeeperReport k = coordinator.walKeeperReport();
                keeperReport = k.withReportedAtMs(observedStamps.observedAt("keeper", k.reportedAtMs(), now));
                lastKeeperReadMs = now;
            }
            cpOk = true;
        } catch (CoordinatorUnavailable e) {
            cpError = e.getMessage();
            cpOk = false;
        }
        lastRecord = rec;
        if (now - lastMaintainMs > REPORT_INTERVAL_MS) {
            lastMaintainMs = now;
            String upkeep = coordinator.maintain();
            cpMembersAlive = coordinator.cpMembersAlive();
            if (!upkeep.isEmpty() && !upkeep.startsWith("already")) {
                LOG.info(() -> "failover agent " + config.region() + ": coordinator: " + upkeep);
            }
        }
        trackDurability(db, rec);
        // Only a follower that could take over needs to know whether the leader's process died.
        boolean leaderGone = cpError == null && !holds && !rec.isEmpty() && !rec.leader().equals(config.region())
                && (role == Role.FOLLOWER || role == Role.STARTING) && db.up() && !db.primary()
                && coordinator.memberProcessGone(rec.leader());
        String fault = hooks.takeWriteFault();
        boolean leaseValid = t0 - leaseUntilNanos < 0;
        return new Facts(now, cpError, holds, leaseValid, rec, reports, db, fault, switchoverTo.get(), hooks.writerIdle(),
                stoppedLeadingAtMs, keeperReport, leaderGone, drainingSinceMs, syncConvergedAtLsn, rejoin, takingOverSinceMs);
    }

    /** Remembers when PostgreSQL's sync setting last changed, and counts the copies of acknowledged writes. */
    private void trackDurability(PgProbe.State db, ClusterRecord rec) {
        if (!db.up() || !db.primary()) {
            syncCopies = 0;
            lastSyncNames = null;
            return;
        }
        if (!db.synchronousStandbyNames().equals(lastSyncNames)) {
            lastSyncNames = db.synchronousStandbyNames();
            syncConvergedAtLsn = db.walLsn();
        }
        syncCopies = role == Role.LEADER ? FailoverStateMachine.syncCopies(db, previousFlush) : 0;
        previousFlush = db.walLsn();
    }

    private void perform(Decision d, Facts f, long t0) {
        try {
            switch (d.step()) {
                case NONE, TRY_LOCK, DEPOSE -> { }
                case FENCE_KEEPER -> {
                    ClusterRecord next = f.record().withTakeover(config.region());
                    if (coordinator.compareAndSetRecord(f.record(), next)) {
                        lastRecord = next;
                    }
                }
                case FETCH_FROM_KEEPER -> probe.fetchWith(config.keeperRestoreCommand());
                case TAKE_OVER -> {
                    if (!takeOver(f)) {
                        return;
                    }
                }
                case RENEW -> renew(t0);
                case CONVERGE_SYNC -> {
                    renew(t0);
                    probe.setSynchronousStandbys(f.record().commitSet());
                }
                case RECORD_SYNC -> {
                    renew(t0);
                    if (coordinator.compareAndSetRecord(f.record(), d.record())) {
                        lastRecord = d.record();
                    }
                }
                case STOP_SERVING -> {
                    stopServing(d.explanation());
                    if (d.next() == Role.DRAINING) {
                        drainingSinceMs = f.nowMs();
                    }
                }
                case STOP_AND_RELEASE -> {
                    stopServing(d.explanation());
                    drainingSinceMs = 0;
                    if (f.writeFault() != null || role == Role.TAKING_OVER) {
                        // A failed commit, or a takeover that could not complete in time: leave the lock to the
                        // other region for a moment before trying again.
                        releasedAfterFailureNanos = nanoClock.getAsLong();
                    }
                    attempt(() -> {
                        coordinator.releaseLeadership();
                        return true;
                    }, false);
                }
                case RESUME -> {
                    switchoverTo.set(null);
                    drainingSinceMs = 0;
                    switchoverAbandoned = d.explanation();
                    switchoversAbandoned++;
                    leaseUntilNanos = t0 + config.leaseMs() * 1_000_000L;
                    hooks.lead(f.record().epoch(), leaseUntilNanos);
                }
                case HAND_OVER -> {
                    if (!coordinator.compareAndSetRecord(f.record(), f.record().withHandoverTo(d.region()))) {
                        return;
                    }
                    stoppedLeadingAtMs = f.nowMs();
                    drainingSinceMs = 0;
                    coordinator.releaseLeadership();
                    // The target takes the lock at its next tick; tell it now (up to a tick, 200 ms, of the pause).
                    coordinator.nudge(d.region());
                    LOG.info(() -> "failover agent " + config.region() + ": handed the lock to " + d.region() + "; stopping my database");
                    switchoverTo.set(null);
                    // Our database is done as a primary: stop it now (clean shutdown, its last WAL reaches the
                    // target) so that rejoining later is only a rewind and a start.
                    config.databases().get(config.region()).stop();
                }
                case REJOIN -> startRejoin(d.region());
                case RECLAIM -> {
                    if (!reclaim(d, f)) {
                        return;
                    }
                }
                case FOLLOW_WITHOUT_REWIND -> {
                    if (!followWithoutRewind(d.region(), f)) {
                        return;
                    }
                }
                case REATTACH -> probe.streamFrom(config.databases().get(d.region()).conninfoFor(probe.cluster()));
                case PRESET_SYNC -> probe.setSynchronousStandbys(machine.newTermCommitSet(f.record()));
            }
            settle(d.next(), d.explanation());
        } catch (Exception e) {
            String why = d.step() + " failed: " + e.getMessage();
            LOG.log(Level.WARNING, "failover agent " + config.region() + ": " + why, e);
            if (d.step() == Step.TAKE_OVER || (role == Role.LEADER && d.next() != Role.LEADER)) {
                // Half a takeover is no takeover: stop serving and give the lock back; the next tick decides anew.
                stopServing(why);
                releasedAfterFailureNanos = nanoClock.getAsLong();
                attempt(() -> {
                    coordinator.releaseLeadership();
                    return true;
                }, false);
            }
            settle(d.step() == Step.TAKE_OVER ? Role.FOLLOWER : role, why);
        }
    }

    /** Rejoins in the background (bounded: every tool it runs has a time limit); the loop sees {@link #rejoin}. */
    private void startRejoin(String leader) {
        if (rejoin.running()) {
            return;
        }
        rejoin = new RejoinStatus(true, "", 0);
        PgCluster mine = config.databases().get(config.region());
        PgCluster source = config.databases().get(leader);
        rejoinExecutor.execute(() -> {
            long started = stampClockMs.getAsLong();
            try {
                Rejoin.How how = Rejoin.asStandbyOf(mine, source);
                stoppedLeadingAtMs = 0;
                rejoin = RejoinStatus.IDLE;
                LOG.warning(() -> "failover agent " + config.region() + ": my database " + how.name().toLowerCase() + " from "
                        + leader + " and streams as its standby (" + (stampClockMs.getAsLong() - started) + " ms)");
            } catch (RuntimeException e) {
                String why = ProcessRunner.firstLine(e.getMessage());
                rejoin = new RejoinStatus(false, why, stampClockMs.getAsLong());
                LOG.log(Level.WARNING, "failover agent " + config.region() + ": rejoining as a standby of " + leader
                        + " failed: " + why, e);
            }
        });
    }

    /**
     * The handover's target never recorded its leadership: clear the handover (a compare-and-set, so the target's own
     * record write, expecting the old record, fails from now on), then start my cleanly stopped database. False when
     * the record changed first (the target took over after all): the next tick decides on the new record.
     */
    private boolean reclaim(Decision d, Facts f) {
        ClusterRecord rec = f.record();
        if (!rec.handoverTo().isEmpty()) {
            ClusterRecord next = rec.withHandoverTo("");
            boolean cleared = attempt(() -> coordinator.compareAndSetRecord(rec, next), false);
            if (!cleared) {
                return false;
            }
            lastRecord = next;
        }
        if (!config.databases().get(config.region()).startUnlessBusy()) {
            throw new IllegalStateException("my database's lifecycle lock is held (a rejoin or ./ledger is working on it)");
        }
        stoppedLeadingAtMs = 0;
        // A switchover call still waiting (30 s) answers with this instead of timing out.
        switchoverAbandoned = d.explanation();
        switchoversAbandoned++;
        return true;
    }

    /**
     * Starts my database, stopped cleanly right after a handover, as {@code leader}'s standby without a rewind (its
     * WAL is a prefix of the leader's history). When a failed clone removed its data, rejoining (cloning) is the only
     * way: retried every {@link FailoverStateMachine#REJOIN_RETRY_MS}.
     */
    private boolean followWithoutRewind(String leader, Facts f) {
        PgCluster mine = config.databases().get(config.region());
        if (!mine.isInitialised()) {
            if (f.nowMs() - f.rejoin().lastFailureAtMs() > FailoverStateMachine.REJOIN_RETRY_MS) {
                startRejoin(leader);
            }
            return false;
        }
        mine.exclusively(() -> {
            if (mine.isRunning()) {
                throw new IllegalStateException("my database runs: not reconfiguring it under itself");
            }
            mine.followPrimary(config.databases().get(leader), mine.name());
            mine.start();
            return null;
        });
        stoppedLeadingAtMs = 0;
        rejoin = RejoinStatus.IDLE;
        return true;
    }

    private boolean takeOver(Facts f) throws Exception {
        long startedMs = stampClockMs.getAsLong();
        ClusterRecord rec = f.record();
        PgProbe.State db = f.db();
        boolean handover = rec.handoverTo().equals(config.region());
        String previous = rec.leader();
        StepTimes steps = new StepTimes(nanoClock);
        hooks.takeoverBegins();
        // Who confirms our commits from the first one: the WAL keeper always (and the old leader after a
        // handover, once it rejoined) — never one site alone (docs/decisions/0004).
        List<String> sync = machine.newTermSyncSet(rec);
        List<String> commit = machine.newTermCommitSet(rec);
        long epoch;
        probe.openCommittingSession(SYNC_PROBE_BOUND);
        try {
            if (!db.primary()) {
                probe.promote();
            }
            steps.done("promote");
            long maxReported = f.reports().values().stream().mapToLong(Coordinator.RegionReport::databaseEpoch).max().orElse(0);
            PgProbe.State now = probe.observe();
            epoch = Math.max(Math.max(rec.epoch(), now.epoch()), maxReported) + 1;
            probe.prepareTerm(commit, config.hasKeeper() ? List.of(machine.other(), WalKeeper.NAME) : List.of(machine.other()));
            // Before the record names this region (no site of the commit set can stream from it yet, so the probe is
            // conclusive): lead only once PostgreSQL itself holds commits for the commit set.
            awaitQuorumInForce(commit);
        } finally {
            // Unused when a site streamed already, nobody confirms, or a step failed: not left open.
            probe.closeCommittingSession();
        }
        steps.done("commit wait in force");
        String change = rec.isEmpty() ? "bootstrap: " + config.region() + " leads"
                : handover ? "switchover: " + previous + " handed over to " + config.region()
                : previous.equals(config.region()) ? "restart: " + config.region() + " leads again"
                : "failover: " + config.region() + " took over from " + previous + " (which released or lost the leader lock)";
        long tookMs = stampClockMs.getAsLong() - startedMs;
        ClusterRecord next = new ClusterRecord(epoch, config.region(), sync, commit, "", "", change, tookMs, stampClockMs.getAsLong());
        long confirmedAt = nanoClock.getAsLong();
        if (!coordinator.compareAndSetRecord(rec, next)) {
            coordinator.releaseLeadership();
            LOG.warning(() -> "failover agent " + config.region() + ": the cluster record changed under me; released the lock");
            return false;
        }
        steps.done("record");
        if (config.hasKeeper()) {
            // The keeper follows the region the record names; tell it now rather than at its next tick.
            coordinator.nudge(WalKeeper.NAME);
        }
        // After the record: a migration's commits wait for the commit set, whose sites (the WAL keeper) follow this
        // region only once the record names it.
        hooks.migrateSchema();
        steps.done("schema");
        if (!hooks.claimEpoch(epoch)) {
            coordinator.releaseLeadership();
            throw new IllegalStateException("the database already has epoch >= " + epoch + "; released the lock");
        }
        steps.done("epoch claim");
        waitOutDeposedLease();
        steps.done("deposed lease");
        // The CAS went through the CP group while this member held the lock: the lease counts from before it.
        leaseUntilNanos = confirmedAt + config.leaseMs() * 1_000_000L;
        if (leaseUntilNanos - nanoClock.getAsLong() < 0) {
            leaseUntilNanos = nanoClock.getAsLong();
        }
        hooks.lead(epoch, leaseUntilNanos, observedLedgerTime.reference());
        steps.done("writer");
        observedLedgerTime.forget();
        lastRecord = next;
        LOG.warning(() -> "failover agent " + config.region() + ": " + change + "; epoch " + epoch + "; commits confirmed by any of "
                + commit + "; serving " + (stampClockMs.getAsLong() - startedMs) + " ms after the takeover began (" + steps + ")");
        return true;
    }

    /**
     * Waits until PostgreSQL itself makes commits wait for a site of {@code commitSet}
     * ({@link PgProbe#commitsWaitForStandbys}); a reloaded synchronous_standby_names takes effect for commits only once
     * the checkpointer applied it, which a promotion's checkpoint can delay (issue #20 item 1). Asks for a checkpoint
     * while it is not in force (the checkpointer re-reads its configuration after it). Throws after
     * {@link #QUORUM_IN_FORCE_TIMEOUT_MS}: the takeover then fails and gives the lock back, and the next tick decides anew.
     */
    private void awaitQuorumInForce(List<String> commitSet) throws java.sql.SQLException, InterruptedException {
        if (commitSet.isEmpty()) {
            return; // nobody to wait for, and the record says so (policy DEGRADE)
        }
        long started = System.nanoTime();
        long deadline = started + QUORUM_IN_FORCE_TIMEOUT_MS * 1_000_000L;
        while (true) {
            PgProbe.State db = probe.observe();
            List<String> streaming = commitSet.stream().filter(db::streams).toList();
            if (!streaming.isEmpty()) {
                // The recorded leader leading again with its running primary: its sites already confirm commits, and a
                // quick confirmation would hide whether the probe commit was held; its setting did not change.
                LOG.info(() -> "failover agent " + config.region() + ": " + streaming + " already stream; not probing the commit wait");
                return;
            }
            if (probe.commitsWaitForStandbys(SYNC_PROBE_BOUND)) {
                return;
            }
            long leftMs = (deadline - System.nanoTime()) / 1_000_000;
            if (leftMs <= 0) {
                throw new IllegalStateException("PostgreSQL still acknowledges commits without any of " + commitSet + " after "
                        + QUORUM_IN_FORCE_TIMEOUT_MS / 1000 + " s (its checkpointer has not applied synchronous_standby_names):"
                        + " not leading, so that no write is acknowledged from one site");
            }
            if (System.nanoTime() - started < QUORUM_GRACE_MS * 1_000_000L) {
                Thread.sleep(QUORUM_PROBE_PAUSE_MS); // an idle checkpointer applies a reload within milliseconds
                continue;
            }
            LOG.warning(() -> "failover agent " + config.region() + ": PostgreSQL does not hold commits for " + commitSet
                    + " yet (its checkpointer has not applied the setting): requesting a checkpoint, then asking again");
            probe.requestCheckpoint(Math.min(leftMs, CHECKPOINT_NUDGE_MAX_MS));
            Thread.sleep(QUORUM_PROBE_PAUSE_MS);
        }
    }

    /**
     * A leader deposed on proof of death cannot serve; but should the proof be wrong (a firewall that rejects), its
     * lease — counted from before its last CP check, all of which precede the deposition — ends within one lease
     * of it. Nothing acknowledged is at stake either way (the WAL keeper is fenced, the standby promoted): this
     * protects linearizable reads.
     */
    private void waitOutDeposedLease() throws InterruptedException {
        if (deposedAtNanos == 0) {
            return;
        }
        long waitMs = (deposedAtNanos + config.leaseMs() * 1_000_000L - nanoClock.getAsLong()) / 1_000_000;
        deposedAtNanos = 0;
        if (waitMs > 0) {
            Thread.sleep(waitMs);
        }
    }

    private void renew(long t0) {
        leaseUntilNanos = t0 + config.leaseMs() * 1_000_000L;
        hooks.extendLease(leaseUntilNanos);
    }

    private void stopServing(String reason) {
        leaseUntilNanos = nanoClock.getAsLong();
        hooks.stopServing(reason);
    }

    private void settle(Role next, String why) {
        Role before = role;
        if (next != before) {
            LOG.warning(() -> "failover agent " + config.region() + ": " + before + " -> " + next + ": " + why);
        } else if (!Objects.equals(why, explanation)) {
            LOG.info(() -> "failover agent " + config.region() + ": " + why);
        }
        if (before == Role.STARTING && next == Role.DEMOTED && stoppedLeadingAtMs == 0) {
            // Restarted during its own handover (FailoverStateMachine): the handover deadline counts from now.
            stoppedLeadingAtMs = stampClockMs.getAsLong();
        }
        if (next == Role.TAKING_OVER && before != Role.TAKING_OVER) {
            takingOverSinceMs = stampClockMs.getAsLong();
        } else if (next != Role.TAKING_OVER) {
            takingOverSinceMs = 0;
        }
        if (next == Role.LEADER && before != Role.LEADER) {
            leadingSinceNanos = nanoClock.getAsLong();
        } else if (next != Role.LEADER) {
            leadingSinceNanos = 0;
        }
        role = next;
        explanation = why;
    }


    @FunctionalInterface
    private interface CpCall<T> {
        T call() throws CoordinatorUnavailable;
    }

    private <T> T attempt(CpCall<T> call, T onFailure) {
        try {
            return call.call();
        } catch (CoordinatorUnavailable e) {
            LOG.fine(() -> "CP call failed: " + e.getMessage());
            return onFailure;
        }
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        rejoinExecutor.shutdownNow();
    }
}
