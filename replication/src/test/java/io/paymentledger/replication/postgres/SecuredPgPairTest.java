package io.paymentledger.replication.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.paymentledger.replication.net.Ports;
import io.paymentledger.security.pki.IssuedCert;
import io.paymentledger.security.pki.Pki;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * PostgreSQL as the deployment runs it: TLS 1.3 only with the PKI's certificates, a client certificate from the
 * same CA and a password on every connection, replication included. Plaintext and foreign certificates are refused.
 */
class SecuredPgPairTest {

    static Pki pki;
    static Pki otherPki;
    static PgCluster primary;
    static PgCluster standby;
    static final String PASSWORD = "pw-" + Long.toHexString(System.nanoTime());

    @BeforeAll
    static void start() throws Exception {
        Path base = Files.createTempDirectory("ledger-secured-pg-");
        pki = Pki.init(base.resolve("pki"), "ledger.test");
        otherPki = Pki.init(base.resolve("other-pki"), "ledger.test");
        primary = TestPostgres.track(new PgCluster(secured("a", pki.issueService("postgres-a", "a", "postgres", Duration.ofDays(1)))));
        primary.initdb();
        primary.start();
        primary.createReplicationSlot("b");
        standby = TestPostgres.track(new PgCluster(secured("b", pki.issueService("postgres-b", "b", "postgres", Duration.ofDays(1)))));
        standby.cloneFrom(primary, "b");
        standby.start();
    }

    static PgCluster.Options secured(String name, IssuedCert cert) {
        return PgCluster.Options.of(name, TestPostgres.tempDir(name), Ports.free()).throwAway()
                .withSecurity(new PgCluster.Security(cert.certFile(), cert.keyFile(), pki.caCertFile(), PASSWORD));
    }

    @AfterAll
    static void stop() {
        TestPostgres.destroy(standby);
        TestPostgres.destroy(primary);
    }

    @Test
    void clientsAndTheStandbyUseTls13WithCertificateAndPassword() throws Exception {
        try (Connection c = primary.connect("postgres"); var st = c.createStatement()) {
            try (ResultSet rs = st.executeQuery("select ssl, version from pg_stat_ssl where pid = pg_backend_pid()")) {
                rs.next();
                assertThat(rs.getBoolean(1)).isTrue();
                assertThat(rs.getString(2)).isEqualTo("TLSv1.3");
            }
            long deadline = System.nanoTime() + 30_000_000_000L;
            String state = null;
            while (System.nanoTime() < deadline) {
                try (ResultSet rs = st.executeQuery("select r.state, s.ssl, s.version from pg_stat_replication r "
                        + "join pg_stat_ssl s on s.pid = r.pid where r.application_name = 'b'")) {
                    if (rs.next()) {
                        state = rs.getString(1);
                        assertThat(rs.getBoolean(2)).as("replication connection uses TLS").isTrue();
                        assertThat(rs.getString(3)).isEqualTo("TLSv1.3");
                        if ("streaming".equals(state)) {
                            break;
                        }
                    }
                }
                Thread.sleep(100);
            }
            assertThat(state).isEqualTo("streaming");
        }
    }

    @Test
    void plaintextIsRefused() {
        Properties p = new Properties();
        p.setProperty("user", PgCluster.SUPERUSER);
        p.setProperty("password", PASSWORD);
        p.setProperty("sslmode", "disable");
        Throwable t = catchThrowable(() -> DriverManager.getConnection(primary.jdbcUrl("postgres"), p).close());
        assertThat(t).isInstanceOf(SQLException.class).hasMessageContaining("rejects connection");
    }

    @Test
    void aCertificateFromAnotherCaIsRefused() throws Exception {
        IssuedCert foreign = otherPki.issueOperator(Duration.ofDays(1));
        Properties p = PgCluster.clientProperties(primary.options().security(), foreign.certFile(), foreign.keyFile());
        Throwable t = catchThrowable(() -> DriverManager.getConnection(primary.jdbcUrl("postgres"), p).close());
        assertThat(t).isInstanceOf(SQLException.class);
    }

    @Test
    void noClientCertificateIsRefusedEvenWithThePassword() throws Exception {
        Properties p = PgCluster.clientProperties(primary.options().security(), null, null);
        Throwable t = catchThrowable(() -> DriverManager.getConnection(primary.jdbcUrl("postgres"), p).close());
        assertThat(t).isInstanceOf(SQLException.class);
    }

    @Test
    void aWrongPasswordIsRefusedEvenWithAGoodCertificate() throws Exception {
        IssuedCert op = pki.issueOperator(Duration.ofDays(1));
        Properties p = PgCluster.clientProperties(primary.options().security(), op.certFile(), op.keyFile());
        p.setProperty("password", "wrong");
        Throwable t = catchThrowable(() -> DriverManager.getConnection(primary.jdbcUrl("postgres"), p).close());
        assertThat(t).isInstanceOf(SQLException.class).hasMessageContaining("password authentication failed");
    }

    @Test
    void theKeyFilesAreOnlyReadableByTheServer() throws Exception {
        assertThat(Files.getPosixFilePermissions(primary.tlsDir().resolve("server.key")))
                .containsExactlyInAnyOrder(java.nio.file.attribute.PosixFilePermission.OWNER_READ,
                        java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
        assertThat(Files.getPosixFilePermissions(primary.tlsDir().resolve("pgpass")))
                .containsExactlyInAnyOrder(java.nio.file.attribute.PosixFilePermission.OWNER_READ,
                        java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
    }
}
