package io.paymentledger.cli.command;

import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.security.logging.LogSetup;
import java.util.logging.Level;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "destroy", description = "Stop the local deployment and delete all its data (ledger, keys, logs).")
public final class DestroyCommand implements Runnable {

    @Mixin
    DeploymentOptions deployment;

    @Override
    public void run() {
        LogSetup.install("ledger-destroy", Level.WARNING);
        if (!Topology.exists(deployment.dir())) {
            System.out.println("ledger destroy: nothing deployed in " + deployment.dir());
            return;
        }
        new LocalDeployment(Topology.load(deployment.dir()), System.out).destroy();
    }
}
