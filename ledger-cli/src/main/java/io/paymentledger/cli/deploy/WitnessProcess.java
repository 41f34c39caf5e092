package io.paymentledger.cli.deploy;

import io.paymentledger.replication.coordinator.ClusterRecord;
import io.paymentledger.replication.coordinator.Coordinator.CoordinatorUnavailable;
import io.paymentledger.replication.coordinator.HazelcastCoordinator;
import io.paymentledger.replication.postgres.Lsn;
import io.paymentledger.replication.postgres.PgBinaries;
import io.paymentledger.replication.postgres.PgCluster;
import io.paymentledger.replication.walkeeper.BaseBackups;
import io.paymentledger.replication.walkeeper.WalKeeper;
import io.paymentledger.replication.walkeeper.WalKeeperMachine;
import io.paymentledger.replication.walkeeper.WalKeeperReport;
import io.paymentledger.replication.walkeeper.WalService;
import io.paymentledger.security.pki.IssuedCert;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The witness site: the third CP member (either region plus the witness is a majority) and the WAL keeper —
 * pg_receivewal following the recorded leader as one site of its commit quorum, fenced while a region takes over,
 * plus base backups on a schedule with a bounded retention. It serves no API; it reports in the CP group (what a
 * takeover waits for) and in {@code <witness dir>/walkeeper.json} (what {@code ./ledger status} shows).
 */
public final class WitnessProcess {

    private static final Logger LOG = Logger.getLogger(WitnessProcess.class.getName());
    /**
     * The keeper loop reads the CP record this often: a takeover waits for it to stop following the old primary, and
     * a new leader's first commits wait for it to follow the new one.
     */
    static final long TICK_MS = 50;
    /** It republishes its report at least this often (a takeover distrusts one older than 3 s). */
    static final long REPORT_INTERVAL_MS = 500;
    /** CP membership upkeep (rejoining the CP group after a restart) this often. */
    static final long MAINTAIN_INTERVAL_MS = 2_000;
    /** The WAL service's certificate is checked for renewal and reloaded this often. */
    static final long TLS_RELOAD_INTERVAL_MS = 600_000;
    /** The backup scheduler looks this often whether a base backup is due. */
    static final long BACKUP_CHECK_INTERVAL_MS = 5_000;
    /** A base backup is taken this often by default (and at once when there is none). */
    public static final Duration BASE_BACKUP_INTERVAL = Duration.ofHours(6);
    /** Complete base backups kept; older ones, and the WAL only they needed, are deleted. */
    public static final int BASE_BACKUPS_KEPT = 2;
    /** The keeper's status for operators, under the witness directory. */
    public static final String STATUS_FILE = "walkeeper.json";

    private WitnessProcess() {}

    /** What the keeper loop knows, for its report. */
    private static final class State {
        volatile WalKeeperMachine.Decision decision;
        volatile String fencedFor = "";
        volatile long fencedAtEpoch;
        volatile WalKeeper.End end = WalKeeper.End.EMPTY;
        volatile String detail = "";
        volatile String backupError = "";
        /** The complete base backups, newest first: re-read by the backup thread, not by every 50 ms tick. */
        volatile List<BaseBackups.Backup> backups = List.of();
    }

    public static void run(Topology t, Duration backupInterval) throws InterruptedException {
        HazelcastCoordinator coordinator = HazelcastCoordinator.start(Coordination.settings(t, LocalDeployment.WITNESS,
                t.witnessHazelcastPort()));
        coordinator.raftLeaderWishFile(Coordination.raftLeaderWishFile(t));
        DeploymentSecurity security = DeploymentSecurity.open(t);
        Map<String, PgCluster> sources = new LinkedHashMap<>();
        t.regions().keySet().forEach(r -> sources.put(r, LocalDeployment.postgres(t, security, r)));
        PgBinaries bin = PgBinaries.detect();
        WalKeeper keeper = new WalKeeper(new WalKeeper.Config(t.witnessDir(), bin, security::walKeeperSecurity, sources));
        BaseBackups backups = new BaseBackups(keeper.backupsDir(), bin);
        // Its WAL over the network for the regions' restore_command (a takeover fetches what it lacks from here).
        IssuedCert keeperCert = security.walKeeper();
        WalService walService = WalService.start(new WalService.Config(keeper.walDir(), t.host(Topology.WITNESS_SITE),
                t.witnessWalPort(), keeperCert.certFile(), keeperCert.keyFile(), security.caFile(), t.trustDomain()));
        State state = new State();
        state.backups = backups.list();
        CountDownLatch stopped = new CountDownLatch(1);
        // A region that just recorded its leadership nudges the keeper: it follows at once instead of at its next tick.
        Semaphore wake = new Semaphore(0);
        coordinator.onNudge(name -> {
            if (name.equals(WalKeeper.NAME)) {
                wake.release();
            }
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stopped.countDown();
            wake.release();
            walService.close();
            keeper.close();
            coordinator.close();
        }, "witness-shutdown"));
        Thread.ofPlatform().name("base-backups").daemon(true).start(() -> backUp(keeper, backups, sources, backupInterval, state, stopped));
        String lastMaintain = "";
        long lastMaintainMs = 0;
        long lastTlsReloadMs = System.currentTimeMillis();
        long lastReportMs = 0;
        WalKeeperReport lastReport = WalKeeperReport.NONE;
        while (stopped.getCount() > 0) {
            if (wake.tryAcquire(TICK_MS, TimeUnit.MILLISECONDS)) {
                wake.drainPermits();
            }
            if (stopped.getCount() == 0) {
                break;
            }
            // Stamps the keeper's report, which the nodes compare with their own stamp clock.
            long now = io.paymentledger.replication.time.HazelcastClock.stampMillis();
            ClusterRecord rec = ClusterRecord.EMPTY;
            String cpError = null;
            try {
                rec = coordinator.readRecord();
            } catch (CoordinatorUnavailable e) {
                cpError = e.getMessage();
            }
            WalKeeperMachine.Decision d = WalKeeperMachine.decide(rec, cpError);
            apply(d, keeper, state);
            WalKeeperReport report = report(keeper, backups, state, now);
            if (!sameState(report, lastReport) || now - lastReportMs >= REPORT_INTERVAL_MS) {
                try {
                    coordinator.reportWalKeeper(report);
                    lastReportMs = now;
                } catch (CoordinatorUnavailable e) {
                    LOG.fine(() -> "witness: cannot publish the WAL keeper's report: " + e.getMessage());
                }
                if (!sameState(report, lastReport)) {
                    LOG.info(() -> "witness: WAL keeper " + report.state() + ": " + report.detail());
                }
                writeStatus(t, keeper, backups.dir(), state.backups, report);
                lastReport = report;
            }
            if (now - lastTlsReloadMs >= TLS_RELOAD_INTERVAL_MS) {
                lastTlsReloadMs = now;
                // A renewed certificate (security.walKeeper() reissues it when due) is served from the next connection.
                security.walKeeper();
                walService.reloadTls();
            }
            if (now - lastMaintainMs >= MAINTAIN_INTERVAL_MS) {
                lastMaintainMs = now;
                String upkeep = coordinator.maintain();
                if (!upkeep.equals(lastMaintain)) {
                    LOG.info(() -> "witness: " + upkeep + "; " + coordinator.describe());
                    lastMaintain = upkeep;
                }
            }
        }
    }

    private static void apply(WalKeeperMachine.Decision d, WalKeeper keeper, State state) {
        state.decision = d;
        switch (d.action()) {
            case FOLLOW -> {
                state.fencedFor = "";
                state.fencedAtEpoch = 0;
                keeper.follow(d.region());
                state.detail = d.explanation() + (keeper.streaming() ? "" : keeper.lastError().isEmpty()
                        ? ": connecting" : ": not streaming yet (" + keeper.lastError() + ")");
            }
            case FENCE -> {
                if (state.fencedFor.equals(d.region()) && state.fencedAtEpoch == d.epoch()) {
                    return;
                }
                keeper.fence();
                try {
                    WalKeeper.End end = keeper.endOfWal();
                    state.end = end;
                    state.fencedFor = d.region();
                    state.fencedAtEpoch = d.epoch();
                    state.detail = d.explanation() + ": " + (end.lsn().isNone() ? "my WAL directory is empty"
                            : "my WAL ends at " + end.lsn() + " on timeline " + end.timeline());
                    LOG.warning(() -> "witness: WAL keeper fenced: " + state.detail);
                } catch (RuntimeException e) {
                    // Never claim an end that is not known: the region taking over waits for it.
                    state.detail = "fenced for " + d.region() + " but cannot tell where my WAL ends (" + e.getMessage()
                            + "); retrying";
                    LOG.log(Level.WARNING, "witness: " + state.detail, e);
                }
            }
            case IDLE -> {
                state.fencedFor = "";
                state.fencedAtEpoch = 0;
                keeper.stop();
                state.detail = d.explanation();
            }
            case KEEP -> state.detail = d.explanation();
        }
    }

    private static WalKeeperReport report(WalKeeper keeper, BaseBackups backups, State state, long now) {
        WalKeeperMachine.Decision d = state.decision;
        WalKeeperReport.State s = !state.fencedFor.isEmpty() ? WalKeeperReport.State.FENCED
                : keeper.streaming() ? WalKeeperReport.State.FOLLOWING
                : d != null && d.action() == WalKeeperMachine.Action.FOLLOW ? WalKeeperReport.State.CONNECTING
                : WalKeeperReport.State.IDLE;
        List<BaseBackups.Backup> list = state.backups;
        String detail = state.detail + (state.backupError.isEmpty() ? "" : "; last base backup failed: " + state.backupError);
        Lsn end = s == WalKeeperReport.State.FENCED ? state.end.lsn() : Lsn.NONE;
        String following = s == WalKeeperReport.State.FENCED ? ""
                : !keeper.following().isEmpty() ? keeper.following()
                : d != null && d.action() == WalKeeperMachine.Action.FOLLOW ? d.region() : "";
        return new WalKeeperReport(s, following, state.fencedFor, state.fencedAtEpoch, end, state.end.timeline(), list.size(),
                list.isEmpty() ? 0 : list.getFirst().takenAtMs(), detail, now);
    }

    private static boolean sameState(WalKeeperReport a, WalKeeperReport b) {
        return a.state() == b.state() && a.following().equals(b.following()) && a.fencedFor().equals(b.fencedFor())
                && a.fencedAtEpoch() == b.fencedAtEpoch() && a.endLsn().equals(b.endLsn()) && a.baseBackups() == b.baseBackups()
                && Objects.equals(a.detail(), b.detail());
    }

    /** Base backups from the leader the keeper follows: at once when none, then every {@code interval}. */
    private static void backUp(WalKeeper keeper, BaseBackups backups, Map<String, PgCluster> sources, Duration interval,
            State state, CountDownLatch stopped) {
        boolean freshStart = false;
        try {
            while (!stopped.await(BACKUP_CHECK_INTERVAL_MS, TimeUnit.MILLISECONDS)) {
                freshStart |= keeper.takeFreshStart();
                state.backups = backups.list();
                String leader = keeper.following();
                if (leader.isEmpty() || !keeper.streaming()) {
                    continue;
                }
                List<BaseBackups.Backup> list = backups.list();
                boolean due = list.isEmpty() || freshStart
                        || System.currentTimeMillis() - list.getFirst().takenAtMs() >= interval.toMillis();
                if (!due) {
                    continue;
                }
                try {
                    backups.take(leader, sources.get(leader), keeper.client());
                    state.backups = backups.prune(BASE_BACKUPS_KEPT, keeper.walDir());
                    state.backupError = "";
                    freshStart = false;
                } catch (RuntimeException e) {
                    state.backupError = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
                    LOG.log(Level.WARNING, "witness: base backup of " + leader + " failed", e);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The keeper's status for `./ledger status` (written atomically: a reader never sees half of it). */
    private static void writeStatus(Topology t, WalKeeper keeper, Path backupsDir, List<BaseBackups.Backup> backups,
            WalKeeperReport report) {
        JsonArray list = new JsonArray();
        backups.forEach(b -> list.add(b.toJson()));
        JsonObject j = report.toJsonObject().put("walDir", keeper.walDir().toString()).put("backupsDir", backupsDir.toString())
                .put("log", keeper.logFile().toString()).put("backups", list);
        Path file = statusFile(t);
        Path tmp = file.resolveSibling(STATUS_FILE + ".tmp");
        try {
            Files.writeString(tmp, j.encodePrettily());
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            LOG.warning(() -> "witness: cannot write " + file + ": " + e.getMessage());
        }
    }

    public static Path statusFile(Topology t) {
        return t.witnessDir().resolve(STATUS_FILE);
    }
}
