package io.paymentledger.cli.command;

import io.paymentledger.api.v1.SwitchoverResponse;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.security.logging.LogSetup;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "switchover", description = "Planned switchover: the leader drains, hands over to --to, and rejoins as its standby.")
public final class SwitchoverCommand implements Callable<Integer> {

    @Mixin
    DeploymentOptions deployment;

    @Option(names = "--to", required = true, description = "The region to hand leadership to (a, b).")
    String to;

    @Override
    public Integer call() throws Exception {
        LogSetup.install("ledger-switchover", Level.WARNING);
        LocalDeployment d = new LocalDeployment(Topology.load(deployment.dir()), System.out);
        SwitchoverResponse r = switchover(d, to);
        System.out.println("switchover: " + r.getExplanation() + "; epoch " + r.getNewEpoch() + "; writes paused "
                + r.getPauseMs() + " ms");
        return 0;
    }

    /** Asks the current leader to hand over to {@code to}; returns once {@code to} leads. */
    public static SwitchoverResponse switchover(LocalDeployment d, String to) throws Exception {
        return d.switchover(to);
    }
}
