package io.paymentledger.cli.command;

import io.paymentledger.cli.deploy.DeploymentSecurity;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.security.logging.LogSetup;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "pki", description = "The deployment's PKI.", subcommands = PkiCommand.Init.class)
public final class PkiCommand implements Runnable {

    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    @Command(name = "init", description = "Create the CA (ECDSA P-256) and issue every service certificate and the"
            + " operator certificate (idempotent; ./ledger up does it too).")
    public static final class Init implements Callable<Integer> {
        @Mixin
        DeploymentOptions deployment;

        @Override
        public Integer call() {
            LogSetup.install("ledger-pki", Level.WARNING);
            Topology t = Topology.exists(deployment.dir()) ? Topology.load(deployment.dir()) : Topology.create(deployment.dir());
            t.save();
            DeploymentSecurity s = DeploymentSecurity.open(t);
            s.issueAll();
            System.out.println("pki: CA " + s.caFile() + " (trust domain " + s.trustDomain() + ")");
            System.out.println("pki: operator certificate " + s.operator().certFile() + ", key " + s.operator().keyFile());
            for (String r : t.regions().keySet()) {
                System.out.println("pki: node " + r + " " + s.node(r).identity() + " valid until " + s.node(r).notAfter());
            }
            System.out.println("pki: router " + s.router().identity() + " valid until " + s.router().notAfter());
            return 0;
        }
    }
}
