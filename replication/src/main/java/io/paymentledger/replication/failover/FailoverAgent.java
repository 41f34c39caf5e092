package io.paymentledger.replication.failover;

import io.paymentledger.replication.coordinator.ClusterRecord;
import io.paymentledger.replication.coordinator.Coordinator;
import io.paymentledger.replication.coordinator.Coordinator.CoordinatorUnavailable;
import io.paymentledger.replication.failover.FailoverStateMachine.Decision;
import io.paymentledger.replication.failover.FailoverStateMachine.Facts;
import io.paymentledger.replication.failover.FailoverStateMachine.Role;
import io.paymentledger.replication.failover.FailoverStateMachine.Step;
import io.paymentledger.replication.postgres.PgCluster;
import io.paymentledger.replication.postgres.PgProbe;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One region's failover agent: the HA loop. Every tick it observes (CP record and lock, its own database,
 * the writer), asks the {@link FailoverStateMachine}, performs the one step decided, and logs the decision
 * when it changes. It runs in the ledger node's process, next to the writer it controls.
 */
public final class FailoverAgent implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(FailoverAgent.class.getName());

    /** What the agent needs from the ledger node it runs in. */
    public interface LeaderHooks {
        /** Brings the schema up to date (only ever called on the primary, before leading). */
        void migrateSchema() throws Exception;

        /** Stores the epoch in the database (fails when the stored one is not lower). */
        boolean claimEpoch(long epoch) throws Exception;

        /** Starts writing under {@code epoch} until {@code leaseUntilNanos} (System.nanoTime scale). */
        void lead(long epoch, long leaseUntilNanos);

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
     *                   where it streams from after a handover)
     * @param tickMs     HA loop period
     * @param leaseMs    how long a successful CP check lets the leader serve; must be shorter than the CP session
     *                   TTL minus its heartbeat interval, so a cut-off leader stops before anyone can take over
     */
    public record Config(String region, Map<String, PgCluster> databases, long tickMs, long leaseMs,
            FailoverStateMachine.SyncLossPolicy policy) {
        public Config {
            databases = Map.copyOf(databases);
            if (!databases.containsKey(region)) {
                throw new IllegalArgumentException("no database for region " + region);
            }
        }
    }

    private final Config config;
    private final Coordinator coordinator;
    private final LeaderHooks hooks;
    private final FailoverStateMachine machine;
    private final PgProbe probe;
    private final LongSupplier nanoClock;
    private final LongSupplier wallClockMs;
    private final Thread thread;
    private final AtomicReference<String> switchoverTo = new AtomicReference<>();

    private volatile Role role = Role.STARTING;
    private volatile String explanation = "starting";
    private volatile ClusterRecord lastRecord = ClusterRecord.EMPTY;
    private volatile PgProbe.State lastDb = PgProbe.State.down("not observed yet");
    private volatile boolean cpOk;
    private volatile int cpMembersAlive = -1;
    private volatile boolean closed;
    private long leaseUntilNanos;
    private long stoppedLeadingAtMs;
    private long lastReportMs;
    private long lastMaintainMs;

    public FailoverAgent(Config config, Coordinator coordinator, LeaderHooks hooks) {
        this(config, coordinator, hooks, System::nanoTime, System::currentTimeMillis);
    }

    FailoverAgent(Config config, Coordinator coordinator, LeaderHooks hooks, LongSupplier nanoClock, LongSupplier wallClockMs) {
        this.config = config;
        this.coordinator = coordinator;
        this.hooks = hooks;
        this.machine = new FailoverStateMachine(config.region(), List.copyOf(config.databases().keySet()), config.policy(), 15_000);
        this.probe = new PgProbe(config.databases().get(config.region()), "ledger");
        this.nanoClock = nanoClock;
        this.wallClockMs = wallClockMs;
        this.thread = Thread.ofPlatform().name("failover-agent-" + config.region()).daemon(true).unstarted(this::loop);
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

    public boolean coordinatorReachable() {
        return cpOk;
    }

    public String region() {
        return config.region();
    }

    /** CP members alive at the last check (every 2 s), -1 when unknown. */
    public int cpMembersAlive() {
        return cpMembersAlive;
    }

    /** Asks this (leading) agent to hand over to {@code region}. */
    public void requestSwitchover(String region) {
        switchoverTo.set(region);
    }

    private void loop() {
        while (!closed) {
            long started = nanoClock.getAsLong();
            try {
                tick();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "failover agent: tick failed", e);
            }
            long sleepMs = config.tickMs() - (nanoClock.getAsLong() - started) / 1_000_000;
            if (sleepMs > 0) {
                try {
                    Thread.sleep(sleepMs);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    /** One HA loop iteration (public for deterministic tests). */
    public void tick() {
        long t0 = nanoClock.getAsLong();
        Facts facts = observe(t0);
        Decision d = machine.decide(role, facts);
        if (d.step() == Step.TRY_LOCK) {
            boolean got = attempt(() -> coordinator.tryAcquireLeadership(), false);
            if (!got) {
                ClusterRecord rec = facts.record();
                settle(d.next(), rec.isEmpty() ? "waiting for the bootstrap leader to take the lock"
                        : "no action: I am " + config.region() + ", following " + rec.leader() + " (it holds the leader lock, epoch "
                        + rec.epoch() + "); my database " + (facts.db().primary() ? "is a primary" : "replays "
                        + facts.db().replayLagBytes() + " bytes behind"));
                return;
            }
            facts = new Facts(facts.nowMs(), null, true, false, facts.record(), facts.reports(), facts.db(), facts.writeFault(),
                    facts.switchoverTo(), facts.writerIdle(), stoppedLeadingAtMs);
            d = machine.decide(role, facts);
        }
        perform(d, facts, t0);
    }

    private Facts observe(long t0) {
        PgProbe.State db = probe.observe();
        lastDb = db;
        long now = wallClockMs.getAsLong();
        String cpError = null;
        boolean holds = false;
        ClusterRecord rec = lastRecord;
        Map<String, Coordinator.RegionReport> reports = Map.of();
        try {
            rec = coordinator.readRecord();
            // Asked every tick whatever the role: a takeover that failed half-way must not keep the lock unnoticed.
            holds = coordinator.holdsLeadership();
            if (rec.isEmpty() || now - lastReportMs > 2_000) {
                coordinator.report(config.region(), new Coordinator.RegionReport(db.up(), db.up() && db.primary(), db.epoch(), now));
                lastReportMs = now;
            }
            if (rec.isEmpty()) {
                reports = coordinator.reports(config.databases().keySet());
            }
            cpOk = true;
        } catch (CoordinatorUnavailable e) {
            cpError = e.getMessage();
            cpOk = false;
        }
        lastRecord = rec;
        if (now - lastMaintainMs > 2_000) {
            lastMaintainMs = now;
            String upkeep = coordinator.maintain();
            cpMembersAlive = coordinator.cpMembersAlive();
            if (!upkeep.isEmpty() && !upkeep.startsWith("already")) {
                LOG.info(() -> "failover agent " + config.region() + ": coordinator: " + upkeep);
            }
        }
        String fault = hooks.takeWriteFault();
        boolean leaseValid = t0 - leaseUntilNanos < 0;
        return new Facts(now, cpError, holds, leaseValid, rec, reports, db, fault, switchoverTo.get(), hooks.writerIdle(),
                stoppedLeadingAtMs);
    }

    private void perform(Decision d, Facts f, long t0) {
        try {
            switch (d.step()) {
                case NONE, TRY_LOCK -> { }
                case TAKE_OVER -> {
                    if (!takeOver(f, t0)) {
                        return;
                    }
                }
                case RENEW -> renew(t0, f);
                case ADD_SYNC -> {
                    if (role == Role.LEADER) {
                        renew(t0, f);
                    }
                    addSync(f, d.region());
                }
                case REMOVE_SYNC -> {
                    renew(t0, f);
                    if (coordinator.compareAndSetRecord(f.record(), f.record().withSyncStandbys(List.of()))) {
                        probe.setSynchronousStandbys(List.of());
                    }
                }
                case STOP_SERVING -> stopServing(d.explanation());
                case STOP_AND_RELEASE -> {
                    stopServing(d.explanation());
                    attempt(() -> {
                        coordinator.releaseLeadership();
                        return true;
                    }, false);
                }
                case HAND_OVER -> {
                    if (!coordinator.compareAndSetRecord(f.record(), f.record().withHandoverTo(d.region()))) {
                        return;
                    }
                    stoppedLeadingAtMs = f.nowMs();
                    coordinator.releaseLeadership();
                    switchoverTo.set(null);
                    // Our database is done as a primary: stop it now (clean shutdown, its last WAL reaches the
                    // target) so that rejoining later is only a rewind and a start.
                    config.databases().get(config.region()).stop();
                }
                case REJOIN -> {
                    PgCluster mine = config.databases().get(config.region());
                    Rejoin.asStandbyOf(mine, config.databases().get(d.region()));
                    stoppedLeadingAtMs = 0;
                }
            }
            settle(d.next(), d.explanation());
        } catch (Exception e) {
            String why = d.step() + " failed: " + e.getMessage();
            LOG.log(Level.WARNING, "failover agent " + config.region() + ": " + why, e);
            if (d.step() == Step.TAKE_OVER || (role == Role.LEADER && d.next() != Role.LEADER)) {
                // Half a takeover is no takeover: stop serving and give the lock back; the next tick decides anew.
                stopServing(why);
                attempt(() -> {
                    coordinator.releaseLeadership();
                    return true;
                }, false);
            }
        }
    }

    private boolean takeOver(Facts f, long t0) throws Exception {
        long startedMs = wallClockMs.getAsLong();
        ClusterRecord rec = f.record();
        PgProbe.State db = f.db();
        boolean handover = rec.handoverTo().equals(config.region());
        String previous = rec.leader();
        if (!db.primary()) {
            config.databases().get(config.region()).promote();
        }
        hooks.migrateSchema();
        long maxReported = f.reports().values().stream().mapToLong(Coordinator.RegionReport::databaseEpoch).max().orElse(0);
        PgProbe.State now = probe.observe();
        long epoch = Math.max(Math.max(rec.epoch(), now.epoch()), maxReported) + 1;
        String other = machine.other();
        // Who must confirm our commits from the start of the term: the old leader after a handover (it rejoins
        // within seconds); at bootstrap the other region if it reports a standby (policy BLOCK); after a
        // failover nobody (the old primary is gone; it is added back once it streams again).
        Coordinator.RegionReport otherReport = f.reports().get(other);
        boolean otherIsStandby = otherReport != null && otherReport.databaseUp() && !otherReport.databasePrimary();
        List<String> sync = handover ? List.of(previous)
                : rec.isEmpty() && otherIsStandby && config.policy() == FailoverStateMachine.SyncLossPolicy.BLOCK
                ? List.of(other) : List.of();
        probe.setSynchronousStandbys(sync);
        probe.ensureSlot(other);
        String change = rec.isEmpty() ? "bootstrap: " + config.region() + " leads"
                : handover ? "switchover: " + previous + " handed over to " + config.region()
                : "failover: " + config.region() + " took over from " + previous + " (which released or lost the leader lock)";
        long tookMs = wallClockMs.getAsLong() - startedMs;
        ClusterRecord next = new ClusterRecord(epoch, config.region(), sync, "", change, tookMs, wallClockMs.getAsLong());
        long confirmedAt = nanoClock.getAsLong();
        if (!coordinator.compareAndSetRecord(rec, next)) {
            coordinator.releaseLeadership();
            LOG.warning(() -> "failover agent " + config.region() + ": the cluster record changed under me; released the lock");
            return false;
        }
        if (!hooks.claimEpoch(epoch)) {
            coordinator.releaseLeadership();
            throw new IllegalStateException("the database already has epoch >= " + epoch + "; released the lock");
        }
        // The CAS went through the CP group while this member held the lock: the lease counts from before it.
        leaseUntilNanos = confirmedAt + config.leaseMs() * 1_000_000L;
        hooks.lead(epoch, leaseUntilNanos);
        lastRecord = next;
        LOG.warning(() -> "failover agent " + config.region() + ": " + change + "; epoch " + epoch + "; serving "
                + tookMs + " ms after taking the lock (promotion + new term)");
        return true;
    }

    private void renew(long t0, Facts f) throws java.sql.SQLException {
        leaseUntilNanos = t0 + config.leaseMs() * 1_000_000L;
        hooks.extendLease(leaseUntilNanos);
        List<String> sync = f.record().syncStandbys();
        if (!sync.isEmpty() && !sync.stream().allMatch(s -> f.db().synchronousStandbyNames().contains("\"" + s + "\""))) {
            probe.setSynchronousStandbys(sync);
        }
    }

    private void addSync(Facts f, String region) throws Exception {
        PgProbe.Standby s = f.db().standby(region);
        if (!f.db().synchronousStandbyNames().contains("\"" + region + "\"")) {
            probe.setSynchronousStandbys(List.of(region));
            return;
        }
        if (s != null && "sync".equals(s.syncState())) {
            coordinator.compareAndSetRecord(f.record(), f.record().withSyncStandbys(List.of(region)));
        }
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
    }
}
