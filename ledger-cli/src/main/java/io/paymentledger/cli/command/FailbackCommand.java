package io.paymentledger.cli.command;

import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.cli.deploy.Clients;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.replication.failover.Rejoin;
import io.paymentledger.replication.postgres.PgCluster;
import io.paymentledger.security.logging.LogSetup;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "failback", description = "After a failover: the former primary rejoins as the new primary's standby now"
        + " (pg_rewind, or a fresh clone when rewinding is impossible; it also does so by itself once its node runs);"
        + " --switchover then hands leadership back.")
public final class FailbackCommand implements Callable<Integer> {

    @Mixin
    DeploymentOptions deployment;

    @Option(names = "--switchover", description = "Once in sync, switch over back to the rejoined region.")
    boolean switchBack;

    @Option(names = "--rejoin", description = "Operator decision when nobody leads (e.g. two primaries at one epoch):"
            + " make this region's database a standby of the other region's, whatever it holds. Then the other"
            + " region can bootstrap leadership.")
    String rejoin;

    @Override
    public Integer call() throws Exception {
        LogSetup.install("ledger-failback", Level.WARNING);
        LocalDeployment d = new LocalDeployment(Topology.load(deployment.dir()), System.out);
        if (rejoin != null) {
            String source = d.topology().otherRegion(rejoin);
            Rejoin.How how = Rejoin.asStandbyOf(d.postgres(rejoin), d.postgres(source));
            System.out.println("failback: postgres " + rejoin + " " + how.name().toLowerCase() + " from " + source
                    + " and streaming; " + source + " can now lead (./ledger status)");
            return 0;
        }
        String rejoined = failback(d);
        if (switchBack) {
            var r = SwitchoverCommand.switchover(d, rejoined);
            System.out.println("switchover: " + r.getExplanation() + "; writes paused " + r.getPauseMs() + " ms");
        }
        return 0;
    }

    /**
     * Rejoins the region that does not lead (a former primary also does so by itself once its processes run; this is
     * for an operator who wants it now, or whose node is down); returns its name once it is in the commit quorum.
     */
    public static String failback(LocalDeployment d) {
        NodeStatus leader = d.awaitLeader(Duration.ofSeconds(30));
        String former = d.topology().otherRegion(leader.getRegion());
        PgCluster formerPg = d.postgres(former);
        PgCluster leaderPg = d.postgres(leader.getRegion());
        System.out.println("failback: " + leader.getRegion() + " leads (epoch " + leader.getEpoch() + "); rejoining " + former
                + " as its standby");
        if (formerPg.isRunning() && formerPg.isInRecovery()) {
            System.out.println("failback: postgres " + former + " is already a standby; nothing to rewind");
        } else {
            Rejoin.How how = Rejoin.asStandbyOf(formerPg, leaderPg);
            System.out.println("failback: postgres " + former + " " + how.name().toLowerCase() + " from " + leader.getRegion()
                    + " and streaming");
        }
        d.startNode(former);
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        try (Clients clients = Clients.operator(d.topology())) {
            while (System.nanoTime() < deadline) {
                var st = clients.nodeStatus(d.topology().region(leader.getRegion()).grpcPort());
                if (st.isPresent() && st.get().getCommitSetList().contains(former)) {
                    System.out.println("failback: " + former + " is in " + leader.getRegion() + "'s commit quorum "
                            + st.get().getCommitSetList() + " (recorded in the CP group)");
                    return former;
                }
                LocalDeployment.sleep(250);
            }
        }
        throw new IllegalStateException(former + " did not join the commit quorum within 90 s; see ./ledger status");
    }
}
