package io.paymentledger.replication.postgres;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * One PostgreSQL server (a "cluster" in PostgreSQL's words) that this process manages: created with initdb
 * or cloned from a primary with pg_basebackup, started and stopped with pg_ctl, promoted, rewound.
 *
 * <p>Layout under {@link #dir()}: {@code data/} (PGDATA), {@code run/} (the Unix socket), {@code log/}.
 * Per-node settings (port, socket directory) are passed on the pg_ctl command line, never written into the
 * data directory, because pg_rewind copies the source's configuration files over the target's.
 *
 * <p>Used the same way by the local deployment, the replication agent and the tests.
 */
public final class PgCluster {

    private static final Logger LOG = Logger.getLogger(PgCluster.class.getName());

    /** The superuser initdb creates; used for administration only. */
    public static final String SUPERUSER = "postgres";
    private static final long TOOL_TIMEOUT_SECONDS = 120;
    /** How long a promotion may take before the takeover gives up (pg_promote's own default wait is 60 s). */
    private static final java.time.Duration PROMOTION_TIMEOUT = java.time.Duration.ofSeconds(60);
    /** The file whose lock serialises stop/rewind/start across processes (see {@link #exclusively}). */
    private static final String LIFECYCLE_LOCK = "lifecycle.lock";

    /**
     * How a server is set up.
     *
     * @param name      a short name used in logs and as the standby's application_name (e.g. "a")
     * @param dir       where its data, socket and log live
     * @param port      TCP port on {@code network.host()} (127.0.0.1 unless the sites are network namespaces)
     * @param durable   false only for throw-away test clusters: fsync off
     * @param settings  extra postgresql.conf settings (this server's own; written at every start)
     * @param hbaLines  pg_hba.conf lines; empty means the defaults for {@code security}
     * @param security  TLS files and the superuser's password; null = no TLS, trust on 127.0.0.1 (tests only)
     * @param network   where it listens, whom it admits, and how its server is launched
     */
    public record Options(String name, Path dir, int port, boolean durable, Map<String, String> settings,
            List<String> hbaLines, Security security, Network network) {

        public Options {
            settings = Map.copyOf(settings);
            hbaLines = List.copyOf(hbaLines);
        }

        public static Options of(String name, Path dir, int port) {
            return new Options(name, dir, port, true, Map.of(), List.of(), null, Network.LOOPBACK);
        }

        public Options throwAway() {
            return new Options(name, dir, port, false, settings, hbaLines, security, network);
        }

        public Options withSettings(Map<String, String> extra) {
            Map<String, String> merged = new LinkedHashMap<>(settings);
            merged.putAll(extra);
            return new Options(name, dir, port, durable, merged, hbaLines, security, network);
        }

        public Options withHba(List<String> lines) {
            return new Options(name, dir, port, durable, settings, lines, security, network);
        }

        public Options withSecurity(Security s) {
            return new Options(name, dir, port, durable, settings, hbaLines, s, network);
        }

        public Options withNetwork(Network n) {
            return new Options(name, dir, port, durable, settings, hbaLines, security, n);
        }
    }

    /**
     * The server's place on the network.
     *
     * @param host         the one address it listens on and is reached at
     * @param clientCidr   the addresses its clients (and standbys) connect from, admitted by pg_hba.conf
     * @param launcher     a prefix for the command that starts the server (e.g. {@code ip netns exec <site>}, so the
     *                     postmaster lives in its site's network namespace); empty on loopback
     */
    public record Network(String host, String clientCidr, List<String> launcher) {
        public static final Network LOOPBACK = new Network("127.0.0.1", "127.0.0.1/32", List.of());

        public Network {
            launcher = List.copyOf(launcher);
        }
    }

    /** The address this server listens on and is reached at. */
    public String host() {
        return options.network().host();
    }

    /**
     * TLS 1.3 with certificates from the deployment's PKI on every connection (clients, replication, tools), and
     * a password for the superuser on top of a client certificate from the same CA.
     *
     * @param certFile  this server's certificate (also its client certificate for replication and tools)
     * @param keyFile   its key
     * @param caFile    the CA that signs servers and clients
     * @param superuserPassword  the superuser's password (scram-sha-256)
     */
    public record Security(Path certFile, Path keyFile, Path caFile, String superuserPassword) {
        @Override
        public String toString() {
            return "Security[" + certFile + ", password hidden]";
        }
    }

    private final Options options;
    private final PgBinaries bin;
    private final ServerUserFiles files;

    public PgCluster(Options options, PgBinaries bin) {
        this.options = options;
        this.bin = bin;
        this.files = new ServerUserFiles(bin);
    }

    public PgCluster(Options options) {
        this(options, PgBinaries.detect());
    }

    public Options options() {
        return options;
    }

    public String name() {
        return options.name();
    }

    public Path dir() {
        return options.dir();
    }

    public Path dataDir() {
        return options.dir().resolve("data");
    }

    public Path socketDir() {
        return options.dir().resolve("run");
    }

    public Path logFile() {
        return options.dir().resolve("log/postgresql.log");
    }

    public int port() {
        return options.port();
    }

    /** Where this server's copies of its TLS files (and the replication password file) live, outside PGDATA. */
    public Path tlsDir() {
        return options.dir().resolve("tls");
    }

    private boolean secured() {
        return options.security() != null;
    }

    /** Does a data directory exist here already (a restart rather than a first start)? */
    public boolean isInitialised() {
        return Files.exists(dataDir().resolve("PG_VERSION"));
    }

    /**
     * The WAL segment size of the clusters this tooling creates, in MB (PostgreSQL's default is 16). Every takeover pays
     * for a segment twice: the promotion copies the last segment of the old timeline into the new one (written whole,
     * then synced), and the WAL keeper's pg_receivewal, re-pointed at the new primary, streams its partial segment again
     * from the segment's start before it confirms anything. Measured (./ledger drill switchover, 10 runs each): promotion
     * median 213 -> 153 ms, outage median 1,347 -> 1,177 ms. Clusters created before keep their size (a clone or a base
     * backup copies it; the keeper reads it from its files).
     */
    public static final int WAL_SEGMENT_MB = 4;

    /** Creates a fresh primary: initdb with data checksums (pg_rewind needs them), then our configuration. */
    public void initdb() {
        prepareDirectories();
        List<String> args = new ArrayList<>(List.of("-D", dataDir().toString(), "-U", SUPERUSER, "--auth=trust",
                "--data-checksums", "--encoding=UTF8", "--locale=C", "--wal-segsize=" + WAL_SEGMENT_MB));
        if (!options.durable()) {
            args.add("--no-sync");
        }
        Path pwfile = tlsDir().resolve("initdb.pw");
        if (secured()) {
            writeAsServerUser(pwfile, options.security().superuserPassword() + "\n");
            args.add("--pwfile=" + pwfile);
        }
        try {
            ProcessRunner.run(bin.command("initdb", args), TOOL_TIMEOUT_SECONDS);
        } finally {
            try {
                Files.deleteIfExists(pwfile);
            } catch (IOException ignored) {
                // best effort; the directory is 0700 and the server's
            }
        }
        writeConfiguration();
        LOG.info(() -> "postgres " + name() + ": initialised " + dataDir());
    }

    /**
     * Creates this server as a streaming standby of {@code primary} with pg_basebackup, using a physical
     * replication slot so the primary keeps the WAL this standby still needs.
     */
    public void cloneFrom(PgCluster primary, String slotName) {
        prepareDirectories();
        List<String> args = new ArrayList<>(List.of("-D", dataDir().toString(),
                "-d", primary.conninfoFor(this), "-X", "stream", "-S", slotName, "-c", "fast"));
        if (!options.durable()) {
            args.add("--no-sync");
        }
        ProcessRunner.run(bin.command("pg_basebackup", args), TOOL_TIMEOUT_SECONDS, null, Map.of(), true);
        writeConfiguration();
        followPrimary(primary, slotName);
        LOG.info(() -> "postgres " + name() + ": cloned from " + primary.name() + " (slot " + slotName + ")");
    }

    /** Makes this (stopped) server a standby of {@code primary}: standby.signal plus primary_conninfo. */
    public void followPrimary(PgCluster primary, String slotName) {
        writeAsServerUser(dataDir().resolve("standby.signal"), "");
        // '' so that a tool or test promoting this standby by hand does not wait for a standby of its own. The failover
        // agent sets it, once the standby runs, as a term of its own would start (FailoverStateMachine PRESET_SYNC).
        rewriteRecoverySettings(List.of("primary_conninfo = '" + primary.conninfoFor(this).replace("'", "''") + "'",
                "primary_slot_name = '" + slotName + "'", "synchronous_standby_names = ''"));
    }

    /**
     * Rewrites postgresql.auto.conf's recovery settings (where this server streams from or restores from, what it
     * waits for) as {@code settings}, keeping every other line: the one place both ways of becoming a standby write it.
     */
    private void rewriteRecoverySettings(List<String> settings) {
        Path auto = dataDir().resolve("postgresql.auto.conf");
        List<String> kept = new ArrayList<>();
        if (Files.exists(auto)) {
            try (Stream<String> lines = Files.lines(auto)) {
                lines.filter(l -> !l.startsWith("primary_conninfo") && !l.startsWith("primary_slot_name")
                        && !l.startsWith("synchronous_standby_names") && !l.startsWith("restore_command")
                        && !l.startsWith("recovery_target")).forEach(kept::add);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        kept.addAll(settings);
        writeAsServerUser(auto, String.join("\n", kept) + "\n");
    }

    /** This server as a client of another (a standby streaming from it, pg_rewind acting for it). */
    public PgClient asClient() {
        return new PgClient(name(), secured() ? tlsDir() : null);
    }

    /**
     * The libpq connection string {@code client} (a standby streaming from this server, or a tool acting for it)
     * uses to reach this server: its application_name is the client's name (what synchronous_standby_names
     * matches), and with security on, TLS with the client's own files and its password file.
     */
    public String conninfoFor(PgCluster client) {
        return conninfoFor(client.asClient());
    }

    public String conninfoFor(PgClient client) {
        String conninfo = "host=" + host() + " port=" + port() + " user=" + SUPERUSER + " application_name=" + client.applicationName()
                + " connect_timeout=5";
        if (client.tlsDir() != null) {
            Path tls = client.tlsDir();
            conninfo += " sslmode=verify-full sslrootcert=" + tls.resolve("ca.crt") + " sslcert=" + tls.resolve("server.crt")
                    + " sslkey=" + tls.resolve("server.key") + " passfile=" + tls.resolve("pgpass");
        }
        return conninfo;
    }

    private void prepareDirectories() {
        files.directories(List.of(dir(), socketDir(), logFile().getParent(), tlsDir()));
        files.requireAccessible(dir());
        if (secured()) {
            files.installTls(tlsDir(), options.security());
        }
    }

    private void writeAsServerUser(Path file, String content) {
        files.write(file, content);
    }

    private void writeConfiguration() {
        Map<String, String> conf = new LinkedHashMap<>();
        conf.put("listen_addresses", "'" + host() + "'");
        conf.put("max_connections", "100");
        conf.put("wal_level", "replica");
        conf.put("max_wal_senders", "10");
        conf.put("max_replication_slots", "10");
        conf.put("hot_standby", "on");
        conf.put("hot_standby_feedback", "on");
        conf.put("wal_log_hints", "on");
        conf.put("wal_keep_size", "'512MB'");
        conf.put("wal_receiver_status_interval", "1s");
        conf.put("wal_sender_timeout", "10s");
        conf.put("wal_receiver_timeout", "10s");
        // A standby whose stream broke tries its other sources (the WAL keeper's restore_command while it takes
        // over) this often; the default, 5 s, would sit in every failover that fetches from the keeper.
        conf.put("wal_retrieve_retry_interval", "'200ms'");
        // A slot whose consumer is gone (a lost region, a lost WAL keeper) keeps at most this much WAL, so the
        // primary's disk does not fill; the consumer then starts afresh (a clone, a fresh keeper directory).
        conf.put("max_slot_wal_keep_size", "'4GB'");
        conf.put("shared_buffers", "'128MB'");
        conf.put("max_wal_size", "'1GB'");
        conf.put("logging_collector", "off");
        conf.put("log_line_prefix", "'%m [%p] " + options.name() + " '");
        conf.put("log_min_messages", "warning");
        if (!options.durable()) {
            conf.put("fsync", "off");
            conf.put("full_page_writes", "off");
        }
        options.settings().forEach((k, v) -> conf.put(k, quoteIfNeeded(v)));
        StringBuilder sb = new StringBuilder("# Written by the ledger tooling (PgCluster). Rewritten at every start from the tooling's options; edit those, not this file.\n");
        conf.forEach((k, v) -> sb.append(k).append(" = ").append(v).append('\n'));
        Path main = dataDir().resolve("postgresql.conf");
        try {
            String existing = Files.readString(main);
            String marker = "include_if_exists = 'ledger.conf'";
            if (!existing.contains(marker)) {
                writeAsServerUser(main, existing + "\n" + marker + "\n");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        writeAsServerUser(dataDir().resolve("ledger.conf"), sb.toString());
        String clients = options.network().clientCidr();
        List<String> hba = !options.hbaLines().isEmpty() ? options.hbaLines()
                : secured() ? List.of(
                        // TLS only, a client certificate from our CA AND the password; everything else refused.
                        "hostssl all " + SUPERUSER + " " + clients + " scram-sha-256 clientcert=verify-ca",
                        "hostssl replication " + SUPERUSER + " " + clients + " scram-sha-256 clientcert=verify-ca",
                        "host all all 0.0.0.0/0 reject",
                        "host replication all 0.0.0.0/0 reject",
                        "local all all reject")
                : List.of("local all all trust", "host all " + SUPERUSER + " " + clients + " trust",
                        "host replication " + SUPERUSER + " " + clients + " trust");
        writeAsServerUser(dataDir().resolve("pg_hba.conf"), "# Written by the ledger tooling.\n" + String.join("\n", hba) + "\n");
    }

    private static String quoteIfNeeded(String v) {
        if (v.startsWith("'") || v.matches("-?[0-9.]+[a-zA-Z]*|on|off|true|false")) {
            return v;
        }
        return "'" + v.replace("'", "''") + "'";
    }

    /**
     * Runs {@code work} holding this server's lifecycle lock: a file lock on {@code <dir>/lifecycle.lock}, so across
     * processes (a node's agent rejoining its database, `./ledger up` starting it, `./ledger failback`) a stop,
     * rewind and start never interleave with another start. Waits for the lock.
     */
    public <T> T exclusively(java.util.function.Supplier<T> work) {
        try (java.nio.channels.FileChannel ch = lockChannel(); java.nio.channels.FileLock lock = ch.lock()) {
            return work.get();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot lock " + dir().resolve(LIFECYCLE_LOCK), e);
        }
    }

    /**
     * Starts the server unless it runs, or unless someone holds its lifecycle lock (a rejoin is rewinding it: starting
     * it now would corrupt it). Returns false in that last case.
     */
    public boolean startUnlessBusy() {
        try (java.nio.channels.FileChannel ch = lockChannel(); java.nio.channels.FileLock lock = ch.tryLock()) {
            if (lock == null) {
                return false;
            }
            if (!isRunning()) {
                start();
            }
            return true;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot lock " + dir().resolve(LIFECYCLE_LOCK), e);
        }
    }

    private java.nio.channels.FileChannel lockChannel() throws IOException {
        Files.createDirectories(dir());
        return java.nio.channels.FileChannel.open(dir().resolve(LIFECYCLE_LOCK), java.nio.file.StandardOpenOption.CREATE,
                java.nio.file.StandardOpenOption.WRITE);
    }

    /**
     * Starts the server and waits until it accepts connections. Its configuration (ledger.conf, pg_hba.conf) is written
     * from {@link Options} first: a changed setting takes effect at the next start, and what pg_rewind copied from the
     * other region is replaced by this server's own.
     */
    public void start() {
        prepareDirectories();
        if (isInitialised()) {
            writeConfiguration();
        }
        String opts = "-p " + port() + " -k " + socketDir();
        if (secured()) {
            // Per-node files on the command line: pg_rewind copies the source's configuration over ours.
            Path tls = tlsDir();
            opts += " -c ssl=on -c ssl_min_protocol_version=TLSv1.3 -c ssl_cert_file=" + tls.resolve("server.crt")
                    + " -c ssl_key_file=" + tls.resolve("server.key") + " -c ssl_ca_file=" + tls.resolve("ca.crt");
        }
        List<String> command = new ArrayList<>(options.network().launcher());
        command.addAll(bin.command("pg_ctl", List.of("-D", dataDir().toString(), "-l", logFile().toString(),
                "-o", opts, "-w", "-t", "60", "start")));
        try {
            ProcessRunner.run(command, TOOL_TIMEOUT_SECONDS, null, Map.of(), true);
        } catch (IllegalStateException e) {
            // pg_ctl only says "Examine the log output": say what the log says (a port in use, a bad WAL record...).
            throw new IllegalStateException("postgres " + name() + " did not start; the end of " + logFile() + ":\n"
                    + logTail(20), e);
        }
        LOG.info(() -> "postgres " + name() + ": started on " + host() + ":" + port() + " (pid " + postmasterPid().orElse(-1L) + ")");
    }

    /** The last {@code lines} lines of the server's log, or why they cannot be read. */
    String logTail(int lines) {
        try {
            List<String> all = java.nio.file.Files.readAllLines(logFile(), java.nio.charset.StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (java.io.IOException | java.io.UncheckedIOException e) {
            return "(cannot read it: " + e + ")";
        }
    }

    /** Stops the server: fast mode (disconnects clients, shuts down cleanly, as pg_rewind needs). */
    public void stop() {
        if (!isRunning()) {
            return;
        }
        ProcessRunner.run(bin.command("pg_ctl", List.of("-D", dataDir().toString(), "-m", "fast", "-w", "-t", "60", "stop")),
                TOOL_TIMEOUT_SECONDS, null, Map.of(), false);
        LOG.info(() -> "postgres " + name() + ": stopped");
    }

    /** Kills the postmaster with SIGKILL, as a crash would (a failure drill). */
    public void kill() {
        postmasterPid().flatMap(ProcessHandle::of).ifPresent(p -> {
            p.destroyForcibly();
            try {
                p.onExit().get(30, java.util.concurrent.TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new IllegalStateException("postgres " + name() + " did not die after SIGKILL", e);
            }
        });
        LOG.warning(() -> "postgres " + name() + ": killed (SIGKILL)");
    }

    /** The postmaster's PID from postmaster.pid, when that process is alive. */
    public Optional<Long> postmasterPid() {
        Path pidFile = dataDir().resolve("postmaster.pid");
        try {
            if (!Files.exists(pidFile)) {
                return Optional.empty();
            }
            List<String> lines = Files.readAllLines(pidFile);
            if (lines.isEmpty()) {
                return Optional.empty();
            }
            long pid = Long.parseLong(lines.get(0).trim());
            return ProcessHandle.of(pid).filter(ProcessHandle::isAlive).map(h -> pid);
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    public boolean isRunning() {
        return postmasterPid().isPresent();
    }

    /**
     * Promotes a standby to primary and waits for it to finish (pg_promote with wait). No checkpoint here: it is
     * not needed to serve, only before a pg_rewind against this server ({@link #checkpoint}, which Rejoin does).
     */
    public void promote() {
        try (Connection c = connect("postgres"); Statement st = c.createStatement()) {
            promote(st);
        } catch (SQLException e) {
            throw new IllegalStateException("promotion of postgres " + name() + " failed: " + e.getMessage(), e);
        }
    }

    /**
     * Promotes this server through {@code st}, a superuser session of it (a takeover uses its agent's probe session:
     * a new TLS + SCRAM session cost 60-270 ms of every takeover). Returns once it is a primary; throws after
     * {@link #PROMOTION_TIMEOUT}.
     */
    public void promote(Statement st) throws SQLException {
        try {
            // pg_promote(true) looks whether recovery ended only every 100 ms (WAITS_PER_SECOND in xlogfuncs.c), which
            // rounds every takeover up by up to 0.1 s: signal without waiting, then look every 5 ms, for 60 s at most.
            try (ResultSet rs = st.executeQuery("select pg_promote(false)")) {
                if (!rs.next() || !rs.getBoolean(1)) {
                    throw new IllegalStateException("postgres " + name() + " refused to be promoted (pg_promote returned false)");
                }
            }
            long deadline = System.nanoTime() + PROMOTION_TIMEOUT.toNanos();
            while (true) {
                try (ResultSet rs = st.executeQuery("select pg_is_in_recovery()")) {
                    if (rs.next() && !rs.getBoolean(1)) {
                        break;
                    }
                }
                if (System.nanoTime() - deadline > 0) {
                    throw new IllegalStateException("promotion of postgres " + name() + " did not finish within "
                            + PROMOTION_TIMEOUT.toSeconds() + " s");
                }
                Thread.sleep(5);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("promotion of postgres " + name() + " interrupted", e);
        }
        LOG.warning(() -> "postgres " + name() + ": promoted to primary");
    }

    /** A checkpoint now (pg_rewind against this server needs its current timeline in the control file: STACK.md 11). */
    public void checkpoint() {
        try (Connection c = connect("postgres"); Statement st = c.createStatement()) {
            st.execute("checkpoint");
        } catch (SQLException e) {
            throw new IllegalStateException("checkpoint on postgres " + name() + " failed: " + e.getMessage(), e);
        }
    }

    /**
     * Rebuilds this (stopped, empty) server from a base backup plus WAL fetched with {@code restoreCommand} (the WAL
     * keeper's), replaying every WAL record available, and waits until it is a primary again on a new timeline.
     * What the lose-two restore does (runbooks/restore.md). Returns where its WAL ends.
     */
    public Lsn restoreFrom(Path baseBackup, String restoreCommand, Duration timeout) {
        if (isRunning()) {
            throw new IllegalStateException("postgres " + name() + " is running; stop it before restoring it");
        }
        if (isInitialised()) {
            throw new IllegalStateException("postgres " + name() + " has a data directory (" + dataDir()
                    + "); move it away first: a restore never overwrites data");
        }
        prepareDirectories();
        ProcessRunner.run(bin.asServerUser(List.of("cp", "-a", baseBackup.toAbsolutePath() + "/.", dataDir().toString())),
                TOOL_TIMEOUT_SECONDS * 5, null, Map.of(), true);
        files.directories(List.of(dataDir()));
        try {
            java.nio.file.Files.setPosixFilePermissions(dataDir(), PosixFilePermissions.fromString("rwx------"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        writeConfiguration();
        // Its first leader sets what its commits wait for; until then nothing waits for a standby that is not there.
        rewriteRecoverySettings(List.of("restore_command = '" + restoreCommand.replace("'", "''") + "'",
                "recovery_target_timeline = 'latest'", "synchronous_standby_names = ''"));
        try {
            Files.deleteIfExists(dataDir().resolve("standby.signal"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        writeAsServerUser(dataDir().resolve("recovery.signal"), "");
        start();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (isInRecoveryOrDown()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("postgres " + name() + " still recovering after " + timeout.toSeconds()
                        + " s; see " + logFile());
            }
            sleep(200);
        }
        try (Connection c = connect("postgres"); Statement st = c.createStatement()) {
            st.execute("alter system reset restore_command");
            st.execute("select pg_reload_conf()");
            try (ResultSet rs = st.executeQuery("select pg_current_wal_flush_lsn()::text")) {
                rs.next();
                Lsn end = Lsn.parse(rs.getString(1));
                LOG.warning(() -> "postgres " + name() + ": restored from " + baseBackup + " and the kept WAL; primary again at " + end);
                return end;
            }
        } catch (SQLException e) {
            throw new IllegalStateException("postgres " + name() + " restored but does not answer: " + e.getMessage(), e);
        }
    }

    private boolean isInRecoveryOrDown() {
        try {
            return isInRecovery();
        } catch (IllegalStateException notYet) {
            return true;
        }
    }

    /**
     * pg_rewind's own verdict that the two histories cannot be joined: nothing but a fresh copy makes this server a
     * standby of the source. Any other pg_rewind failure (the source unreachable or gone mid-way, a setting, a
     * timeout) is a plain {@link IllegalStateException}: nothing about the histories is known then.
     */
    public static final class RewindImpossible extends IllegalStateException {
        RewindImpossible(String message) {
            super(message);
        }
    }

    /**
     * pg_rewind's (PostgreSQL 15) errors that mean the histories diverged beyond what it can repair, each raised
     * before it changes anything in the target; checked against the installed 15.18 binary's messages.
     * <ul>
     *   <li>pg_rewind.c, findCommonAncestorTimeline: the two timeline histories share no timeline;</li>
     *   <li>parsexlog.c, findLastCheckpoint: the target's WAL back to the last common checkpoint is gone;</li>
     *   <li>parsexlog.c, readOneRecord / extractPageMap: the target's WAL since the divergence cannot be read
     *       (recycled or removed), so what it changed there cannot be listed.</li>
     * </ul>
     * Everything else — "connection to server ... failed", "error running query ... on source server", "could not
     * fetch file list", "full_page_writes must be enabled in the source server", "source and target clusters are
     * from different systems" (a wrong source, not a diverged one) — is not on this list.
     */
    static final List<String> REWIND_BEYOND_REPAIR = List.of(
            "could not find common ancestor of the source and target cluster's timelines",
            "could not find previous WAL record at",
            "could not read WAL record at");

    /** The line of pg_rewind's output that says the histories diverged beyond repair, or null when none does. */
    static String divergedBeyondRepair(String pgRewindOutput) {
        for (String line : pgRewindOutput.split("\n")) {
            for (String message : REWIND_BEYOND_REPAIR) {
                if (line.contains("error: " + message)) {
                    return line.strip();
                }
            }
        }
        return null;
    }

    /**
     * Rewinds this stopped former primary so it can follow {@code source}, the new primary. Throws
     * {@link RewindImpossible} when pg_rewind says the histories diverged beyond repair (the caller may then clone
     * afresh), and an {@link IllegalStateException} on any other failure (the data directory must then be kept).
     */
    public void rewindFrom(PgCluster source) {
        ProcessRunner.Result r = ProcessRunner.run(bin.command("pg_rewind", List.of("-D", dataDir().toString(),
                "--source-server=" + source.conninfoFor(this) + " dbname=postgres")),
                TOOL_TIMEOUT_SECONDS, null, Map.of(), false);
        if (r.exitCode() != 0) {
            String output = r.output().strip();
            String verdict = divergedBeyondRepair(output);
            if (verdict != null) {
                throw new RewindImpossible("pg_rewind of postgres " + name() + " from " + source.name()
                        + ": the histories diverged beyond repair (" + verdict + ")\n" + output);
            }
            throw new IllegalStateException("pg_rewind of postgres " + name() + " from " + source.name() + " failed (exit "
                    + r.exitCode() + "), not because the histories diverged: " + output);
        }
        // pg_rewind copied the source's configuration; ours is shared anyway, per-node settings are on the command line.
        writeConfiguration();
        LOG.info(() -> "postgres " + name() + ": rewound to follow " + source.name());
    }

    /** Removes the data directory (the server must be stopped). */
    public void deleteData() {
        if (isRunning()) {
            throw new IllegalStateException("postgres " + name() + " is running; stop it before deleting its data");
        }
        deleteRecursively(dataDir());
    }

    static void deleteRecursively(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            walk.sorted((a, b) -> b.getNameCount() - a.getNameCount()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public String jdbcUrl(String database) {
        return "jdbc:postgresql://" + host() + ":" + port() + "/" + database;
    }

    /**
     * JDBC properties for a superuser client presenting {@code clientCert}/{@code clientKey} (PEM, from the PKI):
     * TLS 1.3, the server verified against the CA (hostname included), the password.
     */
    public static java.util.Properties clientProperties(Security server, Path clientCert, Path clientKey) {
        java.util.Properties p = new java.util.Properties();
        p.setProperty("user", SUPERUSER);
        if (server != null) {
            p.setProperty("password", server.superuserPassword());
            p.setProperty("sslmode", "verify-full");
            p.setProperty("sslfactory", "io.paymentledger.security.tls.PgSslSocketFactory");
            p.setProperty("sslrootcert", server.caFile().toString());
            if (clientCert != null) {
                p.setProperty("sslcert", clientCert.toString());
                p.setProperty("sslkey", clientKey.toString());
            }
        }
        return p;
    }

    /** A superuser connection (administration only). */
    public Connection connect(String database) throws SQLException {
        return connect(database, 120);
    }

    /** A superuser connection whose reads give up after {@code socketTimeoutSeconds}. */
    public Connection connect(String database, int socketTimeoutSeconds) throws SQLException {
        Security sec = options.security();
        Properties p = clientProperties(sec, sec == null ? null : sec.certFile(), sec == null ? null : sec.keyFile());
        p.setProperty("connectTimeout", "5");
        p.setProperty("socketTimeout", Integer.toString(socketTimeoutSeconds));
        return DriverManager.getConnection(jdbcUrl(database), p);
    }

    /** Creates a database unless it exists. */
    public void createDatabase(String database) {
        try (Connection c = connect("postgres"); Statement st = c.createStatement()) {
            try (ResultSet rs = st.executeQuery("select 1 from pg_database where datname = '" + database.replace("'", "''") + "'")) {
                if (rs.next()) {
                    return;
                }
            }
            st.execute("create database \"" + database.replace("\"", "\"\"") + "\"");
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create database " + database + " on " + name() + ": " + e.getMessage(), e);
        }
    }

    /** Creates a physical replication slot unless it exists. */
    public void createReplicationSlot(String slot) {
        try (Connection c = connect("postgres"); Statement st = c.createStatement()) {
            try (ResultSet rs = st.executeQuery("select 1 from pg_replication_slots where slot_name = '" + slot + "'")) {
                if (rs.next()) {
                    return;
                }
            }
            st.execute("select pg_create_physical_replication_slot('" + slot + "')");
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create replication slot " + slot + " on " + name(), e);
        }
    }

    /** Is the server a standby (in recovery)? */
    public boolean isInRecovery() {
        try (Connection c = connect("postgres"); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select pg_is_in_recovery()")) {
            rs.next();
            return rs.getBoolean(1);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot ask postgres " + name() + " whether it is in recovery", e);
        }
    }

    /** Waits until the server accepts a connection, or fails after {@code timeout}. */
    public void awaitReady(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        SQLException last = null;
        while (System.nanoTime() < deadline) {
            try (Connection c = connect("postgres")) {
                return;
            } catch (SQLException e) {
                last = e;
                sleep(100);
            }
        }
        throw new IllegalStateException("postgres " + name() + " not ready after " + timeout, last);
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String toString() {
        return "postgres " + name() + " (" + host() + ":" + port() + ", " + dataDir() + ")";
    }
}
