package io.paymentledger.replication.walkeeper;

import io.paymentledger.replication.postgres.Lsn;
import io.paymentledger.replication.postgres.PgBinaries;
import io.paymentledger.replication.postgres.PgClient;
import io.paymentledger.replication.postgres.PgCluster;
import io.paymentledger.replication.postgres.ProcessRunner;
import io.paymentledger.replication.postgres.ServerUserFiles;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The WAL keeper at the witness site: PostgreSQL's own {@code pg_receivewal --synchronous} on the replication slot
 * {@value #NAME}, streaming the leader's WAL over TLS with the keeper's client certificate and the password, and
 * flushing it before it confirms — so the leader may count it as the second site of a commit (ANY 1 of the commit
 * set). It holds no tables: only WAL files (the current segment as {@code .partial}) and timeline history files,
 * which a standby can fetch with {@link #restoreCommand} before it is promoted, and from which (with a base backup)
 * a lost region is rebuilt.
 *
 * <p>One pg_receivewal at a time, started with {@code --no-loop} and restarted by {@link #follow} (re-pointed
 * when the leader changes: it continues from its last segment and follows timeline switches by itself). It is
 * stopped for a takeover ({@link #stop}) and then says where its WAL ends ({@link #endOfWal}).
 *
 * <p>Layout under {@code dir}: {@code wal/} (pg_receivewal's directory), {@code tls/}, {@code log/},
 * {@code run/pg_receivewal.pid}, {@code tmp/} (scratch for pg_waldump), and {@code backups/} ({@link BaseBackups}).
 */
public final class WalKeeper implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(WalKeeper.class.getName());

    /** Its application_name and replication slot: what synchronous_standby_names and the CP record call it. */
    public static final String NAME = "walkeeper";
    /** pg_receivewal gets this long to exit after SIGTERM before it is killed. */
    static final long STOP_GRACE_MS = 5_000;
    /** A pg_receivewal that exited is restarted after this long at first, doubling up to {@link #RESTART_BACKOFF_MAX_MS}. */
    static final long RESTART_BACKOFF_MIN_MS = 100;
    static final long RESTART_BACKOFF_MAX_MS = 2_000;
    /** Creating the slot, pg_waldump and the like must finish within this. */
    static final long TOOL_TIMEOUT_SECONDS = 30;
    /** pg_receivewal reports its position to the primary this often even when idle. */
    static final int STATUS_INTERVAL_SECONDS = 1;
    /** After this many exits in a row that say its WAL is not on the leader's history, the directory starts afresh. */
    static final int DIVERGED_EXITS_MAX = 3;

    /** A WAL segment or its unfinished .partial: timeline (8 hex) + segment (16 hex). */
    static final Pattern SEGMENT = Pattern.compile("^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(\\.partial)?$");
    /** pg_waldump's last error names where the valid WAL stops: "... at X/Y: ..." or "no valid record after X/Y". */
    private static final Pattern POSITION = Pattern.compile("(?:at|after) ([0-9A-F]+/[0-9A-F]+)");

    /**
     * @param dir       the keeper's directory (reachable by PostgreSQL's OS user: standbys' restore_command reads it)
     * @param bin       PostgreSQL's client programs
     * @param security  the keeper's TLS identity (certificate from the PKI, renewed by the supplier) and the superuser's
     *                  password, asked for before every start of pg_receivewal; null only for throw-away test
     *                  clusters without TLS
     * @param sources   every region's PostgreSQL, by region name: whom it can follow
     */
    public record Config(Path dir, PgBinaries bin, java.util.function.Supplier<PgCluster.Security> security,
            Map<String, PgCluster> sources) {
        public Config {
            sources = Map.copyOf(sources);
        }
    }

    /** Where its WAL ends: the position after the last valid record, on {@code timeline}. */
    public record End(Lsn lsn, long timeline) {
        public static final End EMPTY = new End(Lsn.NONE, 0);
    }

    private final Config config;
    private final ServerUserFiles files;
    private Process process;
    private String following = "";
    private volatile boolean streaming;
    private volatile String lastError = "";
    private volatile boolean divergedExit;
    private int divergedExits;
    private long nextStartAtMs;
    private long backoffMs = RESTART_BACKOFF_MIN_MS;
    private volatile boolean freshStart;
    /** The last pg_receivewal said its slot does not exist on the primary: create it before the next start. */
    private boolean slotMissing = true;

    public WalKeeper(Config config) {
        this.config = config;
        this.files = new ServerUserFiles(config.bin());
        files.directories(List.of(config.dir(), walDir(), config.dir().resolve("log"), config.dir().resolve("run"), tmpDir()));
        files.requireAccessible(config.dir());
        installTls();
        stopOrphan();
    }

    public Path walDir() {
        return walDir(config.dir());
    }

    /** The WAL directory of a keeper whose directory is {@code keeperDir}. */
    public static Path walDir(Path keeperDir) {
        return keeperDir.resolve("wal");
    }

    public Path backupsDir() {
        return config.dir().resolve("backups");
    }

    private Path tlsDir() {
        return config.dir().resolve("tls");
    }

    /** (Re)installs the keeper's TLS files: a renewed certificate is used from the next connection on. */
    private void installTls() {
        if (config.security() != null) {
            files.installTls(tlsDir(), config.security().get());
        }
    }

    private Path tmpDir() {
        return config.dir().resolve("tmp");
    }

    public Path logFile() {
        return config.dir().resolve("log/pg_receivewal.log");
    }

    private Path pidFile() {
        return config.dir().resolve("run/pg_receivewal.pid");
    }

    /** The keeper as a client of a region's PostgreSQL: its name and TLS files. */
    public PgClient client() {
        return new PgClient(NAME, config.security() == null ? null : tlsDir());
    }

    /**
     * The restore_command that fetches a WAL file (or timeline history file) from the keeper's directory {@code walDir},
     * the unfinished segment included: pg_receivewal keeps it as {@code <name>.partial}, pre-padded with zeros, so a
     * recovering server reads it as the segment and stops at the end of its valid records (what Barman's
     * {@code get-wal --partial} does). Fails (non-zero) when the keeper has neither.
     */
    public static String restoreCommand(Path walDir) {
        String d = walDir.toAbsolutePath().toString().replace("'", "");
        return "if [ -f '" + d + "/%f' ]; then cp '" + d + "/%f' '%p'; elif [ -f '" + d + "/%f.partial' ]; then cp '" + d
                + "/%f.partial' '%p'; else exit 1; fi";
    }

    /** The region pg_receivewal streams from (or tries to), "" when stopped. */
    public synchronized String following() {
        return isRunning() ? following : "";
    }

    /** It streams (pg_receivewal said so and still runs). */
    public synchronized boolean streaming() {
        return isRunning() && streaming;
    }

    public String lastError() {
        return lastError;
    }

    /** True once after the WAL directory was started afresh (its earlier WAL no longer continues): back it up soon. */
    public boolean takeFreshStart() {
        boolean was = freshStart;
        freshStart = false;
        return was;
    }

    private boolean isRunning() {
        return process != null && process.isAlive();
    }

    /**
     * Streams from {@code region}'s PostgreSQL: starts pg_receivewal if it does not run (after a short backoff when
     * it just exited), re-points it if it follows another region. Called every tick of the witness loop.
     */
    public synchronized void follow(String region) {
        if (isRunning() && following.equals(region)) {
            return;
        }
        if (!following.equals(region)) {
            // A new leader: whatever failed against the old one says nothing about it; try at once.
            nextStartAtMs = 0;
            backoffMs = RESTART_BACKOFF_MIN_MS;
        }
        if (isRunning()) {
            // At once, as when fenced: it confirms nothing it has not flushed, so nothing acknowledged is lost, and the
            // new leader's commits wait for this keeper (a SIGTERM under runuser took 0.1 s of every switchover).
            LOG.warning(() -> "WAL keeper: the leader is now " + region + ": killing pg_receivewal (it followed " + following + ")");
            stopProcess(true);
            nextStartAtMs = 0;
            backoffMs = RESTART_BACKOFF_MIN_MS;
        }
        long now = System.currentTimeMillis();
        if (process != null) {
            // It exited by itself since the last call: why, and when to try again.
            int code = process.exitValue();
            process = null;
            deletePidFile();
            if (divergedExit) {
                divergedExits++;
            } else {
                divergedExits = 0;
            }
            slotMissing = lastError.contains("replication slot") && lastError.contains("does not exist");
            nextStartAtMs = now + backoffMs;
            backoffMs = Math.min(RESTART_BACKOFF_MAX_MS, backoffMs * 2);
            String err = lastError;
            LOG.warning(() -> "WAL keeper: pg_receivewal (following " + following + ") exited with " + code
                    + (err.isEmpty() ? "" : ": " + err));
        }
        if (now < nextStartAtMs) {
            return;
        }
        if (divergedExits >= DIVERGED_EXITS_MAX) {
            startAfresh(region);
        }
        PgCluster source = config.sources().get(region);
        if (source == null) {
            throw new IllegalArgumentException("the WAL keeper knows no region " + region);
        }
        installTls();
        String conninfo = source.conninfoFor(client());
        if (slotMissing) {
            // A new leader creates the slot when it takes over; one that did not (an older version, a restore) gets
            // it from PostgreSQL's own tooling, on the primary it is about to follow.
            try {
                ProcessRunner.run(config.bin().command("pg_receivewal", List.of("--create-slot", "--if-not-exists", "--slot", NAME,
                        "-d", conninfo)), TOOL_TIMEOUT_SECONDS);
                slotMissing = false;
            } catch (IllegalStateException e) {
                lastError = "cannot create the replication slot on " + region + ": " + ProcessRunner.firstLine(e.getMessage());
                following = region;
                nextStartAtMs = now + backoffMs;
                backoffMs = Math.min(RESTART_BACKOFF_MAX_MS, backoffMs * 2);
                return;
            }
        }
        start(region, conninfo);
    }

    private void start(String region, String conninfo) {
        List<String> cmd = config.bin().command("pg_receivewal", List.of("-D", walDir().toString(), "-d", conninfo,
                "--slot", NAME, "--synchronous", "--no-loop", "--verbose", "--status-interval", Integer.toString(STATUS_INTERVAL_SECONDS)));
        try {
            process = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        } catch (IOException e) {
            lastError = "cannot start pg_receivewal: " + e.getMessage();
            nextStartAtMs = System.currentTimeMillis() + backoffMs;
            return;
        }
        following = region;
        streaming = false;
        divergedExit = false;
        Process p = process;
        writePidFile(p);
        Thread.ofVirtual().name("pg_receivewal-output").start(() -> readOutput(p, region));
        LOG.info(() -> "WAL keeper: pg_receivewal started against " + region + " (pid " + p.pid() + ")");
    }

    /** Appends pg_receivewal's lines to its log and learns from them: streaming, errors, divergence. */
    private void readOutput(Process p, String region) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
                Writer log = Files.newBufferedWriter(logFile(), StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                        StandardOpenOption.APPEND)) {
            String line;
            while ((line = r.readLine()) != null) {
                log.write(Instant.now() + " [" + region + "] " + line + "\n");
                log.flush();
                if (line.contains("starting log streaming")) {
                    streaming = true;
                    lastError = "";
                    backoffMs = RESTART_BACKOFF_MIN_MS;
                } else if (line.contains("error") || line.contains("FATAL") || line.contains("could not")) {
                    lastError = line.replaceFirst("^pg_receivewal: ", "");
                    // Its last segment is not on the leader's history (it kept WAL of a primary that was replaced
                    // without fencing it): continuing is impossible; after a few tries it starts afresh.
                    if (line.contains("not in this server's history") || line.contains("ahead of the WAL flush position")
                            || timelineEndsWhereWeStart(line)) {
                        divergedExit = true;
                    }
                }
            }
        } catch (IOException e) {
            lastError = "reading pg_receivewal's output: " + e.getMessage();
        } finally {
            streaming = false;
        }
    }

    /**
     * pg_receivewal (PostgreSQL 15) asks for its old timeline at the end of its last complete segment; when the new
     * leader's timeline forked exactly there (the promoted standby had replayed up to a segment boundary), the server
     * answers with the next timeline instead of streaming, and pg_receivewal reports this error with an empty message
     * and tries the same again forever (seen in FailoverDrillsTest: history "1 0/5000000", keeper at 0/5000000 on
     * timeline 1). Nothing of it can continue: like a diverged directory, it starts afresh (a base backup follows).
     */
    static boolean timelineEndsWhereWeStart(String line) {
        return line.stripTrailing().endsWith("could not send replication command \"START_REPLICATION\":");
    }

    /** Stops pg_receivewal (it flushes and keeps its .partial); idempotent. */
    public synchronized void stop() {
        if (isRunning()) {
            LOG.info(() -> "WAL keeper: stopping pg_receivewal (it followed " + following + ")");
            stopProcess(false);
        }
        forget();
    }

    /**
     * Stops pg_receivewal at once (SIGKILL), for a takeover: it confirms nothing before it has flushed it, so killing
     * it loses nothing acknowledged, and it does not spend up to a status interval noticing a SIGTERM.
     */
    public synchronized void fence() {
        if (isRunning()) {
            LOG.info(() -> "WAL keeper: fencing: killing pg_receivewal (it followed " + following + ")");
            stopProcess(true);
        }
        forget();
    }

    private void forget() {
        process = null;
        following = "";
        streaming = false;
        nextStartAtMs = 0;
        backoffMs = RESTART_BACKOFF_MIN_MS;
    }

    private void stopProcess(boolean now) {
        Process p = process;
        if (p == null) {
            return;
        }
        if (now) {
            // runuser does not pass SIGKILL on: kill what runs under it first.
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        } else {
            // SIGTERM (runuser passes it on): pg_receivewal flushes what it has and exits.
            p.destroy();
        }
        try {
            if (!p.waitFor(STOP_GRACE_MS, TimeUnit.MILLISECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(STOP_GRACE_MS, TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // Only a process that really ended has closed its files: wait for the one under runuser too.
        p.descendants().forEach(h -> h.onExit().orTimeout(STOP_GRACE_MS, TimeUnit.MILLISECONDS).exceptionally(t -> null).join());
        process = null;
        streaming = false;
        deletePidFile();
    }

    private void writePidFile(Process p) {
        try {
            // Under runuser the real pg_receivewal is its child: record that one (it outlives a killed witness).
            long pid = p.pid();
            for (int i = 0; i < 20 && p.isAlive(); i++) {
                Optional<ProcessHandle> child = p.children().findFirst();
                if (child.isPresent()) {
                    pid = child.get().pid();
                    break;
                }
                if (config.bin().osUser() == null) {
                    break;
                }
                Thread.sleep(5);
            }
            Files.writeString(pidFile(), Long.toString(pid));
        } catch (IOException e) {
            LOG.warning(() -> "WAL keeper: cannot write " + pidFile() + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void deletePidFile() {
        try {
            Files.deleteIfExists(pidFile());
        } catch (IOException ignored) {
            // a stale pid file is checked against the process's command line before use
        }
    }

    /** A pg_receivewal left running by a witness that was killed: ours (its command names our directory), so stop it. */
    private void stopOrphan() {
        try {
            if (!Files.exists(pidFile())) {
                return;
            }
            long pid = Long.parseLong(Files.readString(pidFile()).trim());
            ProcessHandle.of(pid).filter(h -> h.info().commandLine().map(c -> c.contains("pg_receivewal")
                    && c.contains(walDir().toString())).orElse(false)).ifPresent(h -> {
                LOG.warning(() -> "WAL keeper: stopping pg_receivewal pid " + pid + " left by an earlier witness process");
                h.destroy();
                h.onExit().orTimeout(STOP_GRACE_MS, TimeUnit.MILLISECONDS).exceptionally(t -> {
                    h.destroyForcibly();
                    return null;
                }).join();
            });
            deletePidFile();
        } catch (IOException | NumberFormatException e) {
            deletePidFile();
        }
    }

    /**
     * Moves the WAL directory aside ({@code wal.diverged-<time>}, the previous one of those deleted) and starts an
     * empty one: pg_receivewal then starts at the slot's position on the leader. The WAL kept before no longer
     * continues into the new one, so a base backup is due ({@link #takeFreshStart}).
     */
    private void startAfresh(String region) {
        Path aside = config.dir().resolve("wal.diverged-" + Instant.now().toString().replace(':', '-'));
        try (Stream<Path> old = Files.list(config.dir())) {
            for (Path p : old.filter(p -> p.getFileName().toString().startsWith("wal.diverged-")).toList()) {
                deleteTree(p);
            }
            Files.move(walDir(), aside);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot move " + walDir() + " aside", e);
        }
        files.directories(List.of(walDir()));
        divergedExits = 0;
        freshStart = true;
        LOG.warning(() -> "WAL keeper: my WAL is not on " + region + "'s history (it kept WAL of a primary replaced"
                + " without fencing me): moved it to " + aside + " and started afresh; a base backup follows");
    }

    /**
     * Where the valid WAL in the directory ends, found by PostgreSQL's own pg_waldump over the last two segments (a
     * record may span them). pg_receivewal must not be writing (call after {@link #stop} or {@link #fence}).
     * {@link End#EMPTY} when the directory holds no WAL.
     */
    public End endOfWal() {
        return endOfWal(config.dir(), config.bin());
    }

    /** {@link #endOfWal()} of the keeper directory {@code keeperDir} (the restore uses it with the witness stopped). */
    public static End endOfWal(Path keeperDir, PgBinaries bin) {
        ServerUserFiles files = new ServerUserFiles(bin);
        Path tmp = keeperDir.resolve("tmp");
        List<Segment> segments = segments(walDir(keeperDir));
        if (segments.isEmpty()) {
            return End.EMPTY;
        }
        Segment last = segments.get(segments.size() - 1);
        if (!last.partial()) {
            return new End(new Lsn((last.segno() + 1) * last.bytes()), last.timeline());
        }
        Segment first = segments.stream().filter(s -> s.segno() == last.segno() - 1 && !s.partial())
                .max(Comparator.comparingLong(Segment::timeline)).orElse(last);
        deleteTree(tmp);
        files.directories(List.of(tmp));
        // Both copied under the last one's timeline: pg_waldump follows one timeline, and the segment before a
        // switch is, up to the switch, the new timeline's history too.
        for (Segment s : first == last ? List.of(last) : List.of(first, last)) {
            ProcessRunner.run(bin.asServerUser(List.of("cp", s.file().toString(),
                    tmp.resolve(s.nameOn(last.timeline())).toString())), TOOL_TIMEOUT_SECONDS);
        }
        // pg_waldump reads from the first segment's first record until the WAL stops being valid, then names that
        // position ("... invalid record length at X/Y ..."): the end. Given one file it reads only that segment:
        // name the last one too.
        List<String> args = new ArrayList<>(List.of("--quiet", "--path", tmp.toString(), first.nameOn(last.timeline())));
        if (first != last) {
            args.add(last.nameOn(last.timeline()));
        }
        var r = ProcessRunner.run(bin.command("pg_waldump", args), TOOL_TIMEOUT_SECONDS, null, Map.of(), false);
        deleteTree(tmp);
        files.directories(List.of(tmp));
        if (r.exitCode() == 0) {
            return new End(new Lsn((last.segno() + 1) * last.bytes()), last.timeline());
        }
        Matcher m = POSITION.matcher(r.output());
        Lsn end = null;
        while (m.find()) {
            end = Lsn.parse(m.group(1));
        }
        if (end == null) {
            throw new IllegalStateException("pg_waldump cannot tell where the kept WAL ends: " + r.output().strip());
        }
        return new End(end, last.timeline());
    }

    /** One file of the WAL directory, a segment of {@code bytes}. */
    record Segment(Path file, long timeline, long segno, boolean partial, long bytes) {
        /** Its file name on {@code tli}, without .partial. */
        String nameOn(long tli) {
            return String.format("%08X", tli) + file.getFileName().toString().substring(8, 24);
        }

        /** The WAL position this segment starts at. */
        Lsn start() {
            return new Lsn(segno * bytes);
        }
    }

    /** The WAL segments in {@code dir}, oldest first (by segment, then timeline). */
    static List<Segment> segments(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        List<Path> files;
        try (Stream<Path> list = Files.list(dir)) {
            files = list.filter(p -> SEGMENT.matcher(p.getFileName().toString()).matches()).toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
        if (files.isEmpty()) {
            return List.of();
        }
        long bytes = segmentBytes(files);
        List<Segment> out = new ArrayList<>();
        for (Path p : files) {
            Matcher m = SEGMENT.matcher(p.getFileName().toString());
            if (m.matches()) {
                long tli = Long.parseLong(m.group(1), 16);
                long segno = Long.parseLong(m.group(2), 16) * (0x1_0000_0000L / bytes) + Long.parseLong(m.group(3), 16);
                out.add(new Segment(p, tli, segno, m.group(4) != null, bytes));
            }
        }
        out.sort(Comparator.comparingLong(Segment::segno).thenComparingLong(Segment::timeline));
        return out;
    }

    /**
     * The segment size of the WAL in {@code files} (PgCluster.WAL_SEGMENT_MB for clusters created now, 16 MB for older
     * ones): the size of a complete segment, else of the largest partial one (pg_receivewal pads a partial segment to
     * the whole size when it creates it). A power of two from 1 MB to 1 GB, as initdb allows, or an error.
     */
    static long segmentBytes(List<Path> files) {
        long bytes = 0;
        try {
            for (Path p : files) {
                long size = Files.size(p);
                if (!p.getFileName().toString().endsWith(".partial")) {
                    bytes = size;
                    break;
                }
                bytes = Math.max(bytes, size);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the size of the WAL segments in " + files.getFirst().getParent(), e);
        }
        if (Long.bitCount(bytes) != 1 || bytes < (1L << 20) || bytes > (1L << 30)) {
            throw new IllegalStateException("the WAL files in " + files.getFirst().getParent() + " are " + bytes
                    + " bytes long: not a WAL segment size (a power of two from 1 MB to 1 GB)");
        }
        return bytes;
    }

    static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }


    @Override
    public void close() {
        stop();
    }
}
