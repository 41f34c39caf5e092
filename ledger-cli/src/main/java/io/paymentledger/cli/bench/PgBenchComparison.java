package io.paymentledger.cli.bench;

import io.paymentledger.replication.net.Ports;
import io.paymentledger.replication.postgres.PgBinaries;
import io.paymentledger.replication.postgres.PgCluster;
import io.paymentledger.replication.postgres.PgProbe;
import io.paymentledger.replication.postgres.ProcessRunner;
import io.paymentledger.security.pki.IssuedCert;
import io.paymentledger.security.pki.Pki;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * What plain PostgreSQL does on this machine with the ledger's durability: a primary and a synchronous standby
 * set up the way the local deployment sets up a region pair (PgCluster initdb + cloneFrom with a slot,
 * synchronous_standby_names naming the standby, synchronous_commit on, fsync on, TLS 1.3 with client
 * certificates and a scram password on every connection), in temp directories on free ports with a throw-away
 * CA, stopped and deleted afterwards. pgbench's tpcb-like transaction (three balance updates and a history
 * insert in one transaction) is the closest standard workload to one ledger transfer.
 *
 * <p>Each scale is a separate {@code pgbench -i -s <scale>} followed by
 * {@code pgbench -b tpcb-like -c 16 -j 2 -T <seconds> -M prepared}; scale 1 has a single branch row that every
 * transaction updates: the hot-row case.
 */
public final class PgBenchComparison {

    /** The scales the issue asks for: 16 (spread) and 1 (one hot branch row). */
    public static final List<Integer> SCALES = List.of(16, 1);
    private static final Pattern TPS = Pattern.compile("(?m)^tps = ([0-9]+(?:\\.[0-9]+)?)");

    /**
     * @param tpsByScale  transactions per second per scale (without initial connection time)
     * @param setup       how the pair was set up, for the report
     */
    public record Result(Map<Integer, Double> tpsByScale, int clients, int threads, int seconds, String setup) {

        public JsonObject toJson() {
            JsonObject tps = new JsonObject();
            tpsByScale.forEach((s, v) -> tps.put("scale" + s, v));
            return new JsonObject().put("tps", tps).put("clients", clients).put("threads", threads).put("seconds", seconds)
                    .put("setup", setup);
        }
    }

    private PgBenchComparison() {}

    /** Parses pgbench's report: the "tps = N" line (PostgreSQL 14+ prints it once, without connection time). */
    public static double parseTps(String output) {
        Matcher m = TPS.matcher(output);
        double tps = -1;
        while (m.find()) {
            tps = Double.parseDouble(m.group(1));
        }
        if (tps < 0) {
            throw new IllegalStateException("no 'tps = ' line in pgbench's output:\n" + output.strip());
        }
        return tps;
    }

    public static Result run(List<Integer> scales, int seconds, Consumer<String> progress) {
        return run(scales, 16, 2, seconds, progress);
    }

    public static Result run(List<Integer> scales, int clients, int threads, int seconds, Consumer<String> progress) {
        PgBinaries bin = PgBinaries.detect();
        Path pkiDir = tempDir("pki");
        PgCluster primary = null;
        PgCluster standby = null;
        try {
            // Secured like the deployment's pair: TLS 1.3, a certificate from the pair's own CA, scram password.
            Pki pki = Pki.init(pkiDir, "pgbench.local");
            String password = randomPassword();
            primary = new PgCluster(secured("a", pki, password), bin);
            standby = new PgCluster(secured("b", pki, password), bin);
            progress.accept("pgbench: creating a primary and its synchronous standby (" + primary.dir() + ", " + standby.dir() + ")");
            primary.initdb();
            primary.start();
            primary.createReplicationSlot(standby.name());
            standby.cloneFrom(primary, standby.name());
            standby.start();
            new PgProbe(primary, "postgres").setSynchronousStandbys(List.of(standby.name()));
            awaitSynchronous(primary, standby.name());
            primary.createDatabase("pgbench");
            String setup = "PostgreSQL " + bin.majorVersion() + " primary + synchronous standby (FIRST 1 (\"" + standby.name()
                    + "\"), synchronous_commit on, fsync on), TLS 1.3 + client certificate + scram, loopback TCP";
            // pgbench connects the way the ledger's tools do: TLS with the primary's own files and its password file.
            String conninfo = primary.conninfoFor(primary) + " dbname=pgbench";
            Map<Integer, Double> tps = new LinkedHashMap<>();
            for (int scale : scales) {
                progress.accept("pgbench: -i -s " + scale);
                pgbench(bin, primary, List.of("-i", "-s", Integer.toString(scale), "-q", conninfo), 1_800);
                progress.accept("pgbench: tpcb-like -s " + scale + " -c " + clients + " -j " + threads + " -T " + seconds);
                String out = pgbench(bin, primary, List.of("-b", "tpcb-like", "-c", Integer.toString(clients), "-j",
                        Integer.toString(threads), "-T", Integer.toString(seconds), "-M", "prepared", conninfo), seconds + 120L);
                tps.put(scale, parseTps(out));
            }
            return new Result(tps, clients, threads, seconds, setup);
        } catch (SQLException e) {
            throw new IllegalStateException("pgbench pair: " + e.getMessage(), e);
        } finally {
            if (standby != null) {
                stopAndDelete(standby);
            }
            if (primary != null) {
                stopAndDelete(primary);
            }
            deleteTree(pkiDir);
        }
    }

    private static PgCluster.Options secured(String name, Pki pki, String password) {
        IssuedCert cert = pki.issueService("postgres-" + name, name, "postgres", Duration.ofDays(1));
        return PgCluster.Options.of(name, tempDir(name), Ports.free())
                .withSecurity(new PgCluster.Security(cert.certFile(), cert.keyFile(), pki.caCertFile(), password));
    }

    private static String randomPassword() {
        byte[] b = new byte[18];
        new SecureRandom().nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b).replace('-', 'x').replace('_', 'y');
    }

    private static String pgbench(PgBinaries bin, PgCluster pg, List<String> args, long timeoutSeconds) {
        // Run from a directory the server's OS user can enter (pgbench runs as that user when we are root).
        return ProcessRunner.run(bin.command("pgbench", args), timeoutSeconds, pg.dir(), Map.of(), true).output();
    }

    private static void awaitSynchronous(PgCluster primary, String standby) throws SQLException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        try (Connection c = primary.connect("postgres"); Statement st = c.createStatement()) {
            while (System.nanoTime() - deadline < 0) {
                try (ResultSet rs = st.executeQuery("select sync_state from pg_stat_replication where application_name = '"
                        + standby + "'")) {
                    // "quorum" under ANY 1 (...) (PgProbe.syncNames), "sync" under a plain list: both wait for it.
                    if (rs.next() && ("sync".equals(rs.getString(1)) || "quorum".equals(rs.getString(1)))) {
                        return;
                    }
                }
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(e);
                }
            }
        }
        throw new IllegalStateException("the pgbench standby did not become synchronous within 60 s");
    }

    private static Path tempDir(String name) {
        try {
            // Handed to the server's OS user by PgCluster; /tmp is reachable by it.
            return Files.createTempDirectory("ledger-bench-pg-" + name + "-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void stopAndDelete(PgCluster pg) {
        try {
            pg.stop();
        } catch (RuntimeException e) {
            try {
                pg.kill();
            } catch (RuntimeException ignored) {
                // nothing more to do: delete what we can
            }
        }
        deleteTree(pg.dir());
    }

    private static void deleteTree(Path root) {
        try (Stream<Path> walk = Files.walk(root)) {
            walk.sorted((a, b) -> b.getNameCount() - a.getNameCount()).forEach(p -> p.toFile().delete());
        } catch (IOException | UncheckedIOException e) {
            // best effort: a temp directory
        }
    }
}
