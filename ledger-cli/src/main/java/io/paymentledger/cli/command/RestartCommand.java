package io.paymentledger.cli.command;

import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.RollingRestart;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.security.logging.LogSetup;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "restart", description = "Rolling restart: every process of the deployment, one at a time, each waited"
        + " for until it is whole again (the standby region, the witness, a switchover, the former leader's region, the"
        + " router).")
public final class RestartCommand implements Callable<Integer> {

    @Mixin
    DeploymentOptions deployment;

    @Option(names = "--rolling", required = true, description = "Required: one process at a time, in the safe order"
            + " (there is no restart of everything at once: that is ./ledger down, then ./ledger up).")
    boolean rolling;

    @Option(names = "--no-router", description = "Leave the region router running. With one router its restart refuses"
            + " merchants' connections for a few seconds (clients that retry lose nothing, but see errors).")
    boolean noRouter;

    @Override
    public Integer call() {
        LogSetup.install("ledger-restart", Level.WARNING);
        LocalDeployment d = new LocalDeployment(Topology.load(deployment.dir()), System.out);
        List<RollingRestart.Step> steps = new RollingRestart(d, step -> System.out.println("restart: " + step.what()
                + " whole again after " + step.millis() + " ms: " + step.detail())).all(!noRouter);
        NodeStatus leader = d.awaitLeader(Duration.ofSeconds(30));
        System.out.println("restart: done, " + steps.size() + " steps in " + steps.stream().mapToLong(RollingRestart.Step::millis)
                .sum() + " ms; region " + leader.getRegion() + " leads (epoch " + leader.getEpoch() + ")"
                + (leader.getRegion().equals(d.topology().settings().firstPrimary()) ? ""
                : "; to hand back: ./ledger switchover --to " + d.topology().settings().firstPrimary()));
        return 0;
    }
}
