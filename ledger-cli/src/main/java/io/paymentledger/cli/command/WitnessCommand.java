package io.paymentledger.cli.command;

import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.cli.deploy.WitnessProcess;
import io.paymentledger.security.logging.LogSetup;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "witness", description = "Run the witness site of the local deployment (started by ./ledger up): the third"
        + " CP member and the WAL keeper (pg_receivewal following the leader, base backups).")
public final class WitnessCommand implements Callable<Integer> {

    @Mixin
    DeploymentOptions deployment;

    @Option(names = "--backup-interval-minutes", description = "Take a base backup of the leader this often (default: 360;"
            + " one is taken at once when there is none). The newest 2 are kept.")
    long backupIntervalMinutes = WitnessProcess.BASE_BACKUP_INTERVAL.toMinutes();

    @Override
    public Integer call() throws Exception {
        LogSetup.install("witness", Level.INFO);
        if (backupIntervalMinutes < 1) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                    "--backup-interval-minutes must be at least 1, got " + backupIntervalMinutes);
        }
        WitnessProcess.run(Topology.load(deployment.dir()), java.time.Duration.ofMinutes(backupIntervalMinutes));
        return 0;
    }
}
