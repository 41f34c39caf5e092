package io.paymentledger.cli.command;

import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.security.logging.LogSetup;
import java.util.logging.Level;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "down", description = "Stop every process of the local deployment; data stays.")
public final class DownCommand implements Runnable {

    @Mixin
    DeploymentOptions deployment;

    @Override
    public void run() {
        LogSetup.install("ledger-down", Level.WARNING);
        if (!Topology.exists(deployment.dir())) {
            System.out.println("ledger down: nothing deployed in " + deployment.dir());
            return;
        }
        new LocalDeployment(Topology.load(deployment.dir()), System.out).down();
    }
}
