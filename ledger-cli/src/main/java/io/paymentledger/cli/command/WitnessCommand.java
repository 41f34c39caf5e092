package io.paymentledger.cli.command;

import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.cli.deploy.WitnessProcess;
import io.paymentledger.security.logging.LogSetup;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "witness", description = "Run the witness CP member of the local deployment (started by ./ledger up).")
public final class WitnessCommand implements Callable<Integer> {

    @Mixin
    DeploymentOptions deployment;

    @Override
    public Integer call() throws Exception {
        LogSetup.install("witness", Level.INFO);
        WitnessProcess.run(Topology.load(deployment.dir()));
        return 0;
    }
}
