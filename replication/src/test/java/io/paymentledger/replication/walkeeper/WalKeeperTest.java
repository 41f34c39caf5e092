package io.paymentledger.replication.walkeeper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.paymentledger.replication.net.Ports;
import io.paymentledger.replication.postgres.Lsn;
import io.paymentledger.replication.postgres.PgBinaries;
import io.paymentledger.replication.postgres.PgCluster;
import io.paymentledger.replication.postgres.PgProbe;
import io.paymentledger.replication.postgres.TestPostgres;
import io.paymentledger.security.pki.IssuedCert;
import io.paymentledger.security.pki.Pki;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * The WAL keeper on real PostgreSQL servers over TLS with client certificates: quorum commit with the keeper as one
 * of the sites, a standby that missed acknowledged writes fetching them from the keeper (its unfinished .partial
 * segment included) before promotion, the keeper following the promoted standby across the timeline switch, and a
 * lost region rebuilt from a base backup plus the kept WAL. One story, in order; each step asserts what a user
 * relies on: rows that were acknowledged are there.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 3, unit = java.util.concurrent.TimeUnit.MINUTES)
class WalKeeperTest {

    static final String PASSWORD = "pw-" + Long.toHexString(System.nanoTime());
    static Pki pki;
    static PgCluster a;
    static PgCluster b;
    static WalKeeper keeper;
    static BaseBackups backups;
    static Path keeperDir;
    static IssuedCert keeperCert;
    static WalService service;
    /** Rows whose insert was acknowledged (committed with the synchronous quorum). */
    static int acknowledged;

    @BeforeAll
    static void start() throws Exception {
        Path base = Files.createTempDirectory("ledger-walkeeper-");
        pki = Pki.init(base.resolve("pki"), "ledger.test");
        a = TestPostgres.track(new PgCluster(secured("a", pki.issueService("postgres-a", "a", "postgres", Duration.ofDays(1)))));
        a.initdb();
        a.start();
        a.createDatabase("ledger");
        a.createReplicationSlot("b");
        b = TestPostgres.track(new PgCluster(secured("b", pki.issueService("postgres-b", "b", "postgres", Duration.ofDays(1)))));
        b.cloneFrom(a, "b");
        b.start();
        keeperDir = TestPostgres.tempDir("keeper");
        keeperCert = pki.issueService("walkeeper", "witness", "witness", Duration.ofDays(1));
        keeper = new WalKeeper(new WalKeeper.Config(keeperDir, PgBinaries.detect(),
                () -> new PgCluster.Security(keeperCert.certFile(), keeperCert.keyFile(), pki.caCertFile(), PASSWORD),
                Map.of("a", a, "b", b)));
        backups = new BaseBackups(keeper.backupsDir(), PgBinaries.detect());
        try (Connection c = a.connect("ledger"); Statement st = c.createStatement()) {
            st.execute("create table payment (id int primary key, amount bigint not null)");
        }
        new PgProbe(a, "ledger").setSynchronousStandbys(List.of("b", WalKeeper.NAME));
        follow("a");
        awaitStreaming(a, "b");
    }

    static PgCluster.Options secured(String name, IssuedCert cert) {
        return PgCluster.Options.of(name, TestPostgres.tempDir(name), Ports.free()).throwAway()
                .withSecurity(new PgCluster.Security(cert.certFile(), cert.keyFile(), pki.caCertFile(), PASSWORD));
    }

    @AfterAll
    static void stop() {
        if (service != null) {
            service.close();
        }
        if (keeper != null) {
            keeper.close();
        }
        for (PgCluster pg : new PgCluster[] {a, b}) {
            if (pg != null) {
                TestPostgres.destroy(pg);
            }
        }
        if (keeperDir != null) {
            WalKeeper.deleteTree(keeperDir);
        }
    }

    /** Points the keeper at {@code region} (as the witness loop does every tick) until it streams. */
    static void follow(String region) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!keeper.streaming() || !keeper.following().equals(region)) {
            assertThat(System.nanoTime()).as("keeper streams from " + region + " (" + keeper.lastError() + ")").isLessThan(deadline);
            keeper.follow(region);
            Thread.sleep(50);
        }
        awaitStreaming(region.equals("a") ? a : b, WalKeeper.NAME);
    }

    static void awaitStreaming(PgCluster primary, String standby) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!new PgProbe(primary, "ledger").observe().streams(standby)) {
            assertThat(System.nanoTime()).as(standby + " streams from " + primary.name()).isLessThan(deadline);
            Thread.sleep(50);
        }
    }

    /** Inserts {@code n} rows in separate commits, each acknowledged within 10 s (or the test fails). */
    static Lsn commit(PgCluster primary, int n) throws SQLException {
        Lsn last = Lsn.NONE;
        try (Connection c = primary.connect("ledger"); Statement st = c.createStatement()) {
            st.execute("set statement_timeout = '10s'");
            for (int i = 0; i < n; i++) {
                st.execute("insert into payment values (" + (acknowledged + 1) + ", " + (acknowledged + 1) * 7 + ")");
                acknowledged++;
            }
            try (ResultSet rs = st.executeQuery("select pg_current_wal_flush_lsn()::text")) {
                rs.next();
                last = Lsn.parse(rs.getString(1));
            }
        }
        return last;
    }

    static int rows(PgCluster pg) throws SQLException {
        try (Connection c = pg.connect("ledger"); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select count(*), coalesce(sum(amount), 0) from payment")) {
            rs.next();
            assertThat(rs.getLong(2)).as("amounts of " + pg.name()).isEqualTo(7L * rs.getLong(1) * (rs.getLong(1) + 1) / 2);
            return rs.getInt(1);
        }
    }

    @Test
    @Order(1)
    void theKeeperIsAQuorumSiteOverTlsWithItsClientCertificate() throws Exception {
        commit(a, 10);
        backups.take("a", a, keeper.client());
        try (Connection c = a.connect("postgres"); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select r.sync_state, s.ssl, s.version, s.client_dn from pg_stat_replication r "
                        + "join pg_stat_ssl s on s.pid = r.pid where r.application_name = 'walkeeper'")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("quorum");
            assertThat(rs.getBoolean(2)).isTrue();
            assertThat(rs.getString(3)).isEqualTo("TLSv1.3");
            assertThat(rs.getString(4)).contains("walkeeper");
        }
        assertThat(backups.list()).hasSize(1);
    }

    @Test
    @Order(2)
    void commitsGoOnWithTheStandbyGoneAcknowledgedByTheKeeper() throws Exception {
        b.stop();
        Lsn last = commit(a, 25);
        // Acknowledged means: on a and flushed by the keeper (the only other site streaming).
        PgProbe.Standby k = new PgProbe(a, "ledger").observe().standby(WalKeeper.NAME);
        assertThat(k.flushLsn().atLeast(last)).as("keeper flushed " + k.flushLsn() + " >= " + last).isTrue();
    }

    @Test
    @Order(3)
    void aStandbyThatMissedAcknowledgedWritesFetchesThemFromTheKeeperBeforePromotion() throws Exception {
        Lsn last = commit(a, 5);
        a.kill();
        // The takeover fences the keeper: it stops at once, and says where its WAL ends.
        keeper.fence();
        WalKeeper.End end = keeper.endOfWal();
        assertThat(end.lsn().atLeast(last)).as("the keeper's WAL ends at " + end.lsn() + ", the last commit at " + last).isTrue();
        assertThat(end.timeline()).isEqualTo(1);
        assertThat(WalKeeper.segments(keeper.walDir()).getLast().partial()).as("the newest kept segment is unfinished").isTrue();
        b.start();
        PgProbe probe = new PgProbe(b, "ledger");
        assertThat(probe.observe().walLsn().atLeast(end.lsn())).as("b missed the writes acknowledged while it was down").isFalse();
        // Over the network, as between hosts: the keeper's WAL service, mutual TLS, b's own certificate.
        service = WalService.start(new WalService.Config(keeper.walDir(), "127.0.0.1", 0, keeperCert.certFile(),
                keeperCert.keyFile(), pki.caCertFile(), "ledger.test"));
        probe.fetchWith(WalService.restoreCommand("https://127.0.0.1:" + service.port(), b.tlsDir()));
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        PgProbe.State st;
        while (!(st = probe.observe()).up() || !st.walLsn().atLeast(end.lsn())) {
            assertThat(System.nanoTime()).as("b fetched the keeper's WAL up to " + end.lsn()).isLessThan(deadline);
            Thread.sleep(50);
        }
        b.promote();
        probe.clearRestoreCommand();
        assertThat(rows(b)).as("every acknowledged row is on the promoted standby").isEqualTo(acknowledged);
    }

    @Test
    @Order(4)
    void theKeepersWalServiceGivesTheWalToARegionsPostgresOnlyAndSaysWhyNot() throws Exception {
        Path out = TestPostgres.tempDir("fetched").resolve("segment");
        String segment = WalKeeper.segments(keeper.walDir()).stream().filter(g -> !g.partial()).findFirst().orElseThrow()
                .file().getFileName().toString();
        // What PostgreSQL runs, as PostgreSQL's OS user would: %f and %p filled in.
        java.util.function.BiFunction<String, Path, Integer> fetch = (file, tls) -> run(WalService.restoreCommand(
                "https://127.0.0.1:" + service.port(), tls).replace("%p", out.toString()).replace("%f", file));
        assertThat(fetch.apply(segment, b.tlsDir())).as("a region's PostgreSQL fetches a kept segment").isZero();
        assertThat(Files.mismatch(out, keeper.walDir().resolve(segment))).as("byte for byte").isEqualTo(-1L);
        Files.delete(out);
        assertThat(fetch.apply("0000000100000000000000FF", b.tlsDir())).as("a segment the keeper lacks").isNotZero();
        assertThat(out).as("nothing is written for a missing segment").doesNotExist();
        assertThat(fetch.apply("..%2F..%2Fetc%2Fpasswd", b.tlsDir())).as("not a WAL file name").isNotZero();
        // A ledger node's certificate is valid in this trust domain but is not a PostgreSQL server's: refused.
        IssuedCert node = pki.issueService("node-a", "a", "ledger", Duration.ofDays(1));
        Path nodeTls = TestPostgres.tempDir("node-tls");
        Files.copy(node.certFile(), nodeTls.resolve("server.crt"));
        Files.copy(node.keyFile(), nodeTls.resolve("server.key"));
        Files.copy(pki.caCertFile(), nodeTls.resolve("ca.crt"));
        assertThat(fetch.apply(segment, nodeTls)).as("only a region's PostgreSQL or the operator may read the WAL").isNotZero();
        assertThat(out).doesNotExist();
        // An unreachable keeper fails the fetch within its connect timeout (PostgreSQL retries; the takeover has a deadline).
        int closed = Ports.free();
        long started = System.nanoTime();
        assertThat(run(WalService.restoreCommand("https://127.0.0.1:" + closed, b.tlsDir()).replace("%p", out.toString())
                .replace("%f", segment))).isNotZero();
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(WalService.FETCH_TIMEOUT_SECONDS));
    }

    /** Runs a shell command line (a restore_command) as root, which may read the test's TLS files; its exit code. */
    private static int run(String command) {
        try {
            Process p = new ProcessBuilder("sh", "-c", command).redirectErrorStream(true).start();
            p.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
            return p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS) ? p.exitValue() : -1;
        } catch (java.io.IOException | InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    @Order(5)
    void theKeeperFollowsThePromotedStandbyAcrossTheTimelineSwitch() throws Exception {
        new PgProbe(b, "ledger").setSynchronousStandbys(List.of(WalKeeper.NAME));
        new PgProbe(b, "ledger").ensureSlot(WalKeeper.NAME);
        follow("b");
        Lsn last = commit(b, 20);
        PgProbe.Standby k = new PgProbe(b, "ledger").observe().standby(WalKeeper.NAME);
        assertThat(k.flushLsn().atLeast(last)).isTrue();
        assertThat(WalKeeper.segments(keeper.walDir()).getLast().timeline()).as("the keeper writes the new timeline").isEqualTo(2);
        assertThat(Files.exists(keeper.walDir().resolve("00000002.history"))).isTrue();
    }

    @Test
    @Order(6)
    void aLostRegionIsRebuiltFromABaseBackupAndTheKeptWal() throws Exception {
        commit(b, 7);
        b.kill();
        keeper.stop();
        WalKeeper.End end = keeper.endOfWal();
        PgCluster c = TestPostgres.track(new PgCluster(secured("c", pki.issueService("postgres-c", "c", "postgres", Duration.ofDays(1)))));
        try {
            BaseBackups.Backup backup = backups.list().getFirst();
            assertThat(backup.timeline()).as("the backup predates the failover").isEqualTo(1);
            Lsn restored = c.restoreFrom(backup.dir(), WalKeeper.restoreCommand(keeper.walDir()), Duration.ofMinutes(2));
            assertThat(restored.atLeast(end.lsn())).as("restored up to the keeper's end " + end.lsn() + ": " + restored).isTrue();
            assertThat(rows(c)).as("every acknowledged row, across both timelines").isEqualTo(acknowledged);
            assertThat(catchThrowable(() -> c.restoreFrom(backup.dir(), "true", Duration.ofSeconds(5))))
                    .as("a restore never overwrites a data directory").isInstanceOf(IllegalStateException.class);
        } finally {
            TestPostgres.destroy(c);
        }
    }

    @Test
    @Order(7)
    void retentionKeepsTheNewestBackupsAndTheWalTheyNeed() throws Exception {
        b.start();
        follow("b");
        commit(b, 3);
        BaseBackups.Backup newest = backups.take("b", b, keeper.client());
        List<BaseBackups.Backup> kept = backups.prune(1, keeper.walDir());
        assertThat(kept).containsExactly(newest);
        assertThat(backups.list()).containsExactly(newest);
        keeper.stop();
        WalKeeper.Segment oldest = WalKeeper.segments(keeper.walDir()).getFirst();
        assertThat(oldest.segno()).as("WAL before the kept backup is gone, the rest stays")
                .isEqualTo(newest.start().segment(oldest.bytes()));
    }
}
