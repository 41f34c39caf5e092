package io.paymentledger.cli.chaos;

import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.cli.chaos.FaultClass.Injection;
import io.paymentledger.cli.chaos.History.Outcome;
import io.paymentledger.cli.chaos.History.Write;
import io.paymentledger.cli.deploy.Clients;
import io.paymentledger.cli.deploy.DeploymentSecurity;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.drill.Workload;
import io.paymentledger.replication.walkeeper.WalKeeper;
import io.vertx.core.net.SocketAddress;
import java.io.OutputStream;
import java.io.PrintStream;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.function.Supplier;

/**
 * `./ledger chaos run`: a merchant's workload through the region router (writers retrying with the same ids,
 * linearizable readers, payment flows with a GetPayment after every call), recorded into a {@link History}; meanwhile a schedule of faults drawn from a seeded
 * {@link Random} (the same seed replays the same schedule: the same classes in the same order, the same quiet gaps and
 * hold times), each injected into whichever node leads at that moment, held, healed, then waited out until the
 * deployment is whole again; afterwards everything is healed, the workload's pending retries settle, and the
 * {@link HistoryChecker} judges the history against the ledger read from the leader's database.
 */
public final class ChaosRun {

    /** Quiet time before each fault: drawn in [QUIET_MIN_MS, QUIET_MIN_MS + QUIET_SPREAD_MS). */
    static final int QUIET_MIN_MS = 2_000;
    static final int QUIET_SPREAD_MS = 3_000;
    /** How long a fault is held: drawn in [HOLD_MIN_MS, HOLD_MIN_MS + HOLD_SPREAD_MS] (3–8 s). */
    static final int HOLD_MIN_MS = 3_000;
    static final int HOLD_SPREAD_MS = 5_000;
    /** A fault is injected only if its hold plus this much of the duration remains (to see writes resume after it). */
    static final long MIN_AFTER_HEAL_MS = 3_000;
    /**
     * After a fault is healed the next one waits (at most this long, and never past the duration) until the deployment
     * is whole again: a leader with the other region and the WAL keeper in its commit quorum and three live CP members.
     * A former primary's rejoin after a kill took 55-60 s on a loaded machine: waiting longer would leave little of the
     * duration for other classes; the next fault then meets a deployment one standby short (reported as "not whole").
     */
    static final Duration RECOVERY_TIMEOUT = Duration.ofSeconds(45);
    static final long RECOVERY_POLL_MS = 1_000;
    /** After the duration: how long to wait for a leader to read the final state from. */
    static final Duration FINAL_LEADER_WAIT = Duration.ofSeconds(60);
    /** After the duration: how long requests in flight may still be retried (same ids) before they count as unknown. */
    static final Duration WORKLOAD_SETTLE = Duration.ofSeconds(20);
    /** Each write's deadline: long enough for the router to hold a call across a failover. */
    static final long CALL_TIMEOUT_MS = 10_000;
    static final int WRITERS = 4;
    static final int READERS = 2;
    /** Merchants' payment flows (authorise, captures, void or refused capture, refund; GetPayment after each). */
    static final int PAYMENT_WORKERS = 2;
    public static final int DURATION_MIN_S = 10;
    public static final int DURATION_MAX_S = 1_800;
    public static final int DURATION_DEFAULT_S = 120;

    /** What the run was asked to do. */
    public record Options(int durationS, long seed, List<FaultClass> faults) {
        public Options {
            if (durationS < DURATION_MIN_S || durationS > DURATION_MAX_S) {
                throw new IllegalArgumentException("--duration must be within " + DURATION_MIN_S + ".." + DURATION_MAX_S + " s");
            }
            if (faults.isEmpty()) {
                throw new IllegalArgumentException("no fault class chosen");
            }
            faults = List.copyOf(faults);
        }
    }

    private final LocalDeployment d;
    private final Options options;
    private final PrintStream out;

    /**
     * @param out  where progress goes (one line per fault); the report is printed by the caller
     */
    public ChaosRun(LocalDeployment d, Options options, PrintStream out) {
        // Restarting what a kill took down prints the whole `up` story: not wanted in the middle of the run's lines.
        this.d = new LocalDeployment(d.topology(), new PrintStream(OutputStream.nullOutputStream()));
        this.options = options;
        this.out = out;
    }

    /** A fault as the schedule ran it (times from the run's start, nanoTime). */
    private record Ran(FaultClass fault, String target, String done, String error, long injectedNanos, long healingNanos,
            long healedNanos, long recoveredNanos) {}

    public RunReport run() throws Exception {
        History history = new History();
        Recorder recorder = new Recorder(history);
        Injector at = new Injector(d);
        Random random = new Random(options.seed());
        List<Ran> ran = new ArrayList<>();
        Injection[] active = new Injection[1];
        java.util.concurrent.atomic.AtomicBoolean exiting = new java.util.concurrent.atomic.AtomicBoolean();
        // Ctrl-C (or a kill of this command) must not leave a process frozen: resume whatever is paused.
        Thread hook = new Thread(() -> {
            exiting.set(true);
            List<String> resumed = at.healPauses();
            if (!resumed.isEmpty()) {
                System.err.println("chaos run: interrupted; resumed " + resumed);
            }
            Injection a = active[0];
            if (a != null && a.undo().contains("up")) {
                System.err.println("chaos run: interrupted with " + a.target() + " down: restart it with " + a.undo());
            }
        }, "chaos-heal-on-exit");
        Runtime.getRuntime().addShutdownHook(hook);
        DeploymentSecurity security = d.security();
        SocketAddress router = Clients.loopback(d.topology().routerPort());
        Supplier<SocketAddress> target = () -> router;
        String runId = "chaos-" + UUID.randomUUID().toString().substring(0, 8);
        try (Clients merchant = Clients.tls(security, security.merchant(DeploymentSecurity.LOAD_MERCHANT));
                Workload workload = new Workload(merchant.grpc(), target, runId, DeploymentSecurity.LOAD_MERCHANT, WRITERS,
                        CALL_TIMEOUT_MS).withWallet().observedBy(recorder);
                Payments payments = new Payments(merchant.grpc(), target, history, runId, DeploymentSecurity.LOAD_MERCHANT,
                        PAYMENT_WORKERS)) {
            workload.setUp();
            payments.setUp();
            List<ProcessResources.Usage> resourcesAtStart = ProcessResources.snapshot(d.topology(), d);
            long start = System.nanoTime();
            long end = start + options.durationS() * 1_000_000_000L;
            workload.start();
            payments.start();
            Readers readers = new Readers(merchant.grpc(), target, recorder, history,
                    List.of(workload.merchant(), workload.wallet()), READERS);
            try {
                for (int i = 0;; i++) {
                    int quiet = QUIET_MIN_MS + random.nextInt(QUIET_SPREAD_MS);
                    int hold = HOLD_MIN_MS + random.nextInt(HOLD_SPREAD_MS + 1);
                    FaultClass fault = options.faults().get(i % options.faults().size());
                    if (System.nanoTime() + (quiet + hold + MIN_AFTER_HEAL_MS) * 1_000_000L - end > 0) {
                        break;
                    }
                    LocalDeployment.sleep(quiet);
                    if (exiting.get()) {
                        break; // no new fault once the exit hook has healed
                    }
                    long injected = System.nanoTime();
                    Injection inj;
                    try {
                        inj = fault.inject(at);
                    } catch (RuntimeException e) {
                        ran.add(new Ran(fault, "", "", String.valueOf(e.getMessage()), injected, injected, injected, -1));
                        out.printf("chaos run: +%.1f s %s NOT injected: %s%n", seconds(injected - start), fault.cliName(), e.getMessage());
                        continue;
                    }
                    active[0] = inj;
                    out.printf("chaos run: +%.1f s %s: %s; held %d ms (undo by hand: %s)%n", seconds(injected - start),
                            fault.cliName(), inj.done(), hold, inj.undo());
                    sleepUntil(injected + hold * 1_000_000L);
                    long healing = System.nanoTime();
                    inj.heal();
                    active[0] = null;
                    long healed = System.nanoTime();
                    long recovered = awaitRecovered(Math.min(healed + RECOVERY_TIMEOUT.toNanos(), end) - healed);
                    out.printf("chaos run: +%.1f s %s healed; %s%n", seconds(healed - start), fault.cliName(), recovered < 0
                            ? "not whole again before the next step" : "whole again after " + (recovered - healed) / 1_000_000 + " ms");
                    ran.add(new Ran(fault, inj.target(), inj.done(), "", injected, healing, healed, recovered));
                }
                sleepUntil(end);
            } finally {
                Injection a = active[0];
                if (a != null) {
                    a.heal();
                    active[0] = null;
                }
                at.healPauses();
            }
            long stopped = System.nanoTime();
            String leaderRegion;
            try {
                leaderRegion = d.awaitLeader(FINAL_LEADER_WAIT).getRegion();
            } catch (IllegalStateException e) {
                leaderRegion = "";
            }
            workload.stop(WORKLOAD_SETTLE);
            payments.stop(WORKLOAD_SETTLE);
            readers.close();
            FinalState state = null;
            if (!leaderRegion.isEmpty()) {
                List<String> ids = new ArrayList<>(history.ops(Write.class).stream().map(Write::transferId).toList());
                history.ops(History.PaymentStep.class).forEach(p -> ids.add(p.callId()));
                try (Connection c = d.postgres(leaderRegion).connect("ledger")) {
                    state = FinalState.read(c, ids, List.of(workload.merchant(), workload.wallet()));
                }
            }
            HistoryChecker.Verdict verdict = state == null ? null : HistoryChecker.check(history, state);
            List<ProcessResources.Usage> resourcesAtEnd = ProcessResources.snapshot(d.topology(), d);
            long[] acks = history.ops(Write.class).stream().filter(w -> w.outcome() == Outcome.ACKED)
                    .mapToLong(Write::completeNanos).sorted().toArray();
            List<RunReport.Fault> faults = ran.stream().map(r -> new RunReport.Fault(r.fault().cliName(), r.target(),
                    r.error().isEmpty(), r.done(), r.error(), (r.injectedNanos() - start) / 1_000_000,
                    (r.healingNanos() - r.injectedNanos()) / 1_000_000, (r.healedNanos() - r.healingNanos()) / 1_000_000,
                    r.error().isEmpty() ? outageMs(acks, r.injectedNanos(), r.healedNanos(), stopped) : 0,
                    r.recoveredNanos() < 0 ? -1 : (r.recoveredNanos() - r.healedNanos()) / 1_000_000)).toList();
            return new RunReport(options.seed(), options.durationS(), options.faults().stream().map(FaultClass::cliName).toList(),
                    faults, RunReport.Counts.of(history, readers.failed()), clientErrors(workload.errors(), payments.errors()), leaderRegion, verdict,
                    (System.nanoTime() - start) / 1_000_000, resourcesAtStart, resourcesAtEnd);
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs (or ran) anyway
            }
        }
    }

    /**
     * Waits (at most {@code maxNanos}) until the deployment is whole again: a leader with the other region and the WAL
     * keeper streaming in its commit quorum and all three CP members alive. Returns when (nanoTime), or -1.
     */
    private long awaitRecovered(long maxNanos) {
        long deadline = System.nanoTime() + Math.max(0, maxNanos);
        do {
            try {
                NodeStatus leader = d.awaitLeader(Duration.ofMillis(RECOVERY_POLL_MS));
                if (leader.getCpMembersAlive() == 3 && io.paymentledger.cli.deploy.SiteHealth.inQuorum(leader, WalKeeper.NAME)
                        && io.paymentledger.cli.deploy.SiteHealth.inQuorum(leader, d.topology().otherRegion(leader.getRegion()))) {
                    return System.nanoTime();
                }
            } catch (IllegalStateException noLeaderYet) {
                // keep waiting
            }
            LocalDeployment.sleep(RECOVERY_POLL_MS);
        } while (System.nanoTime() - deadline < 0);
        return -1;
    }

    /**
     * The longest window without an acknowledged write that overlaps [{@code from}, {@code to}]: from the last
     * acknowledgement before the fault (or the fault itself) through the acknowledgements during it to the first one
     * after it (or {@code runEnd} when writes never resumed). {@code acks} is sorted.
     */
    static long outageMs(long[] acks, long from, long to, long runEnd) {
        int i = 0;
        while (i < acks.length && acks[i] - from < 0) {
            i++;
        }
        long previous = i > 0 ? acks[i - 1] : from;
        long longest = 0;
        for (; i < acks.length; i++) {
            longest = Math.max(longest, acks[i] - previous);
            previous = acks[i];
            if (acks[i] - to > 0) {
                return longest / 1_000_000;
            }
        }
        return Math.max(longest, runEnd - previous) / 1_000_000;
    }

    /** What the writers' calls failed with (each retried with the same ids); the ledger's refusals are counted apart. */
    private static java.util.Map<String, Long> clientErrors(java.util.Map<String, Long> errors, java.util.Map<String, Long> payments) {
        java.util.Map<String, Long> m = new java.util.TreeMap<>(errors);
        m.keySet().removeIf(k -> k.startsWith(Workload.ITEM_REFUSED_PREFIX));
        payments.forEach((k, n) -> m.merge("payments: " + k, n, Long::sum));
        return m;
    }

    private static void sleepUntil(long nanos) {
        long ms = (nanos - System.nanoTime()) / 1_000_000;
        if (ms > 0) {
            LocalDeployment.sleep(ms);
        }
    }

    private static double seconds(long nanos) {
        return nanos / 1e9;
    }
}
