package io.paymentledger.cli.command;

import io.paymentledger.cli.deploy.RouterProcess;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.security.logging.LogSetup;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "router", description = "Run the region router of the local deployment (started by ./ledger up).")
public final class RouterCommand implements Callable<Integer> {

    @Mixin
    DeploymentOptions deployment;

    @Override
    public Integer call() throws Exception {
        LogSetup.install("router", Level.INFO);
        RouterProcess.run(Topology.load(deployment.dir()));
        return 0;
    }
}
