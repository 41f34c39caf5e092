package io.paymentledger.cli.drill;

import io.paymentledger.api.v1.NodeRole;
import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.cli.chaos.FaultClass;
import io.paymentledger.cli.chaos.Injector;
import io.paymentledger.cli.command.KillCommand;
import io.paymentledger.cli.command.RestoreCommand;
import io.paymentledger.cli.command.SwitchoverCommand;
import io.paymentledger.cli.deploy.Clients;
import io.paymentledger.cli.deploy.DeploymentSecurity;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.RollingRestart;
import io.paymentledger.cli.deploy.SiteHealth;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.cli.deploy.WitnessProcess;
import io.paymentledger.ledger.read.LedgerChecks;
import io.paymentledger.replication.walkeeper.WalKeeper;
import io.vertx.core.json.JsonObject;
import java.io.PrintStream;
import java.nio.file.Files;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Failure drills on the running local deployment, each under a steady write workload, each ending with the
 * proof that every acknowledged transfer is in the ledger exactly once and every ledger sums to zero. Used by
 * `./ledger drill`, by the runbooks, and by the integration tests. While a drill runs, every node's status is
 * sampled ({@link DurabilityWatch}) to measure how long it took until every acknowledged write was in two sites
 * again, and to check that no leader ever served without a second site in its commit quorum.
 *
 * <p>Every drill starts from, and restores, the normal state: region a leads, b and the WAL keeper are in its
 * commit quorum, the witness runs. Restoring a former primary needs no operator: it rejoins by itself.
 */
public final class Drills implements AutoCloseable {

    /** How long the workload runs on after writes resumed, before it stops and everything is verified. */
    static final Duration AFTER_RECOVERY = Duration.ofSeconds(2);
    /** A drill gives up waiting for writes to resume after this long (a region loss and restore after this). */
    static final Duration RESUME_TIMEOUT = Duration.ofSeconds(45);
    static final Duration LOSE_TWO_RESUME_TIMEOUT = Duration.ofMinutes(4);
    /** How long the passive region or the witness stays down. */
    static final Duration DOWNTIME = Duration.ofSeconds(3);
    /** A former primary must have rejoined (by itself) within this. */
    static final Duration REJOIN_TIMEOUT = Duration.ofSeconds(120);
    /** Node status is sampled this often during a drill. */
    static final long SAMPLE_INTERVAL_MS = 100;

    public enum Scenario {
        KILL_LEADER_NODE, KILL_LEADER_POSTGRES, KILL_LEADER_REGION, KILL_PASSIVE_REGION, KILL_WITNESS, SWITCHOVER,
        /** The active region dies; after the failover and more writes, the new leader's region dies with its data. */
        LOSE_TWO,
        /**
         * The leader's node is paused (SIGSTOP) for {@link #PAUSE}, longer than its CP session TTL: the zombie leader.
         * Its peers see silence, not a refused connection, so b takes over only when the session expires; when a
         * wakes, it must neither answer nor commit, and it rejoins as b's standby by itself.
         */
        PAUSE_LEADER_NODE,
        /** The leader's PostgreSQL is paused for {@link #PAUSE}: its node must stop and hand over, not hang. */
        PAUSE_LEADER_POSTGRES,
        /**
         * Every link of the leader's region is cut for {@link #CUT} (sites in network namespaces only): its node must
         * stop within its lease and never acknowledge what it could not replicate; b takes over; once the links are
         * back a rejoins as b's standby by itself.
         */
        ISOLATE_LEADER_REGION,
        /** The link between the two regions is cut both ways for {@link #CUT}; both still reach the witness. */
        PARTITION_LEADER_STANDBY,
        /** Only what the leader's region sends to the standby's is dropped, for {@link #CUT}. */
        CUT_LEADER_TO_STANDBY,
        /** Every link of the witness is cut for {@link #CUT}: the regions carry on between them. */
        ISOLATE_WITNESS,
        /**
         * The leader's wall clock jumps {@link #CLOCK_JUMP} ahead, then as far behind real time, then back (libfaketime;
         * needs `./ledger up --clock-faults`). Nothing may notice but the clock: no failover needed, no client error, a
         * hold made before the jump does not expire early, ledger time keeps real time's pace while the clock is behind.
         */
        CLOCK_JUMP_LEADER,
        /**
         * The leader's writer stalls while its processes stay healthy: a session of the drill holds the row its commits
         * check the epoch on (what a stuck lock, a forgotten admin transaction or a writer bug looks like). The leader
         * must notice within its bounds (the sessions' lock_timeout, the stall watchdog), stop serving, say why, and
         * release the lock; b takes over, and the old leader rejoins by itself.
         */
        WRITER_STALL_LEADER,
        /**
         * Issue #18: b's node is paused (SIGSTOP) and at once asked to take over by a switchover, then region b is
         * killed. a must not wait for b for good: it either does not hand over (b's node is silent) or, having handed
         * over to a b that never recorded its leadership, takes leadership back under a new epoch by itself (12 s).
         */
        SWITCHOVER_TO_FROZEN_TARGET,
        /**
         * Issue #19, no false failovers: the leader's node is paused {@link #SHORT_PAUSES} times for
         * {@link #SHORT_PAUSE} each (a GC pause; `--hold-seconds` to change it), {@link #SHORT_PAUSE_GAP} apart. Below the
         * detection timers nothing may fail over: the same region leads with the same epoch throughout.
         */
        SHORT_PAUSES_LEADER_NODE,
        /** The same, pausing the witness (CP member and WAL keeper): the regions must not notice beyond a moment. */
        SHORT_PAUSES_WITNESS,
        /**
         * Issue #23: {@code ./ledger restart --rolling} without the router (the workload goes through it): every other
         * process restarted one at a time, a switchover in the middle. No client error; the write gap per step.
         */
        ROLLING_RESTART;

        /** Does the drill cut links between sites (it needs `./ledger up --sites netns`)? */
        public boolean cutsLinks() {
            return this == ISOLATE_LEADER_REGION || this == PARTITION_LEADER_STANDBY || this == CUT_LEADER_TO_STANDBY
                    || this == ISOLATE_WITNESS;
        }

        /** Whether the deployment must have been started with `./ledger up --clock-faults`. */
        public boolean needsClockFaults() {
            return this == CLOCK_JUMP_LEADER;
        }
    }

    /** How long a network fault stays in place: twice the CP session TTL. */
    static final Duration CUT = Duration.ofSeconds(6);

    /** How far the leader's wall clock jumps, each way. */
    static final Duration CLOCK_JUMP = Duration.ofSeconds(30);
    /** How long the clock stays ahead, then behind, before the next jump. */
    static final Duration CLOCK_HOLD = Duration.ofSeconds(6);
    /**
     * The timeout of the hold made just before the forward jump: less than the jump plus {@link #CLOCK_HOLD}, so a
     * writer that measured its time on the wall clock would expire it while the clock is ahead.
     */
    static final int CLOCK_HOLD_TIMEOUT_S = 20;
    /** While the leader's clock is behind, ledger time must advance at least this fraction of real time. */
    static final double LEDGER_PACE_MIN = 0.5;

    /** A GC-like pause, and how many, how far apart ({@link Scenario#SHORT_PAUSES_LEADER_NODE}). */
    static final Duration SHORT_PAUSE = Duration.ofMillis(2_000);
    static final int SHORT_PAUSES = 5;
    static final Duration SHORT_PAUSE_GAP = Duration.ofSeconds(3);

    /** How long a paused process stays paused: twice the CP session TTL. */
    static final Duration PAUSE = Duration.ofSeconds(6);

    /**
     * @param outageMs     what clients felt: for a fault in the leading region, the time from the fault to the first
     *                     acknowledged write of an attempt made after it, or the longest stretch without an acknowledged
     *                     write after the fault when that is longer; for LOSE_TWO, from the second loss to the first
     *                     write acknowledged after the restore (the recovery time); for the other scenarios (switchover,
     *                     the witness, the passive region) the longest stretch without any acknowledged write
     * @param longestGapMs longest stretch without an acknowledged write after the fault
     * @param errors       client-visible errors by kind (each was retried with the same ids)
     * @param problems     what verification found wrong (must be empty)
     * @param syncCopiesBackMs      from the fault until a leader reported every acknowledged write in two sites again
     *                              (0: never less; -1: not within the drill)
     * @param servedWithoutSecondSite  status samples in which a leader served with an empty commit quorum (must be 0)
     * @param acknowledgedDuringFault  calls acknowledged while the lost site was down (passive region, witness)
     * @param events             events a merchant's subscriber received during the run, through the same target as the
     *                           workload (-1: no subscriber, the workload went straight to the leader); its problems
     *                           (an acknowledged transfer that never arrived, an event that arrived twice) are in
     *                           {@code problems}
     * @param streamResumes      how often that subscriber had to open a new stream from its last cursor
     */
    public record Result(Scenario scenario, long outageMs, long longestGapMs, int acknowledged, Map<String, Long> errors,
            List<String> problems, String detail, long syncCopiesBackMs, int servedWithoutSecondSite, long acknowledgedDuringFault,
            long events, int streamResumes) {}

    /** What a fault injection did: when the fault that counts happened, and when the site was down. */
    private record Injected(String detail, long faultNanos, long downFromNanos, long downToNanos) {}

    private final LocalDeployment d;
    private final Clients clients;
    /** The workload's calls come from a merchant (through the router, a merchant certificate is how they get in). */
    private final Clients merchant;
    private final LeaderTracker tracker;
    private final boolean viaRouter;
    private final PrintStream out;
    /** The site whose CP member leads the CP groups' Raft when a run starts (null: wherever it is). */
    private String raftLeader;
    private int writers = 6;
    private Duration faultHold;
    private long callTimeoutMs;

    /**
     * @param viaRouter  the workload talks to the region router (as merchants do) rather than to whichever node
     *                   leads; calls then carry a 20 s deadline so the router can hold them across a failover
     */
    public Drills(LocalDeployment d, boolean viaRouter) {
        this.d = d;
        this.clients = Clients.operator(d.topology());
        DeploymentSecurity security = d.security();
        this.merchant = Clients.tls(security, security.merchant(DeploymentSecurity.LOAD_MERCHANT));
        this.tracker = new LeaderTracker(d.topology(), clients);
        this.viaRouter = viaRouter;
        this.out = new PrintStream(java.io.OutputStream.nullOutputStream());
        this.callTimeoutMs = viaRouter ? 20_000 : 3_000;
    }

    /** Each run starts with the CP groups' Raft leadership on {@code site}'s member (null: wherever it is). */
    public void raftLeader(String site) {
        this.raftLeader = site;
    }

    /** How long cuts and pauses are held (null: {@link #CUT} / {@link #PAUSE}). */
    public void faultHold(Duration hold) {
        this.faultHold = hold;
    }

    private Duration held(Duration byDefault) {
        return faultHold == null ? byDefault : faultHold;
    }

    /** The workload's writers and each call's deadline. */
    public void workload(int writers, long callTimeoutMs) {
        this.writers = writers;
        this.callTimeoutMs = callTimeoutMs;
    }

    /**
     * Brings the deployment to: a leads; b (rejoined by itself if it was a former primary) and the WAL keeper stream
     * in its commit quorum; all three CP members alive.
     */
    public void normalise() throws Exception {
        new io.paymentledger.cli.chaos.Faults(d).heal();
        d.up();
        NodeStatus leader = d.awaitLeader(Duration.ofSeconds(60));
        String other = d.topology().otherRegion(leader.getRegion());
        awaitQuorum(leader.getRegion(), other, REJOIN_TIMEOUT);
        if (!leader.getRegion().equals(LocalDeployment.FIRST_PRIMARY)) {
            SwitchoverCommand.switchover(d, LocalDeployment.FIRST_PRIMARY);
        }
        awaitQuorum(LocalDeployment.FIRST_PRIMARY, d.topology().otherRegion(LocalDeployment.FIRST_PRIMARY), REJOIN_TIMEOUT);
        awaitQuorum(LocalDeployment.FIRST_PRIMARY, WalKeeper.NAME, Duration.ofSeconds(60));
        awaitFullCpGroup(Duration.ofSeconds(60));
    }

    private void awaitFullCpGroup(Duration timeout) {
        SiteHealth.awaitFullCpGroup(d.topology(), clients, timeout);
    }

    private void awaitQuorum(String leader, String site, Duration timeout) {
        SiteHealth.awaitQuorum(d.topology(), clients, leader, site, timeout);
    }

    public Result run(Scenario scenario) throws Exception {
        normalise();
        if (scenario.needsClockFaults() && !new io.paymentledger.cli.chaos.ClockFaults(d.topology()).enabled()) {
            throw new IllegalStateException(scenario + " needs a deployment started with ./ledger up --clock-faults");
        }
        clockProblems.clear();
        String runId = scenario.name().toLowerCase().replace('_', '-') + "-" + UUID.randomUUID().toString().substring(0, 8);
        java.util.function.Supplier<io.vertx.core.net.SocketAddress> target = viaRouter
                ? () -> Clients.loopback(d.topology().routerPort()) : tracker;
        String placement = "";
        if (raftLeader != null) {
            long ms = io.paymentledger.cli.deploy.Coordination.moveRaftLeader(d.topology(), raftLeader, Duration.ofSeconds(30));
            placement = "; CP Raft leader " + raftLeader + " (moved in " + ms + " ms)";
        }
        EventWitness events = null;
        try (Workload w = new Workload(merchant.grpc(), target, runId, DeploymentSecurity.LOAD_MERCHANT, writers,
                callTimeoutMs);
                DurabilityWatch watch = new DurabilityWatch(d.topology(), clients)) {
            // A merchant following its accounts' events through the router, from before the first write (issue #21).
            if (viaRouter) {
                List<String> accounts = new ArrayList<>(w.accountIds());
                accounts.addAll(EventWitness.probes(runId));
                events = new EventWitness(merchant.grpc(), merchant.vertx(), target, accounts);
                events.awaitLive(runId, w::createAccount);
            }
            w.setUp();
            w.start();
            LocalDeployment.sleep(1_500);
            long t0 = System.nanoTime();
            Injected inj = inject(scenario, w);
            long fault = inj.faultNanos() == 0 ? t0 : inj.faultNanos();
            // Let the workload run on the new leader for a while before stopping it.
            long deadline = System.nanoTime() + (scenario == Scenario.LOSE_TWO ? LOSE_TWO_RESUME_TIMEOUT : RESUME_TIMEOUT).toNanos();
            // ...and until a leader reports every acknowledged write in two sites again (what the drill measures).
            while (w.firstAckAfter(fault) < 0 || (System.nanoTime() - w.firstAckAfter(fault)) < AFTER_RECOVERY.toNanos()
                    || watch.backToTwoMsAfter(fault) < 0) {
                if (System.nanoTime() > deadline) {
                    break;
                }
                LocalDeployment.sleep(100);
            }
            // What the wait above saw: a sample taken while the workload winds down, in which a node busy with a JIT
            // compilation missed the 2 s status deadline, says nothing about durability but would read as "not back".
            long backToTwoMs = watch.backToTwoMsAfter(fault);
            w.stop();
            watch.stop();
            long firstAck = w.firstAckAfter(fault);
            boolean fromFault = scenario == Scenario.KILL_LEADER_NODE || scenario == Scenario.KILL_LEADER_POSTGRES
                    || scenario == Scenario.KILL_LEADER_REGION || scenario == Scenario.LOSE_TWO
                    || scenario == Scenario.PAUSE_LEADER_NODE || scenario == Scenario.PAUSE_LEADER_POSTGRES
                    || scenario == Scenario.ISOLATE_LEADER_REGION || scenario == Scenario.CLOCK_JUMP_LEADER
                    || scenario == Scenario.WRITER_STALL_LEADER || scenario == Scenario.SWITCHOVER_TO_FROZEN_TARGET;
            // From the fault to the first acknowledgement of an attempt made after it — or, when longer, the longest
            // stretch without any acknowledgement after the fault: the fault's instant is taken before it takes effect
            // (a kill is a command), so a write acknowledged in between made a kill look like a 0.2 s outage while
            // writes then stopped for 5 s (issue #19).
            long outageMs = !fromFault ? w.longestGapMsAfter(t0 - 500_000_000L) : firstAck < 0 ? -1
                    : scenario == Scenario.LOSE_TWO ? (firstAck - fault) / 1_000_000
                    : Math.max((firstAck - fault) / 1_000_000, w.longestGapMsAfter(fault));
            List<String> problems = new ArrayList<>(w.verify());
            if (firstAck < 0) {
                problems.add("no write was acknowledged within " + (scenario == Scenario.LOSE_TWO ? LOSE_TWO_RESUME_TIMEOUT
                        : RESUME_TIMEOUT).toSeconds() + " s after the fault");
            }
            problems.addAll(w.timestampOrderProblems());
            problems.addAll(clockProblems);
            clockProblems.clear();
            problems.addAll(checkLeaderDatabase());
            String eventDetail = "";
            if (events != null) {
                problems.addAll(events.check(w.acknowledgedIds()));
                eventDetail = "; " + events.summary();
            }
            long duringFault = inj.downFromNanos() == 0 ? 0 : w.acknowledgedBetween(inj.downFromNanos(), inj.downToNanos());
            return new Result(scenario, outageMs, w.longestGapMsAfter(t0), w.acknowledgedCount(), w.errors(), problems,
                    inj.detail() + placement + eventDetail, backToTwoMs, watch.servedWithoutSecondSite(t0), duringFault,
                    events == null ? -1 : events.received(), events == null ? 0 : events.resumes());
        } finally {
            if (events != null) {
                events.close();
            }
            normalise();
        }
    }

    private Injected inject(Scenario scenario, Workload w) throws Exception {
        switch (scenario) {
            case KILL_LEADER_NODE -> KillCommand.kill(d, "node-a");
            case KILL_LEADER_POSTGRES -> KillCommand.kill(d, "postgres-a");
            case KILL_LEADER_REGION -> KillCommand.kill(d, "region-a");
            case PAUSE_LEADER_NODE, PAUSE_LEADER_POSTGRES -> {
                String process = (scenario == Scenario.PAUSE_LEADER_NODE ? "node-" : "postgres-") + LocalDeployment.FIRST_PRIMARY;
                io.paymentledger.cli.chaos.Faults faults = new io.paymentledger.cli.chaos.Faults(d);
                long from = System.nanoTime();
                faults.pause(process);
                try {
                    LocalDeployment.sleep(held(PAUSE).toMillis());
                } finally {
                    faults.resume(process);
                }
                NodeStatus leader = d.awaitLeader(Duration.ofSeconds(60));
                return new Injected(process + " paused " + held(PAUSE).toSeconds() + " s; region " + leader.getRegion()
                        + " leads with epoch " + leader.getEpoch() + ": " + leader.getLastFailoverReason(), from, 0, 0);
            }
            case ISOLATE_LEADER_REGION, PARTITION_LEADER_STANDBY, CUT_LEADER_TO_STANDBY, ISOLATE_WITNESS -> {
                return cutLinks(scenario);
            }
            case KILL_WITNESS -> {
                long from = System.nanoTime();
                KillCommand.kill(d, LocalDeployment.WITNESS);
                LocalDeployment.sleep(DOWNTIME.toMillis());
                long to = System.nanoTime();
                d.startWitness();
                return new Injected("the witness (CP member and WAL keeper) was down " + DOWNTIME.toSeconds()
                        + " s; b confirmed the commits meanwhile", from, from, to);
            }
            case KILL_PASSIVE_REGION -> {
                long from = System.nanoTime();
                KillCommand.kill(d, "region-b");
                LocalDeployment.sleep(DOWNTIME.toMillis());
                long to = System.nanoTime();
                d.up();
                return new Injected("b was down " + DOWNTIME.toSeconds() + " s; the WAL keeper confirmed the commits meanwhile",
                        from, from, to);
            }
            case SWITCHOVER -> {
                var r = SwitchoverCommand.switchover(d, "b");
                return new Injected("switchover a -> b: pause reported by the old leader " + r.getPauseMs() + " ms", 0, 0, 0);
            }
            case LOSE_TWO -> {
                return loseTwo(w);
            }
            case CLOCK_JUMP_LEADER -> {
                return clockJump(w);
            }
            case SHORT_PAUSES_LEADER_NODE, SHORT_PAUSES_WITNESS -> {
                return shortPauses(scenario == Scenario.SHORT_PAUSES_WITNESS ? LocalDeployment.WITNESS
                        : "node-" + LocalDeployment.FIRST_PRIMARY);
            }
            case WRITER_STALL_LEADER -> {
                return stallLeadersWriter();
            }
            case SWITCHOVER_TO_FROZEN_TARGET -> {
                return switchoverToFrozenTarget();
            }
            case ROLLING_RESTART -> {
                return rollingRestart(w);
            }
        }
        NodeStatus leader = d.awaitLeader(Duration.ofSeconds(60));
        return new Injected("region " + leader.getRegion() + " leads with epoch " + leader.getEpoch() + ": "
                + leader.getLastFailoverReason(), 0, 0, 0);
    }

    /**
     * {@code ./ledger restart --rolling --no-router}; the detail names, per step, how long it took until the piece was
     * whole again and the longest stretch the workload went without an acknowledgement meanwhile.
     */
    private Injected rollingRestart(Workload w) {
        List<RollingRestart.Step> steps = new RollingRestart(d, step -> { }).all(false);
        StringBuilder per = new StringBuilder();
        for (RollingRestart.Step s : steps) {
            per.append(per.isEmpty() ? "" : "; ").append(s.what()).append(" ").append(s.millis()).append(" ms, write gap ")
                    .append(w.longestGapMsBetween(s.startNanos(), s.endNanos())).append(" ms");
        }
        NodeStatus leader = d.awaitLeader(Duration.ofSeconds(60));
        return new Injected("rolling restart (the router left running): " + per + "; region " + leader.getRegion()
                + " leads with epoch " + leader.getEpoch(), 0, 0, 0);
    }

    /**
     * Asks a to switch over to b and freezes b's node the moment a starts draining (a watcher on a's log): b has
     * reported within the last ~2 s, so a hands over and b never takes over. Should the switchover call reach a only
     * after b's report went stale, a does not hand over at all. Either way region b is killed afterwards and a must
     * lead again by itself.
     */
    private Injected switchoverToFrozenTarget() throws Exception {
        io.paymentledger.cli.chaos.Faults faults = new io.paymentledger.cli.chaos.Faults(d);
        java.nio.file.Path aLog = io.paymentledger.cli.deploy.Processes.logFile(d.topology(), "node-a");
        long logFrom = java.nio.file.Files.size(aLog);
        java.util.concurrent.atomic.AtomicLong pausedAt = new java.util.concurrent.atomic.AtomicLong();
        Thread freezer = Thread.ofPlatform().daemon(true).start(() -> {
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (System.nanoTime() < deadline) {
                try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(aLog.toFile(), "r")) {
                    if (f.length() > logFrom) {
                        byte[] tail = new byte[(int) Math.min(f.length() - logFrom, 4_000_000)];
                        f.seek(logFrom);
                        f.readFully(tail);
                        if (new String(tail, java.nio.charset.StandardCharsets.UTF_8).contains("DRAINING: switchover to b")) {
                            faults.pause("node-b");
                            pausedAt.set(System.nanoTime());
                            return;
                        }
                    }
                } catch (java.io.IOException e) {
                    // the log is being rotated or written: read again
                }
                LocalDeployment.sleep(5);
            }
        });
        String answer;
        try {
            var r = SwitchoverCommand.switchover(d, "b");
            answer = "switchover answered: " + r.getExplanation();
        } catch (Exception e) {
            answer = "switchover failed: " + e.getMessage();
        }
        freezer.join(1_000);
        if (pausedAt.get() == 0) {
            freezer.interrupt();
            faults.pause("node-b");
            pausedAt.set(System.nanoTime());
        }
        KillCommand.kill(d, "region-b");
        NodeStatus leader = d.awaitLeader(Duration.ofSeconds(60));
        return new Injected("node-b paused as a began draining, " + answer + "; region-b killed; region " + leader.getRegion()
                + " leads with epoch " + leader.getEpoch() + " " + (System.nanoTime() - pausedAt.get()) / 1_000_000
                + " ms after the pause", pausedAt.get(), 0, 0);
    }

    /**
     * Cuts links for {@link #CUT}, then heals them: the chaos run's fault class of the same name, on the leader (a,
     * normalised). When the leader's region is isolated the write gap counts from the cut; otherwise writes must go on
     * throughout (the window is the cut).
     */
    private Injected cutLinks(Scenario scenario) {
        FaultClass.Injection cut = FaultClass.valueOf(scenario.name()).inject(new Injector(d));
        String what = cut.done();
        // The fault is complete once its last rule is in (each takes a few ms to add): the clock starts then.
        long from = System.nanoTime();
        try {
            LocalDeployment.sleep(held(CUT).toMillis());
        } finally {
            cut.heal();
        }
        long to = System.nanoTime();
        NodeStatus leader = d.awaitLeader(Duration.ofSeconds(60));
        boolean leaderCut = scenario == Scenario.ISOLATE_LEADER_REGION;
        return new Injected(what + ", for " + held(CUT).toSeconds() + " s; region " + leader.getRegion() + " leads with epoch "
                + leader.getEpoch() + ": " + leader.getLastFailoverReason(), from, leaderCut ? 0 : from, leaderCut ? 0 : to);
    }

    /**
     * Losing two sites one after the other: region a (SIGKILL); after the failover and {@link #AFTER_RECOVERY} of
     * writes acknowledged by b, region b with its data directory destroyed. What remains is the witness: the region
     * is rebuilt from its newest base backup plus the WAL keeper's WAL (runbooks/restore.md), then everything starts
     * again and a, a former primary, rejoins by itself.
     */
    private Injected loseTwo(Workload w) throws Exception {
        awaitBaseBackup(Duration.ofSeconds(60));
        long first = System.nanoTime();
        KillCommand.kill(d, "region-a");
        NodeStatus b = d.awaitLeader(Duration.ofSeconds(60));
        long ackedByB = System.nanoTime();
        while (w.firstAckAfter(ackedByB) < 0 || System.nanoTime() - w.firstAckAfter(ackedByB) < AFTER_RECOVERY.toNanos()) {
            if (System.nanoTime() - ackedByB > RESUME_TIMEOUT.toNanos()) {
                throw new IllegalStateException("b led but acknowledged no write within " + RESUME_TIMEOUT.toSeconds() + " s");
            }
            LocalDeployment.sleep(100);
        }
        long second = System.nanoTime();
        String lost = b.getRegion();
        KillCommand.kill(d, "region-" + lost);
        // A real region loss: its disk is gone too.
        d.destroyRegionData(lost);
        d.down();
        RestoreCommand.Restored r = RestoreCommand.restore(d, lost, null, out);
        d.up();
        return new Injected("a lost, then " + lost + " (epoch " + b.getEpoch() + ") lost with its data " + (second - first) / 1_000_000
                + " ms later; " + lost + " rebuilt from the base backup " + r.backup().getFileName() + " and the WAL keeper's WAL"
                + " (up to " + r.keeperEnd() + ")", second, 0, 0);
    }

    /**
     * The leader's wall clock {@link #CLOCK_JUMP} ahead for {@link #CLOCK_HOLD}, then as far behind for as long, then
     * real again. Checks what a writer reading the wall clock got wrong: a hold made just before the forward jump is
     * still held after it (problem otherwise), and while the clock is behind, commit timestamps advance with real
     * time (they froze: 1 ns per transfer). The workload's own checks cover loss, duplicates and client errors.
     */
    private Injected clockJump(Workload w) {
        String leader = "node-" + d.awaitLeader(Duration.ofSeconds(10)).getRegion();
        io.paymentledger.cli.chaos.ClockFaults clocks = new io.paymentledger.cli.chaos.ClockFaults(d.topology());
        String hold = "clock-hold-" + UUID.randomUUID();
        w.hold(hold, CLOCK_HOLD_TIMEOUT_S);
        long from = System.nanoTime();
        List<String> found = new ArrayList<>();
        long behindFrom;
        long behindTo;
        try {
            clocks.jump(leader, (int) CLOCK_JUMP.toSeconds());
            LocalDeployment.sleep(CLOCK_HOLD.toMillis());
            var state = w.pendingState(hold);
            if (state != io.paymentledger.api.v1.PendingState.PENDING_STATE_HELD) {
                found.add("the hold " + hold + " (timeout " + CLOCK_HOLD_TIMEOUT_S + " s) is " + state + " "
                        + (System.nanoTime() - from) / 1_000_000 + " ms after the leader's clock jumped +" + CLOCK_JUMP.toSeconds() + " s");
            }
            clocks.jump(leader, (int) -CLOCK_JUMP.toSeconds());
            // libfaketime reads the new offset within a second: measure from then on
            LocalDeployment.sleep(io.paymentledger.cli.chaos.ClockFaults.RECHECK_SECONDS * 1_000L + 500);
            behindFrom = System.nanoTime();
            LocalDeployment.sleep(CLOCK_HOLD.toMillis());
            behindTo = System.nanoTime();
        } finally {
            clocks.heal();
        }
        List<Workload.Stamped> behind = w.stamped().stream()
                .filter(a -> a.attemptStartNanos() - behindFrom >= 0 && behindTo - a.ackNanos() >= 0).toList();
        String pace = "no transfers acknowledged while the clock was behind";
        if (behind.size() >= 2) {
            Workload.Stamped first = behind.getFirst();
            Workload.Stamped last = behind.getLast();
            double ratio = (double) (last.maxTimestampNs() - first.maxTimestampNs()) / (last.ackNanos() - first.ackNanos());
            pace = String.format("ledger time ran at %.2f of real time while the clock was behind", ratio);
            if (ratio < LEDGER_PACE_MIN) {
                found.add(pace + " (at least " + LEDGER_PACE_MIN + " expected: timestamps froze)");
            }
        } else {
            found.add(pace);
        }
        clockProblems.addAll(found);
        NodeStatus now = d.awaitLeader(Duration.ofSeconds(60));
        return new Injected(leader + "'s clock +" + CLOCK_JUMP.toSeconds() + " s for " + CLOCK_HOLD.toSeconds() + " s, then -"
                + CLOCK_JUMP.toSeconds() + " s, then real; the hold made before the jump was " + (found.stream()
                .anyMatch(f -> f.startsWith("the hold")) ? "released early" : "still held") + "; " + pace + "; region "
                + now.getRegion() + " leads with epoch " + now.getEpoch(), from, 0, 0);
    }

    /** What {@link #clockJump} found wrong (reported with the run's other problems). */
    private final List<String> clockProblems = new ArrayList<>();

    /**
     * Pauses {@code process} {@link #SHORT_PAUSES} times (SIGSTOP, SIGCONT after the hold), and checks that the leader
     * and its epoch never changed: a pause shorter than the detection timers is no reason to fail over.
     */
    private Injected shortPauses(String process) {
        NodeStatus before = d.awaitLeader(Duration.ofSeconds(30));
        io.paymentledger.cli.chaos.Faults faults = new io.paymentledger.cli.chaos.Faults(d);
        Duration hold = held(SHORT_PAUSE);
        long from = System.nanoTime();
        for (int i = 0; i < SHORT_PAUSES; i++) {
            faults.pause(process);
            try {
                LocalDeployment.sleep(hold.toMillis());
            } finally {
                faults.resume(process);
            }
            LocalDeployment.sleep(SHORT_PAUSE_GAP.toMillis());
        }
        NodeStatus after = d.awaitLeader(Duration.ofSeconds(30));
        String what = process + " paused " + SHORT_PAUSES + " times for " + hold.toMillis() + " ms, " + SHORT_PAUSE_GAP.toSeconds()
                + " s apart";
        if (!after.getRegion().equals(before.getRegion()) || after.getEpoch() != before.getEpoch()) {
            clockProblems.add("false failover: " + what + ", and leadership moved from " + before.getRegion() + " (epoch "
                    + before.getEpoch() + ") to " + after.getRegion() + " (epoch " + after.getEpoch() + "): "
                    + after.getLastFailoverReason());
        }
        return new Injected(what + "; " + after.getRegion() + " leads with epoch " + after.getEpoch() + " (before: "
                + before.getRegion() + ", epoch " + before.getEpoch() + ")", from, 0, 0);
    }

    /** The witness has a complete base backup (it takes one as soon as it streams from a leader). */
    private void awaitBaseBackup(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            try {
                JsonObject s = new JsonObject(Files.readString(WitnessProcess.statusFile(d.topology())));
                if (s.getInteger("baseBackups", 0) > 0) {
                    return;
                }
            } catch (java.io.IOException | io.vertx.core.json.DecodeException notYet) {
                // the witness writes it within a second of starting
            }
            LocalDeployment.sleep(250);
        }
        throw new IllegalStateException("the witness has no base backup after " + timeout.toSeconds() + " s; see "
                + WitnessProcess.statusFile(d.topology()));
    }

    /**
     * Holds a's leadership row (FOR UPDATE) until another region leads: a's writer cannot commit from then on, though
     * every process of a is up and its CP session healthy.
     */
    private Injected stallLeadersWriter() throws Exception {
        String stalled = LocalDeployment.FIRST_PRIMARY;
        long from = System.nanoTime();
        try (Connection c = d.postgres(stalled).connect("ledger")) {
            c.setAutoCommit(false);
            try (java.sql.Statement st = c.createStatement()) {
                st.execute("select epoch from leadership for update");
            }
            from = System.nanoTime();
            long deadline = from + RESUME_TIMEOUT.toNanos();
            while (System.nanoTime() < deadline) {
                NodeStatus leader;
                try {
                    leader = d.awaitLeader(Duration.ofSeconds(5));
                } catch (IllegalStateException noLeaderYet) {
                    continue; // between a's step-down and b's takeover nobody leads: the drill's bound is the deadline
                }
                if (!leader.getRegion().equals(stalled)) {
                    return new Injected("a session held " + stalled + "'s leadership row; after "
                            + (System.nanoTime() - from) / 1_000_000 + " ms region " + leader.getRegion() + " leads with epoch "
                            + leader.getEpoch() + ": " + leader.getLastFailoverReason(), from, 0, 0);
                }
                LocalDeployment.sleep(100);
            }
        } catch (java.sql.SQLException closedByTheRejoin) {
            // a's PostgreSQL was stopped for its rejoin while the drill held the row: that ends the session too.
            NodeStatus leader = d.awaitLeader(Duration.ofSeconds(60));
            return new Injected("a session held " + stalled + "'s leadership row until its PostgreSQL stopped for the rejoin;"
                    + " region " + leader.getRegion() + " leads with epoch " + leader.getEpoch(), from, 0, 0);
        }
        return new Injected("a session held " + stalled + "'s leadership row for " + RESUME_TIMEOUT.toSeconds()
                + " s and " + stalled + " still led", from, 0, 0);
    }

    private List<String> checkLeaderDatabase() throws Exception {
        NodeStatus leader = d.awaitLeader(Duration.ofSeconds(60));
        try (Connection c = d.postgres(leader.getRegion()).connect("ledger")) {
            List<String> problems = new ArrayList<>(LedgerChecks.currenciesBalance(c));
            problems.addAll(LedgerChecks.balancesMatchTransfers(c));
            return problems;
        }
    }

    /**
     * Samples every node's status while a drill runs: which region leads, how many sites it says hold every
     * acknowledged write (syncCopies), and whether its commit quorum has another site.
     */
    static final class DurabilityWatch implements AutoCloseable {

        record Sample(long atNanos, boolean leading, int syncCopies, int commitSetSize) {}

        private final ConcurrentLinkedQueue<Sample> samples = new ConcurrentLinkedQueue<>();
        private final Thread thread;
        private volatile boolean stopped;

        DurabilityWatch(Topology t, Clients clients) {
            this.thread = Thread.ofPlatform().name("durability-watch").daemon(true).start(() -> {
                while (!stopped) {
                    long at = System.nanoTime();
                    Sample s = new Sample(at, false, 0, 0);
                    for (Topology.Region r : t.regions().values()) {
                        var st = clients.nodeStatus(r.grpcPort());
                        // Every claim to lead counts here, not only Leadership's confirmed one: this is a safety
                        // watch, and a node of an older term that still says it leads must not go unseen.
                        if (st.isPresent() && st.get().getRole() == NodeRole.NODE_ROLE_LEADER) {
                            s = new Sample(at, true, st.get().getSyncCopies(), st.get().getCommitSetCount());
                        }
                    }
                    samples.add(s);
                    LocalDeployment.sleep(SAMPLE_INTERVAL_MS);
                }
            });
        }

        /**
         * From {@code fault} until the first sample with a leader counting two copies after the last sample without
         * (no leader, or fewer): 0 when it never dropped, -1 when it did not come back.
         */
        long backToTwoMsAfter(long fault) {
            List<Sample> after = samples.stream().filter(s -> s.atNanos() - fault >= 0).toList();
            int lastBelow = -1;
            for (int i = 0; i < after.size(); i++) {
                if (!after.get(i).leading() || after.get(i).syncCopies() < 2) {
                    lastBelow = i;
                }
            }
            if (lastBelow < 0) {
                return 0;
            }
            if (lastBelow == after.size() - 1) {
                return -1;
            }
            return (after.get(lastBelow + 1).atNanos() - fault) / 1_000_000;
        }

        /** Samples after {@code since} in which a leader served with nobody else in its commit quorum. */
        int servedWithoutSecondSite(long since) {
            return (int) samples.stream().filter(s -> s.atNanos() - since >= 0 && s.leading() && s.commitSetSize() == 0).count();
        }

        void stop() {
            stopped = true;
            try {
                thread.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public void close() {
            stop();
        }
    }

    @Override
    public void close() {
        tracker.close();
        clients.close();
        merchant.close();
    }
}
