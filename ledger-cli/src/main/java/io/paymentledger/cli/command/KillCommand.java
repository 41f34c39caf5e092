package io.paymentledger.cli.command;

import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.Processes;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.security.logging.LogSetup;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(name = "kill", description = "Failure drill: SIGKILL a part of the local deployment. Targets: node-<r>,"
        + " postgres-<r>, region-<r> (node and postgres), witness, kafka (the broker of ./ledger up --kafka).")
public final class KillCommand implements Callable<Integer> {

    @Mixin
    DeploymentOptions deployment;

    @Parameters(index = "0", description = "node-a | postgres-a | region-a | witness | kafka (or b)")
    String target;

    @Override
    public Integer call() {
        LogSetup.install("ledger-kill", Level.WARNING);
        LocalDeployment d = new LocalDeployment(Topology.load(deployment.dir()), System.out);
        kill(d, target);
        return 0;
    }

    public static void kill(LocalDeployment d, String target) {
        Topology t = d.topology();
        if (target.equals(LocalDeployment.WITNESS)) {
            report(target, Processes.kill(t, LocalDeployment.WITNESS));
            return;
        }
        if (target.equals(io.paymentledger.cli.deploy.KafkaProcess.NAME)) {
            report(target, Processes.kill(t, io.paymentledger.cli.deploy.KafkaProcess.NAME));
            return;
        }
        int dash = target.indexOf('-');
        if (dash < 0) {
            throw new IllegalArgumentException("unknown target " + target + " (node-a, postgres-a, region-a, witness)");
        }
        String kind = target.substring(0, dash);
        String region = target.substring(dash + 1);
        t.region(region);
        switch (kind) {
            case "node" -> report(target, Processes.kill(t, LocalDeployment.nodeName(region)));
            case "postgres" -> killPostgres(d, region);
            case "region" -> {
                report("node-" + region, Processes.kill(t, LocalDeployment.nodeName(region)));
                killPostgres(d, region);
            }
            default -> throw new IllegalArgumentException("unknown target " + target + " (node-a, postgres-a, region-a, witness)");
        }
    }

    private static void killPostgres(LocalDeployment d, String region) {
        var pg = d.postgres(region);
        boolean was = pg.isRunning();
        pg.kill();
        report("postgres-" + region, was);
    }

    private static void report(String what, boolean killed) {
        System.out.println("kill: " + what + (killed ? " killed (SIGKILL)" : " was not running"));
    }
}
