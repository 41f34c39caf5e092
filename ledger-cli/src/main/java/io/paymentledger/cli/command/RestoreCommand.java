package io.paymentledger.cli.command;

import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.Processes;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.replication.postgres.Lsn;
import io.paymentledger.replication.postgres.PgBinaries;
import io.paymentledger.replication.postgres.PgCluster;
import io.paymentledger.replication.walkeeper.BaseBackups;
import io.paymentledger.replication.walkeeper.WalKeeper;
import io.paymentledger.security.logging.LogSetup;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "restore", description = "Rebuild a region's PostgreSQL from the witness: the newest base backup plus"
        + " every WAL record the WAL keeper kept (runbooks/restore.md). Run ./ledger down first; ./ledger up after.")
public final class RestoreCommand implements Callable<Integer> {

    /** Replaying the kept WAL must finish within this (the keeper keeps at most two backup intervals of it). */
    static final Duration RECOVERY_TIMEOUT = Duration.ofMinutes(30);

    @Mixin
    DeploymentOptions deployment;

    @Option(names = "--region", required = true, description = "The region to rebuild: the one the CP record names as"
            + " leader (./ledger status shows it; after a full loss, the last one that led).")
    String region;

    @Option(names = "--backup", description = "A base backup directory to start from (default: the newest one).")
    Path backup;

    @Override
    public Integer call() {
        LogSetup.install("ledger-restore", Level.WARNING);
        restore(new LocalDeployment(Topology.load(deployment.dir()), System.out), region, backup, System.out);
        return 0;
    }

    /** The outcome of a restore: where the rebuilt database's WAL ends, and where the keeper's did. */
    public record Restored(Path backup, Lsn keeperEnd, Lsn restoredTo, Path movedAside) {}

    public static Restored restore(LocalDeployment d, String region, Path chosen, PrintStream out) {
        Topology t = d.topology();
        t.region(region);
        for (String p : List.of(LocalDeployment.nodeName(region), LocalDeployment.WITNESS)) {
            if (Processes.running(t, p).isPresent()) {
                throw new IllegalStateException(p + " is running: run ./ledger down first (the WAL keeper's WAL must be"
                        + " final, and nothing may write to region " + region + "'s database)");
            }
        }
        PgCluster pg = d.postgres(region);
        if (pg.isRunning()) {
            throw new IllegalStateException("postgres " + region + " is running: run ./ledger down first");
        }
        PgBinaries bin = PgBinaries.detect();
        BaseBackups backups = new BaseBackups(t.witnessDir().resolve("backups"), bin);
        Path from = chosen;
        if (from == null) {
            List<BaseBackups.Backup> list = backups.list();
            if (list.isEmpty()) {
                throw new IllegalStateException("no base backup in " + backups.dir() + ": nothing to restore from");
            }
            from = list.getFirst().dir();
        }
        WalKeeper.End end = WalKeeper.endOfWal(t.witnessDir(), bin);
        out.println("restore: base backup " + from + "; the WAL keeper's WAL ends at " + end.lsn() + " (timeline "
                + end.timeline() + ")");
        Path aside = null;
        if (pg.isInitialised() || Files.exists(pg.dataDir())) {
            aside = pg.dataDir().resolveSibling("data.before-restore-" + Instant.now().toString().replace(':', '-'));
            try {
                Files.move(pg.dataDir(), aside);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("cannot move " + pg.dataDir() + " aside", e);
            }
            out.println("restore: kept the old data directory as " + aside + " (delete it once the restore is verified)");
        }
        Lsn restored = pg.restoreFrom(from, WalKeeper.restoreCommand(WalKeeper.walDir(t.witnessDir())), RECOVERY_TIMEOUT);
        if (!restored.atLeast(end.lsn())) {
            throw new IllegalStateException("postgres " + region + " recovered only up to " + restored + " but the keeper's WAL"
                    + " ends at " + end.lsn() + ": some kept WAL could not be replayed; see " + pg.logFile()
                    + " — do NOT start the nodes; keep the keeper's directory " + t.witnessDir());
        }
        out.println("restore: postgres " + region + " replayed every kept WAL record and is a primary again (its WAL now"
                + " ends at " + restored + ", past the keeper's " + end.lsn() + "); next: ./ledger up");
        return new Restored(from, end.lsn(), restored, aside);
    }
}
