package io.paymentledger.cli.drill;

import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.cli.command.FailbackCommand;
import io.paymentledger.cli.command.KillCommand;
import io.paymentledger.cli.command.SwitchoverCommand;
import io.paymentledger.cli.deploy.Clients;
import io.paymentledger.cli.deploy.DeploymentSecurity;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.ledger.read.LedgerChecks;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Failure drills on the running local deployment, each under a steady write workload, each ending with the
 * proof that every acknowledged transfer is in the ledger exactly once and every ledger sums to zero. Used by
 * `./ledger drill`, by the runbooks, and by the integration tests.
 *
 * <p>Every drill starts from, and restores, the normal state: region a leads, b is its synchronous standby,
 * the witness runs.
 */
public final class Drills implements AutoCloseable {

    public enum Scenario {
        KILL_LEADER_NODE, KILL_LEADER_POSTGRES, KILL_LEADER_REGION, KILL_PASSIVE_REGION, KILL_WITNESS, SWITCHOVER
    }

    /**
     * @param outageMs     what clients felt: for a fault in the leading region, the time from the fault to the first
     *                     acknowledged write of an attempt made after it; for the other scenarios (switchover, the
     *                     witness, the passive region) the longest stretch without any acknowledged write
     * @param longestGapMs longest stretch without an acknowledged write after the fault
     * @param errors       client-visible errors by kind (each was retried with the same ids)
     * @param problems     what verification found wrong (must be empty)
     */
    public record Result(Scenario scenario, long outageMs, long longestGapMs, int acknowledged, Map<String, Long> errors,
            List<String> problems, String detail) {}

    private final LocalDeployment d;
    private final Clients clients;
    /** The workload's calls come from a merchant (through the router, a merchant certificate is how they get in). */
    private final Clients merchant;
    private final LeaderTracker tracker;
    private final boolean viaRouter;

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
    }

    /** Brings the deployment to: a leads with b as synchronous standby, witness up. */
    public void normalise() throws Exception {
        d.up();
        NodeStatus leader = d.awaitLeader(Duration.ofSeconds(60));
        String standby = d.topology().otherRegion(leader.getRegion());
        if (!leader.getSyncStandbysList().contains(standby)) {
            FailbackCommand.failback(d);
        }
        if (!leader.getRegion().equals(LocalDeployment.FIRST_PRIMARY)) {
            SwitchoverCommand.switchover(d, LocalDeployment.FIRST_PRIMARY);
        }
        awaitSync(LocalDeployment.FIRST_PRIMARY, Duration.ofSeconds(60));
        awaitFullCpGroup(Duration.ofSeconds(60));
    }

    /** Every node sees all three CP members alive: only then can the group lose one more. */
    private void awaitFullCpGroup(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            boolean full = d.topology().regions().values().stream().allMatch(r -> clients.nodeStatus(r.grpcPort())
                    .map(st -> st.getCpMembersAlive() == 3).orElse(false));
            if (full) {
                return;
            }
            LocalDeployment.sleep(250);
        }
        throw new IllegalStateException("the CP group did not get back to 3 live members within " + timeout);
    }

    private void awaitSync(String leader, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String standby = d.topology().otherRegion(leader);
        while (System.nanoTime() < deadline) {
            var st = clients.nodeStatus(d.topology().region(leader).grpcPort());
            if (st.isPresent() && st.get().getSyncStandbysList().contains(standby) && st.get().getReplicationCount() > 0
                    && "sync".equals(st.get().getReplication(0).getSyncState())) {
                return;
            }
            LocalDeployment.sleep(200);
        }
        throw new IllegalStateException(standby + " did not become the synchronous standby of " + leader + " within " + timeout);
    }

    public Result run(Scenario scenario) throws Exception {
        normalise();
        String runId = scenario.name().toLowerCase().replace('_', '-') + "-" + UUID.randomUUID().toString().substring(0, 8);
        java.util.function.Supplier<io.vertx.core.net.SocketAddress> target = viaRouter
                ? () -> Clients.loopback(d.topology().routerPort()) : tracker;
        try (Workload w = new Workload(merchant.grpc(), target, runId, DeploymentSecurity.LOAD_MERCHANT, 6,
                viaRouter ? 20_000 : 3_000)) {
            w.setUp();
            w.start();
            LocalDeployment.sleep(1_500);
            long t0 = System.nanoTime();
            String detail = inject(scenario);
            // Let the workload run on the new leader for a while before stopping it.
            long deadline = System.nanoTime() + Duration.ofSeconds(45).toNanos();
            while (w.firstAckAfter(t0) < 0 || (System.nanoTime() - w.firstAckAfter(t0)) < 2_000_000_000L) {
                if (System.nanoTime() > deadline) {
                    break;
                }
                LocalDeployment.sleep(100);
            }
            w.stop();
            long firstAck = w.firstAckAfter(t0);
            boolean leaderFault = scenario == Scenario.KILL_LEADER_NODE || scenario == Scenario.KILL_LEADER_POSTGRES
                    || scenario == Scenario.KILL_LEADER_REGION;
            long outageMs = !leaderFault ? w.longestGapMsAfter(t0 - 500_000_000L) : firstAck < 0 ? -1 : (firstAck - t0) / 1_000_000;
            List<String> problems = new ArrayList<>(w.verify());
            if (firstAck < 0) {
                problems.add("no write was acknowledged within 45 s after the fault");
            }
            problems.addAll(checkLeaderDatabase());
            return new Result(scenario, outageMs, w.longestGapMsAfter(t0), w.acknowledgedCount(), w.errors(), problems, detail);
        } finally {
            restore(scenario);
        }
    }

    private String inject(Scenario scenario) throws Exception {
        switch (scenario) {
            case KILL_LEADER_NODE -> KillCommand.kill(d, "node-a");
            case KILL_LEADER_POSTGRES -> KillCommand.kill(d, "postgres-a");
            case KILL_LEADER_REGION -> KillCommand.kill(d, "region-a");
            case KILL_WITNESS -> KillCommand.kill(d, LocalDeployment.WITNESS);
            case KILL_PASSIVE_REGION -> {
                KillCommand.kill(d, "region-b");
                // Policy BLOCK: writes wait for b. Leave it dead for 3 s, then bring it back.
                LocalDeployment.sleep(3_000);
                d.up();
                return "b was down 3 s; writes waited for it (policy BLOCK) and resumed when it was back";
            }
            case SWITCHOVER -> {
                var r = SwitchoverCommand.switchover(d, "b");
                return "switchover a -> b: pause reported by the old leader " + r.getPauseMs() + " ms";
            }
        }
        NodeStatus leader = d.awaitLeader(Duration.ofSeconds(60));
        return "region " + leader.getRegion() + " leads with epoch " + leader.getEpoch() + ": " + leader.getLastFailoverReason();
    }

    private void restore(Scenario scenario) throws Exception {
        if (scenario == Scenario.KILL_WITNESS) {
            d.startWitness();
        }
        normalise();
    }

    private List<String> checkLeaderDatabase() throws Exception {
        NodeStatus leader = d.awaitLeader(Duration.ofSeconds(60));
        try (Connection c = d.postgres(leader.getRegion()).connect("ledger")) {
            List<String> problems = new ArrayList<>(LedgerChecks.currenciesBalance(c));
            problems.addAll(LedgerChecks.balancesMatchTransfers(c));
            return problems;
        }
    }

    @Override
    public void close() {
        tracker.close();
        clients.close();
        merchant.close();
    }
}
