package io.paymentledger.cli.deploy;

import io.paymentledger.replication.walkeeper.WalKeeper;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Restarting processes of a running deployment one at a time without a client error: a region that leads hands
 * leadership over first (a planned switchover); every step waits, bounded, until the restarted piece is whole again
 * (its region streams in the leader's commit quorum with every acknowledged write in two sites, the CP group has all
 * three members alive, the router serves) before the next begins. {@code ./ledger restart --rolling}, the drill
 * {@code rolling_restart} and a changed site applied with {@code ./ledger site up} all go through here.
 */
public final class RollingRestart {

    /** A PostgreSQL restart is back in the commit quorum (streaming, every acknowledged write in two sites) within this. */
    static final Duration POSTGRES_BACK = Duration.ofSeconds(90);
    /** A node or the witness is back (JVM start, CP membership, the quorum) within this: a loaded machine is slow. */
    static final Duration PROCESS_BACK = Duration.ofSeconds(150);
    /** A former leader has rejoined as the new leader's standby within this after a switchover. */
    static final Duration REJOIN_BACK = Duration.ofSeconds(120);
    /** The deployment must be whole before the first step: what the precondition check waits for at most. */
    static final Duration WHOLE_BEFORE = Duration.ofSeconds(30);
    static final Duration NODE_STOP_GRACE = Duration.ofSeconds(15);
    /** The CP Raft leadership moves to the leading region within this (the members look every 2 s). */
    static final Duration RAFT_MOVE_TIMEOUT = Duration.ofSeconds(15);
    static final Duration WITNESS_STOP_GRACE = Duration.ofSeconds(10);

    /** One step: what was restarted, when it began and when it was whole again (nanoTime), what it waited for. */
    public record Step(String what, long startNanos, long endNanos, String detail) {
        public long millis() {
            return (endNanos - startNanos) / 1_000_000;
        }
    }

    /** What a region's rolling change restarts: its PostgreSQL (settings), its node (CP timing, sync-loss policy). */
    public record Parts(boolean postgres, boolean node) {}

    private final LocalDeployment d;
    private final Topology t;
    private final Consumer<Step> stepped;
    private final List<Step> steps = new ArrayList<>();

    /** @param stepped  told about each step once it is whole again */
    public RollingRestart(LocalDeployment d, Consumer<Step> stepped) {
        this.d = d;
        this.t = d.topology();
        this.stepped = stepped;
    }

    public List<Step> steps() {
        return List.copyOf(steps);
    }

    /**
     * Every process, in an order that never takes a second site away and never takes the leader's processes down while
     * it leads: the standby region's PostgreSQL, then its node (the leader's commits go on with the WAL keeper); the
     * witness (the regions carry the commits and the CP majority between them); a switchover, so the leading region
     * becomes the standby; its PostgreSQL, then its node; last the router when {@code router} (with one router, the one
     * step merchants notice: their connections are refused while it restarts).
     */
    public List<Step> all(boolean router) {
        try (Clients clients = Clients.operator(t)) {
            String leader = requireWhole(clients);
            String standby = t.otherRegion(leader);
            region(clients, standby, new Parts(true, true));
            witness(clients);
            region(clients, leader, new Parts(true, true));
            if (router) {
                step("router", () -> {
                    d.restartProcess(LocalDeployment.ROUTER, WITNESS_STOP_GRACE);
                    d.awaitRouter(PROCESS_BACK);
                    return "serving on 127.0.0.1:" + t.routerPort();
                });
            }
        }
        return steps();
    }

    /** One region's rolling change (a changed site): a switchover first when it leads, then {@code parts}. */
    public List<Step> region(String region, Parts parts) {
        try (Clients clients = Clients.operator(t)) {
            requireWhole(clients);
            region(clients, region, parts);
        }
        return steps();
    }

    /** The witness's rolling change: restarted, waited for until the CP group is whole and the WAL keeper streams. */
    public List<Step> witness() {
        try (Clients clients = Clients.operator(t)) {
            requireWhole(clients);
            witness(clients);
        }
        return steps();
    }

    /** The leader, once the deployment is whole (else a step could take a second site away). */
    private String requireWhole(Clients clients) {
        String leader = d.awaitLeader(WHOLE_BEFORE).getRegion();
        try {
            SiteHealth.awaitQuorum(t, clients, leader, t.otherRegion(leader), WHOLE_BEFORE);
            SiteHealth.awaitQuorum(t, clients, leader, WalKeeper.NAME, WHOLE_BEFORE);
            SiteHealth.awaitFullCpGroup(t, clients, WHOLE_BEFORE);
        } catch (IllegalStateException notWhole) {
            throw new IllegalStateException("not restarting: the deployment is not whole, and a restart would take a second"
                    + " site away (" + notWhole.getMessage() + "); ./ledger status says what is missing");
        }
        return leader;
    }

    private void region(Clients clients, String region, Parts parts) {
        String leader = d.awaitLeader(WHOLE_BEFORE).getRegion();
        if (leader.equals(region)) {
            String to = t.otherRegion(region);
            step("switchover " + region + " -> " + to, () -> {
                var r = d.switchover(to);
                SiteHealth.awaitQuorum(t, clients, to, region, REJOIN_BACK);
                SiteHealth.awaitQuorum(t, clients, to, WalKeeper.NAME, REJOIN_BACK);
                return r.getExplanation() + "; writes paused " + r.getPauseMs() + " ms (the old leader's figure); " + region
                        + " rejoined as " + to + "'s standby";
            });
            leader = to;
        }
        String lead = leader;
        if (parts.postgres()) {
            step("postgres-" + region, () -> {
                d.restartPostgres(region);
                SiteHealth.awaitQuorum(t, clients, lead, region, POSTGRES_BACK);
                return region + " streams in " + lead + "'s commit quorum, every acknowledged write in two sites";
            });
        }
        if (parts.node()) {
            step(LocalDeployment.nodeName(region), () -> {
                String raft = raftLeaderTo(lead);
                d.restartProcess(LocalDeployment.nodeName(region), NODE_STOP_GRACE);
                SiteHealth.awaitFullCpGroup(t, clients, PROCESS_BACK);
                SiteHealth.awaitQuorum(t, clients, lead, region, PROCESS_BACK);
                return raft + "; CP group whole, " + region + " streams in " + lead + "'s commit quorum";
            });
        }
    }

    private void witness(Clients clients) {
        step("witness", () -> {
            String raft = raftLeaderTo(d.awaitLeader(WHOLE_BEFORE).getRegion());
            d.restartProcess(LocalDeployment.WITNESS, WITNESS_STOP_GRACE);
            SiteHealth.awaitFullCpGroup(t, clients, PROCESS_BACK);
            String leader = d.awaitLeader(WHOLE_BEFORE).getRegion();
            SiteHealth.awaitQuorum(t, clients, leader, WalKeeper.NAME, PROCESS_BACK);
            return raft + "; CP group whole, the WAL keeper streams in " + leader + "'s commit quorum";
        });
    }

    /**
     * Moves the CP groups' Raft leadership to the leading region's member before another CP member restarts: when the
     * member that goes is the Raft leader, every CP call (the leader's lease renewal among them) waits for an election,
     * and writes with it. Not moving is no reason to stop: the restart is then only slower for clients.
     */
    private String raftLeaderTo(String site) {
        try {
            return "CP Raft leadership on " + site + " (" + Coordination.moveRaftLeader(t, site, RAFT_MOVE_TIMEOUT) + " ms)";
        } catch (IllegalStateException e) {
            return "CP Raft leadership not moved to " + site + " (" + e.getMessage() + ")";
        }
    }

    @FunctionalInterface
    private interface Action {
        String run() throws Exception;
    }

    private void step(String what, Action action) {
        long start = System.nanoTime();
        String detail;
        try {
            detail = action.run();
        } catch (Exception e) {
            throw new IllegalStateException("rolling restart stopped at " + what + " (steps done: "
                    + steps.stream().map(Step::what).toList() + "): " + e.getMessage(), e);
        }
        Step s = new Step(what, start, System.nanoTime(), detail);
        steps.add(s);
        stepped.accept(s);
    }
}
