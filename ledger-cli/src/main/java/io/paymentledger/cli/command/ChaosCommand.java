package io.paymentledger.cli.command;

import io.paymentledger.cli.chaos.Faults;
import io.paymentledger.cli.chaos.NetworkFaults;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.security.logging.LogSetup;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "chaos", description = "Fault injection on the running deployment (the drills use the same): pause"
        + " (SIGSTOP: a GC, a frozen VM), resume, kill; with --sites netns also isolate (cut every link of a site) and"
        + " partition (cut the link between two sites, or one direction of it); heal undoes everything. Each says what it"
        + " did and how to undo it. Processes: node-a, postgres-a, witness, router (or b); sites: a, b, witness.",
        subcommands = {ChaosCommand.Pause.class, ChaosCommand.Resume.class, ChaosCommand.Heal.class, ChaosCommand.Kill.class,
                ChaosCommand.Isolate.class, ChaosCommand.Partition.class})
public final class ChaosCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(System.out);
        return 2;
    }

    static LocalDeployment open(DeploymentOptions options) {
        LogSetup.install("ledger-chaos", Level.WARNING);
        return new LocalDeployment(Topology.load(options.dir()), System.out);
    }

    @Command(name = "pause", description = "SIGSTOP a process and everything it started; with --seconds, SIGCONT after.")
    static final class Pause implements Callable<Integer> {
        @Mixin
        DeploymentOptions deployment;

        @Parameters(index = "0", description = "node-a | postgres-a | witness | router (or b)")
        String process;

        @Option(names = "--seconds", description = "Resume after this many seconds (default: stay paused until resume/heal).")
        Integer seconds;

        @Override
        public Integer call() throws InterruptedException {
            if (seconds != null && (seconds < 1 || seconds > 600)) {
                throw new CommandLine.ParameterException(new CommandLine(this), "--seconds must be within 1..600");
            }
            Faults f = new Faults(open(deployment));
            List<Long> pids = f.pause(process);
            System.out.println("chaos: " + process + " paused (SIGSTOP to pids " + pids + ")");
            if (seconds == null) {
                System.out.println("chaos: undo with ./ledger chaos resume " + process + " (or ./ledger chaos heal)");
                return 0;
            }
            Thread.sleep(seconds * 1000L);
            f.resume(process);
            System.out.println("chaos: " + process + " resumed after " + seconds + " s (SIGCONT)");
            return 0;
        }
    }

    @Command(name = "resume", description = "SIGCONT a paused process (and its children).")
    static final class Resume implements Callable<Integer> {
        @Mixin
        DeploymentOptions deployment;

        @Parameters(index = "0", description = "node-a | postgres-a | witness | router (or b)")
        String process;

        @Override
        public Integer call() {
            List<Long> pids = new Faults(open(deployment)).resume(process);
            System.out.println("chaos: " + process + " resumed (SIGCONT to pids " + pids + ")");
            return 0;
        }
    }

    @Command(name = "heal", description = "Undo every fault still in place (resume every paused process).")
    static final class Heal implements Callable<Integer> {
        @Mixin
        DeploymentOptions deployment;

        @Override
        public Integer call() {
            List<String> names = new Faults(open(deployment)).heal();
            System.out.println(names.isEmpty() ? "chaos: nothing to heal" : "chaos: undone: " + String.join("; ", names));
            return 0;
        }
    }

    @Command(name = "isolate", description = "Cut every link of a site (netns layout): its processes hear nobody and nobody"
            + " hears them; packets are dropped silently, as a dead link does.")
    static final class Isolate implements Callable<Integer> {
        @Mixin
        DeploymentOptions deployment;

        @Parameters(index = "0", description = "a | b | witness")
        String site;

        @Override
        public Integer call() {
            String done = new NetworkFaults(open(deployment).topology()).isolate(site);
            System.out.println("chaos: " + done);
            System.out.println("chaos: undo with ./ledger chaos heal");
            return 0;
        }
    }

    @Command(name = "partition", description = "Cut the link between two sites (netns layout), both ways or, with"
            + " --one-way, only what the first sends to the second. Everything else still talks.")
    static final class Partition implements Callable<Integer> {
        @Mixin
        DeploymentOptions deployment;

        @Parameters(index = "0", description = "a | b | witness")
        String from;

        @Parameters(index = "1", description = "a | b | witness")
        String to;

        @Option(names = "--one-way", description = "Drop only packets from the first site to the second.")
        boolean oneWay;

        @Override
        public Integer call() {
            NetworkFaults n = new NetworkFaults(open(deployment).topology());
            System.out.println("chaos: " + (oneWay ? n.cut(from, to) : n.partition(from, to)));
            System.out.println("chaos: undo with ./ledger chaos heal");
            return 0;
        }
    }

    @Command(name = "kill", description = "SIGKILL, as `./ledger kill` (node-a, postgres-a, region-a, witness).")
    static final class Kill implements Callable<Integer> {
        @Mixin
        DeploymentOptions deployment;

        @Parameters(index = "0", description = "node-a | postgres-a | region-a | witness (or b)")
        String target;

        @Override
        public Integer call() {
            KillCommand.kill(open(deployment), target);
            System.out.println("chaos: undo with ./ledger up (restarts what is down; a former primary rejoins by itself)");
            return 0;
        }
    }
}
