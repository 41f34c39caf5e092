package io.paymentledger.cli.command;

import io.paymentledger.cli.chaos.ClockFaults;
import io.paymentledger.cli.chaos.Faults;
import io.paymentledger.cli.chaos.NetworkFaults;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.security.logging.LogSetup;
import java.io.PrintStream;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "chaos", description = "Fault injection on the running deployment (the drills use the same): pause"
        + " (SIGSTOP: a GC, a frozen VM), resume, kill, clock (a wall-clock jump; ./ledger up --clock-faults); with --sites"
        + " netns also isolate (cut every link of a site) and partition (cut the link between two sites, or one direction"
        + " of it); heal undoes everything; run: a workload under a seeded schedule of faults, checked afterwards. Each says"
        + " what it did and how to undo it. Processes: node-a, postgres-a, witness, router (or b); sites: a, b, witness.",
        subcommands = {ChaosCommand.Pause.class, ChaosCommand.Resume.class, ChaosCommand.Clock.class, ChaosCommand.Heal.class,
                ChaosCommand.Kill.class, ChaosCommand.Isolate.class, ChaosCommand.Partition.class, ChaosCommand.Run.class,
                ChaosCommand.RaftLeader.class})
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

    @Command(name = "raft-leader", description = "Move the CP groups' Raft leadership to a site's CP member (a, b or"
            + " witness), so that a fault can be tried with each placement; waits until done (at most 30 s).")
    static final class RaftLeader implements Callable<Integer> {
        @Mixin
        DeploymentOptions deployment;

        @Parameters(index = "0", description = "a | b | witness")
        String site;

        @Override
        public Integer call() {
            LocalDeployment d = open(deployment);
            long ms = io.paymentledger.cli.deploy.Coordination.moveRaftLeader(d.topology(), site, java.time.Duration.ofSeconds(30));
            System.out.println("chaos: every CP group's Raft leader is " + site + "'s CP member (" + ms + " ms)");
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

    @Command(name = "clock", description = "Set a process's wall clock this many seconds off real time (e.g. +30, -30; 0"
            + " is real time again); its monotonic clock stays real. Needs a deployment started with ./ledger up --clock-faults.")
    static final class Clock implements Callable<Integer> {
        @Mixin
        DeploymentOptions deployment;

        @Parameters(index = "0", description = "node-a | node-b | witness")
        String process;

        @Parameters(index = "1", description = "seconds off real time, -3600..+3600 (+30: ahead, -30: behind, 0: real)")
        int seconds;

        @Override
        public Integer call() {
            LocalDeployment d = open(deployment);
            ClockFaults clocks = new ClockFaults(d.topology());
            String before = clocks.offset(process);
            java.nio.file.Path file = clocks.jump(process, seconds);
            System.out.println("chaos: " + process + "'s wall clock is now " + clocks.offset(process) + " off real time (was "
                    + before + "; wrote " + file + ", read by libfaketime within " + ClockFaults.RECHECK_SECONDS + " s)");
            System.out.println("chaos: undo with ./ledger chaos clock " + process + " 0 (or ./ledger chaos heal)");
            return 0;
        }
    }

    @Command(name = "heal", description = "Undo every fault still in place: resume every paused process, set every"
            + " jumped clock back to real time.")
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

    @Command(name = "run", description = "A merchant's workload through the router (transfers retried with the same ids,"
            + " linearizable reads) under a seeded random schedule of faults on whichever node leads; afterwards everything"
            + " is healed and the history is checked against the ledger. Exit 0 sound, 1 anomaly (or no leader), 2 bad"
            + " usage or no deployment running.")
    static final class Run implements Callable<Integer> {
        @Mixin
        DeploymentOptions deployment;

        @Option(names = "--duration", defaultValue = "" + io.paymentledger.cli.chaos.ChaosRun.DURATION_DEFAULT_S,
                description = "Seconds of workload and faults (${DEFAULT-VALUE}; 10..1800); the settling afterwards is bounded too.")
        int duration;

        @Option(names = "--seed", description = "Seed of the fault schedule (default: random, printed; the same seed replays it).")
        Long seed;

        @Option(names = "--faults", defaultValue = "all", description = "Fault classes, in turn, comma-separated, or all: "
                + "pause_leader_node, pause_leader_postgres, pause_witness, kill_leader_node, kill_leader_postgres; with"
                + " --sites netns also isolate_leader_region, partition_leader_standby, cut_leader_to_standby,"
                + " cut_standby_to_leader, isolate_witness (all = every class the deployment can suffer).")
        String faults;

        @Option(names = "--json", description = "Also write the report as JSON to this file (- for standard output; the"
                + " human text then goes to standard error).")
        String json;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            io.paymentledger.cli.chaos.ChaosRun.Options options;
            try {
                options = new io.paymentledger.cli.chaos.ChaosRun.Options(duration,
                        seed != null ? seed : new java.security.SecureRandom().nextLong(),
                        io.paymentledger.cli.chaos.FaultClass.parse(faults, Topology.exists(deployment.dir())
                                && Topology.load(deployment.dir()).sites().netns()));
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
            }
            boolean jsonToStdout = "-".equals(json);
            PrintStream stdout = System.out;
            PrintStream text = jsonToStdout ? System.err : System.out;
            java.nio.file.Path dir = deployment.dir();
            if (!Topology.exists(dir)) {
                text.println("chaos run: no deployment in " + dir + "; start one with ./ledger up --detach");
                return 2;
            }
            LocalDeployment d = open(deployment);
            try {
                d.awaitLeader(NOT_RUNNING_WAIT);
            } catch (IllegalStateException e) {
                text.println("chaos run: the deployment in " + dir + " has no leader (" + e.getMessage()
                        + "); start it with ./ledger up --detach");
                return 2;
            }
            text.println("chaos run: seed " + options.seed() + ", " + options.durationS() + " s, faults "
                    + options.faults().stream().map(io.paymentledger.cli.chaos.FaultClass::cliName).toList()
                    + "; workload through the router at 127.0.0.1:" + d.topology().routerPort());
            io.paymentledger.cli.chaos.RunReport report;
            // Kills print through ./ledger kill's code to standard output: keep it for the JSON when that is asked for.
            if (jsonToStdout) {
                System.setOut(System.err);
            }
            try {
                report = new io.paymentledger.cli.chaos.ChaosRun(d, options, text).run();
            } finally {
                System.setOut(stdout);
            }
            report.print(text);
            if (json != null) {
                String encoded = report.toJson().encodePrettily();
                if (jsonToStdout) {
                    stdout.println(encoded);
                } else {
                    java.nio.file.Files.writeString(java.nio.file.Path.of(json), encoded + "\n");
                    text.println("chaos run: report written to " + json);
                }
            }
            return report.exitCode();
        }
    }

    /** How long `chaos run` waits for a leader before it says the deployment is not running. */
    static final java.time.Duration NOT_RUNNING_WAIT = java.time.Duration.ofSeconds(30);
}
