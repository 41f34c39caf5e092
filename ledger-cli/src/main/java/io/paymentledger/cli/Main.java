package io.paymentledger.cli;

import io.paymentledger.cli.command.BenchCommand;
import io.paymentledger.cli.command.ChaosCommand;
import io.paymentledger.cli.command.DestroyCommand;
import io.paymentledger.cli.command.DownCommand;
import io.paymentledger.cli.command.DrillCommand;
import io.paymentledger.cli.command.EventsCommand;
import io.paymentledger.cli.command.KafkaCommand;
import io.paymentledger.cli.command.FailbackCommand;
import io.paymentledger.cli.command.KillCommand;
import io.paymentledger.cli.command.RestartCommand;
import io.paymentledger.cli.command.RestoreCommand;
import io.paymentledger.cli.command.SwitchoverCommand;
import io.paymentledger.cli.command.MerchantCommand;
import io.paymentledger.cli.command.NodeCommand;
import io.paymentledger.cli.command.PkiCommand;
import io.paymentledger.cli.command.RouterCommand;
import io.paymentledger.cli.command.SiteCommand;
import io.paymentledger.cli.command.StatusCommand;
import io.paymentledger.cli.command.UpCommand;
import io.paymentledger.cli.command.VerifyCommand;
import io.paymentledger.cli.command.WitnessCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** `./ledger`: the operator's tool for the local deployment, drills and diagnostics. */
@Command(name = "ledger", mixinStandardHelpOptions = true, version = "ledger 0.1.0",
        description = "Global payment ledger: run the local multi-region deployment and operate it.",
        subcommands = {UpCommand.class, StatusCommand.class, DownCommand.class, DestroyCommand.class,
                RestartCommand.class, SiteCommand.class, SwitchoverCommand.class, FailbackCommand.class, RestoreCommand.class, KillCommand.class, ChaosCommand.class, DrillCommand.class, BenchCommand.class, PkiCommand.class, MerchantCommand.class,
                NodeCommand.class, WitnessCommand.class, RouterCommand.class, VerifyCommand.class, EventsCommand.class, KafkaCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    public static int execute(String... args) {
        return new CommandLine(new Main()).setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println("ledger: " + ex.getMessage());
            return 1;
        }).execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
