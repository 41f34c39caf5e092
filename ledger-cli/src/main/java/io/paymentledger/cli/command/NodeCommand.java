package io.paymentledger.cli.command;

import io.paymentledger.cli.deploy.NodeProcess;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.replication.failover.FailoverStateMachine;
import io.paymentledger.security.logging.LogSetup;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "node", description = "Run one ledger node of the local deployment (started by ./ledger up).")
public final class NodeCommand implements Callable<Integer> {

    @Mixin
    DeploymentOptions deployment;

    @Option(names = "--region", required = true, description = "The region this node serves (a, b).")
    String region;

    @Option(names = "--sync-loss", defaultValue = "BLOCK", description = "When every other site of the commit quorum is"
            + " lost: BLOCK (writes wait for one; the default) or DEGRADE (record that nobody else holds the writes, then write"
            + " alone). ./ledger up passes what ./ledger up --sync-loss recorded.")
    FailoverStateMachine.SyncLossPolicy syncLoss;

    @Override
    public Integer call() throws Exception {
        LogSetup.install("node-" + region, Level.INFO);
        NodeProcess.run(Topology.load(deployment.dir()), region, syncLoss);
        return 0;
    }
}
