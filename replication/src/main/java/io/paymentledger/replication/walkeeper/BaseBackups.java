package io.paymentledger.replication.walkeeper;

import io.paymentledger.replication.postgres.Lsn;
import io.paymentledger.replication.postgres.PgBinaries;
import io.paymentledger.replication.postgres.PgClient;
import io.paymentledger.replication.postgres.PgCluster;
import io.paymentledger.replication.postgres.ProcessRunner;
import io.paymentledger.replication.postgres.ServerUserFiles;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Base backups at the witness (PostgreSQL's own pg_basebackup from the leader), with a bounded retention: the
 * newest {@code kept} are kept, older ones deleted, and the keeper's WAL older than the oldest kept backup's start
 * removed with PostgreSQL's pg_archivecleanup. A base backup plus the keeper's WAL rebuilds a lost region up to
 * the last acknowledged write (runbooks/restore.md).
 *
 * <p>Each backup is a directory {@code <UTC time>} (a plain data directory with its own WAL, so it is usable on its
 * own) holding {@value #MANIFEST}; one being taken is {@code <UTC time>.in-progress} and never counts.
 */
public final class BaseBackups {

    private static final Logger LOG = Logger.getLogger(BaseBackups.class.getName());
    /** What we write into a backup once pg_basebackup succeeded: its source, start position and time. */
    public static final String MANIFEST = "ledger-backup.json";
    /** A base backup must finish within this (the ledger's database is small; a stuck one must not block the next). */
    static final long BACKUP_TIMEOUT_SECONDS = 600;
    private static final DateTimeFormatter NAME = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);
    private static final Pattern START = Pattern.compile("START WAL LOCATION: ([0-9A-F]+/[0-9A-F]+) \\(file ([0-9A-F]{24})\\)");
    private static final Pattern TIMELINE = Pattern.compile("START TIMELINE: ([0-9]+)");

    /**
     * One complete backup.
     *
     * @param startWalFile  the WAL file it starts in: WAL before it is not needed to restore it
     */
    public record Backup(Path dir, String source, Lsn start, String startWalFile, long timeline, long takenAtMs) {
        public JsonObject toJson() {
            return new JsonObject().put("dir", dir.toString()).put("source", source).put("start", start.toString())
                    .put("startWalFile", startWalFile).put("timeline", timeline).put("takenAtMs", takenAtMs);
        }
    }

    private final Path dir;
    private final PgBinaries bin;
    private final ServerUserFiles files;

    public BaseBackups(Path dir, PgBinaries bin) {
        this.dir = dir;
        this.bin = bin;
        this.files = new ServerUserFiles(bin);
        files.directories(List.of(dir));
    }

    public Path dir() {
        return dir;
    }

    /** Complete backups, newest first. */
    public List<Backup> list() {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        List<Backup> out = new ArrayList<>();
        try (Stream<Path> list = Files.list(dir)) {
            for (Path p : list.filter(p -> Files.exists(p.resolve(MANIFEST))).toList()) {
                JsonObject j = new JsonObject(Files.readString(p.resolve(MANIFEST)));
                out.add(new Backup(p, j.getString("source"), Lsn.parse(j.getString("start")), j.getString("startWalFile"),
                        j.getLong("timeline"), j.getLong("takenAtMs")));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the base backups in " + dir, e);
        }
        out.sort(Comparator.comparingLong(Backup::takenAtMs).reversed());
        return out;
    }

    /** Takes a base backup of {@code source} (region {@code region}) as {@code client}; returns it once complete. */
    public Backup take(String region, PgCluster source, PgClient client) {
        long now = System.currentTimeMillis();
        String name = NAME.format(Instant.ofEpochMilli(now));
        Path target = dir.resolve(name);
        Path inProgress = dir.resolve(name + ".in-progress");
        WalKeeper.deleteTree(inProgress);
        // -X stream: the backup carries the WAL it needs to be consistent, whatever the keeper holds.
        ProcessRunner.run(bin.command("pg_basebackup", List.of("-D", inProgress.toString(), "-d", source.conninfoFor(client),
                "-X", "stream", "-c", "fast", "-l", "walkeeper " + name)), BACKUP_TIMEOUT_SECONDS, null, Map.of(), true);
        String label;
        try {
            label = Files.readString(inProgress.resolve("backup_label"));
        } catch (IOException e) {
            throw new UncheckedIOException("the base backup in " + inProgress + " has no backup_label", e);
        }
        Matcher start = START.matcher(label);
        Matcher tli = TIMELINE.matcher(label);
        if (!start.find() || !tli.find()) {
            throw new IllegalStateException("cannot read the start of the base backup from its backup_label: " + label);
        }
        Backup b = new Backup(target, region, Lsn.parse(start.group(1)), start.group(2), Long.parseLong(tli.group(1)), now);
        files.write(inProgress.resolve(MANIFEST), b.toJson().encodePrettily());
        try {
            Files.move(inProgress, target);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot complete the base backup " + target, e);
        }
        LOG.info(() -> "WAL keeper: base backup of " + region + " taken: " + target + " (starts at " + b.start() + ")");
        return b;
    }

    /**
     * Keeps the newest {@code kept} backups, deletes the rest (and any left in progress), then removes the keeper's
     * WAL that only older backups needed. Returns the backups kept.
     */
    public List<Backup> prune(int kept, Path walDir) {
        List<Backup> all = list();
        List<Backup> keep = all.subList(0, Math.min(kept, all.size()));
        for (Backup b : all.subList(keep.size(), all.size())) {
            WalKeeper.deleteTree(b.dir());
            LOG.info(() -> "WAL keeper: deleted the base backup " + b.dir() + " (keeping the newest " + kept + ")");
        }
        try (Stream<Path> list = Files.list(dir)) {
            list.filter(p -> p.getFileName().toString().endsWith(".in-progress")).forEach(WalKeeper::deleteTree);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (!keep.isEmpty()) {
            String oldestNeeded = keep.get(keep.size() - 1).startWalFile();
            // pg_archivecleanup removes the WAL files (.partial too) logically before the one named; history files stay.
            ProcessRunner.run(bin.command("pg_archivecleanup", List.of(walDir.toString(), oldestNeeded)),
                    WalKeeper.TOOL_TIMEOUT_SECONDS, null, Map.of(), false);
        }
        return keep;
    }
}
