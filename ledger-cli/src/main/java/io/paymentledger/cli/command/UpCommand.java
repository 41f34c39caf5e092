package io.paymentledger.cli.command;

import io.paymentledger.cli.chaos.ClockFaults;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.Processes;
import io.paymentledger.cli.deploy.Sites;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.replication.failover.FailoverStateMachine;
import io.paymentledger.security.logging.LogSetup;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Level;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "up", description = "Start the local deployment (creates it on first use). Stays in the foreground"
        + " until Ctrl-C, which stops it; --detach returns once it serves.")
public final class UpCommand implements Runnable {

    @Mixin
    DeploymentOptions deployment;

    @Option(names = "--detach", description = "Return once the deployment serves; stop it with ./ledger down.")
    boolean detach;

    @Option(names = "--sites", paramLabel = "loopback|netns", description = "Where the sites (region a, region b, the"
            + " witness) live, chosen at the first up: loopback (default: every process on 127.0.0.1) or netns (each site"
            + " a network namespace with its own address, so ./ledger chaos can cut its links; needs root and iproute2).")
    String sites;

    @Option(names = "--clock-faults", description = "Start the ledger nodes and the witness under libfaketime (Debian's"
            + " faketime) so that ./ledger chaos clock can make their wall clocks jump; kept until ./ledger destroy.")
    boolean clockFaults;

    @Option(names = "--sync-loss", paramLabel = "BLOCK|DEGRADE", description = "What the leader does when every other site"
            + " of its commit quorum (the other region and the WAL keeper) is lost: BLOCK (the default: writes wait until"
            + " one is back) or DEGRADE (record in the CP group that nobody else holds the writes, then write alone; nobody"
            + " is promoted automatically until a second site is back). Kept until ./ledger destroy; a running node keeps"
            + " its policy until it restarts (./ledger down, then up).")
    FailoverStateMachine.SyncLossPolicy syncLoss;

    @Option(names = "--kafka", negatable = true, description = "Run a Kafka broker (KRaft, one node, from the Maven Central"
            + " jars) beside the deployment and the relay that publishes the event stream into it exactly once; kept until"
            + " ./ledger destroy, --no-kafka turns it off. Nodes that run pick it up when restarted.")
    Boolean kafka;

    @Override
    public void run() {
        LogSetup.install("ledger-up", Level.WARNING);
        LocalDeployment d = sites == null ? LocalDeployment.open(deployment.dir(), System.out)
                : LocalDeployment.open(deployment.dir(), System.out, layout(sites));
        if (clockFaults) {
            ClockFaults clocks = new ClockFaults(d.topology());
            clocks.enable();
            System.out.println("clock faults: on for " + String.join(", ", ClockFaults.PROCESSES) + " (libfaketime; offsets in "
                    + d.topology().run() + "/clock-<process>); jump with ./ledger chaos clock <process> <±seconds>");
        }
        if (syncLoss != null) {
            recordSyncLoss(d.topology(), syncLoss);
        }
        if (kafka != null) {
            io.paymentledger.cli.deploy.KafkaProcess.record(d.topology(), kafka);
            if (!kafka && io.paymentledger.cli.deploy.KafkaProcess.stop(d.topology())) {
                System.out.println("kafka: turned off and stopped (the nodes stop their relay when restarted)");
            }
        }
        d.up();
        if (detach) {
            System.out.println("ledger up: running in the background; ./ledger status to look, ./ledger down to stop.");
            return;
        }
        System.out.println("ledger up: running; press Ctrl-C to stop everything.");
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            d.down();
            done.countDown();
        }, "ledger-up-shutdown"));
        try {
            done.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void recordSyncLoss(Topology t, FailoverStateMachine.SyncLossPolicy policy) {
        FailoverStateMachine.SyncLossPolicy before = LocalDeployment.syncLossPolicy(t);
        LocalDeployment.recordSyncLossPolicy(t, policy);
        List<String> running = t.regions().keySet().stream()
                .filter(r -> Processes.running(t, LocalDeployment.nodeName(r)).isPresent()).toList();
        System.out.println("sync-loss policy: " + policy + (policy == FailoverStateMachine.SyncLossPolicy.BLOCK
                ? " (writes wait while no other site of the commit quorum streams)"
                : " (with no other site of the commit quorum streaming, the leader records that and writes alone)")
                + (before == policy || running.isEmpty() ? "" : "; node" + (running.size() > 1 ? "s " : " ")
                        + String.join(" and ", running) + (running.size() > 1 ? " run" : " runs") + " with " + before
                        + " until restarted (./ledger down, then ./ledger up)"));
    }

    private Sites.Layout layout(String value) {
        return switch (value) {
            case "loopback" -> Sites.Layout.LOOPBACK;
            case "netns" -> Sites.Layout.NETNS;
            default -> throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                    "--sites must be loopback or netns, not '" + value + "'");
        };
    }
}
