package io.paymentledger.cli.command;

import io.paymentledger.cli.chaos.ClockFaults;
import io.paymentledger.cli.chaos.Faults;
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
        + " (SIGSTOP: a GC, a frozen VM), resume, clock (a wall-clock jump), heal (undo everything), kill. Each says what it"
        + " did and how to undo it. Processes: node-a, postgres-a, witness, router (or b).",
        subcommands = {ChaosCommand.Pause.class, ChaosCommand.Resume.class, ChaosCommand.Clock.class, ChaosCommand.Heal.class,
                ChaosCommand.Kill.class})
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
            System.out.println(names.isEmpty() ? "chaos: nothing to heal" : "chaos: healed " + String.join(", ", names));
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
