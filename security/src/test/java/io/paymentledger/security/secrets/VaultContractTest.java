package io.paymentledger.security.secrets;

import static io.paymentledger.security.testing.Await.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.paymentledger.security.identity.Identities;
import io.paymentledger.security.logging.LogSetup;
import io.paymentledger.security.logging.SecretRedactor;
import io.paymentledger.security.identity.Principal;
import io.paymentledger.security.pki.CertRequest;
import io.paymentledger.security.pki.IssuedCert;
import io.paymentledger.security.pki.Pem;
import io.paymentledger.security.pki.Pki;
import io.paymentledger.security.testing.FakeVaultServer;
import io.paymentledger.security.testing.MutableClock;
import io.paymentledger.security.tls.Tls;
import io.vertx.core.Vertx;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;

/**
 * The Vault components against {@link FakeVaultServer} over HTTPS with an EC client certificate, through the
 * real vault-java-driver 6.2.0: login, renewal, KV v2, PKI with URI SAN, database leases, errors, and the
 * serve-from-cache behaviour while Vault is unreachable.
 */
class VaultContractTest {

    private static final String TD = "ledger.test";

    @TempDir
    static Path dir;
    static Pki pki;
    static Vertx vertx;
    static IssuedCert vaultCert;
    static IssuedCert ledgerCert;

    MutableClock clock;
    FakeVaultServer fake;
    VaultClient client;

    /** Everything this module and the driver log during a test, unredacted, to check no secret is logged. */
    static final java.io.ByteArrayOutputStream logOutput = new java.io.ByteArrayOutputStream();
    static java.util.logging.StreamHandler logCapture;

    @BeforeAll
    static void pki() {
        pki = Pki.init(dir.resolve("pki"), TD);
        vaultCert = pki.issue(CertRequest.service("vault", "vault", Duration.ofDays(1)));
        ledgerCert = pki.issueService("ledger-eu", "eu", "ledger", Duration.ofDays(1));
        vertx = Vertx.vertx();
        logCapture = new java.util.logging.StreamHandler(logOutput, new LogSetup.OneLine("test"));
        logCapture.setLevel(java.util.logging.Level.ALL);
        for (String name : List.of("io.paymentledger", "io.github.jopenlibs")) {
            java.util.logging.Logger l = java.util.logging.Logger.getLogger(name);
            l.setLevel(java.util.logging.Level.FINE);
            l.addHandler(logCapture);
        }
    }

    @AfterAll
    static void closeVertx() {
        for (String name : List.of("io.paymentledger", "io.github.jopenlibs")) {
            java.util.logging.Logger.getLogger(name).removeHandler(logCapture);
        }
        await(vertx.close());
    }

    @BeforeEach
    void startFake() {
        clock = new MutableClock(Instant.now());
        fake = new FakeVaultServer(vertx, clock, vaultCert, pki.caCertFile()).start();
    }

    @AfterEach
    void stopFakeAndCheckLogs() {
        if (client != null) {
            client.close();
        }
        fake.stop();
        logCapture.flush();
        String logged = logOutput.toString();
        assertThat(logged).as("something was logged").isNotEmpty();
        assertThat(SecretRedactor.global().findLeaks(logged)).as("secrets in the log").isEmpty();
    }

    private VaultSettings settings(VaultAuth auth) {
        return VaultSettings.of(fake.address(), auth)
                .withCaFile(pki.caCertFile())
                .withClientCertificate(ledgerCert.certFile(), ledgerCert.keyFile())
                .withTimeouts(Duration.ofSeconds(2), Duration.ofSeconds(5));
    }

    // ------------------------------------------------------------------------------------------- login

    @Test
    void tokenLoginLearnsTheTtlOverMtlsWithAnEcClientKey() {
        String token = fake.createToken(Duration.ofHours(1), true, null);
        client = VaultClient.connect(settings(VaultAuth.token(token)), clock);

        assertThat(client.tokenExpiresAt()).isEqualTo(clock.instant().plus(Duration.ofHours(1)));
        assertThat(client.health().state()).isEqualTo(Health.State.LIVE);
        List<FakeVaultServer.Request> lookups = fake.requests("GET", "/v1/auth/token/lookup-self");
        assertThat(lookups).hasSize(1);
        assertThat(lookups.get(0).headers()).containsEntry("x-vault-token", token).containsEntry("x-vault-request", "true");
        assertThat(lookups.get(0).peerIdentity()).as("EC client certificate reached Vault")
                .isEqualTo("spiffe://ledger.test/region/eu/ledger");

        assertThatThrownBy(() -> VaultClient.connect(settings(VaultAuth.token("hvs.bogus")), clock))
                .isInstanceOf(SecretStoreException.class)
                .hasMessageContaining("403").hasMessageContaining("permission denied");
    }

    @Test
    void appRoleLoginSendsRoleAndSecretIdWithoutAToken() {
        fake.addAppRole("role-ledger", "secret-1234", Duration.ofHours(1), Duration.ofHours(4));
        client = VaultClient.connect(settings(VaultAuth.appRole("role-ledger", "secret-1234")), clock);

        List<FakeVaultServer.Request> logins = fake.requests("POST", "/v1/auth/approle/login");
        assertThat(logins).hasSize(1);
        assertThat(logins.get(0).json()).isEqualTo(new JsonObject().put("role_id", "role-ledger").put("secret_id", "secret-1234"));
        assertThat(logins.get(0).headers()).doesNotContainKey("x-vault-token");
        assertThat(client.tokenExpiresAt()).isEqualTo(clock.instant().plus(Duration.ofHours(1)));

        VaultSecretStore store = new VaultSecretStore(client, "secret", "ledger");
        store.put("probe", "probe-value");
        assertThat(fake.requests("POST", "/v1/secret/data/ledger/probe").get(0).headers()).containsKey("x-vault-token");

        assertThatThrownBy(() -> VaultClient.connect(settings(VaultAuth.appRole("role-ledger", "wrong")), clock))
                .isInstanceOf(SecretStoreException.class)
                .hasMessageContaining("400").hasMessageContaining("invalid role or secret ID");
    }

    @Test
    void tokenIsRenewedWhenAThirdOfItsTtlRemainsAndReplacedByALoginAtItsMaxTtl() {
        fake.addAppRole("r", "s", Duration.ofHours(1), Duration.ofMinutes(90));
        client = VaultClient.connect(settings(VaultAuth.appRole("r", "s")), clock);

        clock.advance(Duration.ofMinutes(30)); // 30 of 60 minutes left: not due
        client.maintainNow();
        assertThat(fake.requests("POST", "/v1/auth/token/renew-self")).isEmpty();

        clock.advance(Duration.ofMinutes(11)); // 19 minutes left < 20: renew
        client.maintainNow();
        List<FakeVaultServer.Request> renewals = fake.requests("POST", "/v1/auth/token/renew-self");
        assertThat(renewals).hasSize(1);
        assertThat(renewals.get(0).body()).isEmpty();
        assertThat(client.tokenExpiresAt()).isEqualTo(clock.instant().plus(Duration.ofMinutes(49))); // capped at 90 min
        assertThat(fake.requests("POST", "/v1/auth/approle/login")).hasSize(1);

        clock.advance(Duration.ofMinutes(34)); // 15 of 49 minutes left: renew, capped at 90 -> 15 min: log in again
        client.maintainNow();
        assertThat(fake.requests("POST", "/v1/auth/token/renew-self")).hasSize(2);
        assertThat(fake.requests("POST", "/v1/auth/approle/login")).hasSize(2);
        assertThat(client.tokenExpiresAt()).isEqualTo(clock.instant().plus(Duration.ofHours(1)));

        String secondToken = fake.requests("POST", "/v1/auth/token/renew-self").get(1).headers().get("x-vault-token");
        new VaultSecretStore(client, "secret", "ledger").put("after-relogin", "value-123");
        String used = fake.requests("POST", "/v1/secret/data/ledger/after-relogin").get(0).headers().get("x-vault-token");
        assertThat(used).isNotEqualTo(secondToken);
    }

    @Test
    void startMaintenanceRenewsInTheBackground() throws Exception {
        fake.addAppRole("r", "s", Duration.ofHours(1), null);
        client = VaultClient.connect(settings(VaultAuth.appRole("r", "s")), clock);
        clock.advance(Duration.ofMinutes(45));
        client.startMaintenance(Duration.ofMillis(50));
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
        while (fake.requests("POST", "/v1/auth/token/renew-self").isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(fake.requests("POST", "/v1/auth/token/renew-self")).isNotEmpty();
        client.close();
        int after = fake.requests("POST", "/v1/auth/token/renew-self").size();
        clock.advance(Duration.ofMinutes(50));
        Thread.sleep(200);
        assertThat(fake.requests("POST", "/v1/auth/token/renew-self")).as("stopped by close()").hasSize(after);
    }

    // ------------------------------------------------------------------------------------------- KV v2

    @Test
    void kvV2WriteReadAndMissingSecret() {
        client = VaultClient.connect(settings(VaultAuth.token(fake.rootToken())), clock);
        VaultSecretStore store = new VaultSecretStore(client, "secret", "ledger/eu");

        store.put("db-password", "s3cr3t-value");
        assertThat(fake.kvData("ledger/eu/db-password")).isEqualTo(new JsonObject().put("value", "s3cr3t-value"));
        FakeVaultServer.Request write = fake.requests("POST", "/v1/secret/data/ledger/eu/db-password").get(0);
        assertThat(write.json()).isEqualTo(new JsonObject().put("data", new JsonObject().put("value", "s3cr3t-value")));

        VaultSecretStore fresh = new VaultSecretStore(client, "secret", "ledger/eu");
        assertThat(fresh.get("db-password")).contains("s3cr3t-value");
        assertThat(fake.requests("GET", "/v1/secret/data/ledger/eu/db-password")).hasSize(1);
        assertThat(fresh.get("db-password")).contains("s3cr3t-value");
        assertThat(fake.requests("GET", "/v1/secret/data/ledger/eu/db-password")).as("served from cache").hasSize(1);

        assertThat(fresh.get("missing")).isEmpty();
        assertThat(fake.requests("GET", "/v1/secret/data/ledger/eu/missing")).hasSize(1);
        assertThatThrownBy(() -> fresh.require("missing")).hasMessageContaining("missing");

        String pepper = fresh.getOrCreate("api-key-pepper", SecretStore.random(32));
        assertThat(fake.requests("POST", "/v1/secret/data/ledger/eu/api-key-pepper").get(0).json()
                .getJsonObject("options")).isEqualTo(new JsonObject().put("cas", 0));
        assertThat(store.getOrCreate("api-key-pepper", () -> "other-value")).isEqualTo(pepper);
        assertThat(fresh.health().state()).isEqualTo(Health.State.LIVE);
    }

    @Test
    void permissionDeniedWithARevokedTokenAndAppRoleLogsInAgain() {
        String token = fake.createToken(Duration.ofHours(1), true, null);
        client = VaultClient.connect(settings(VaultAuth.token(token)), clock);
        VaultSecretStore store = new VaultSecretStore(client, "secret", "ledger");
        fake.revokeToken(token);
        assertThatThrownBy(() -> store.get("anything")).isInstanceOf(SecretStoreException.class)
                .hasMessageContaining("403").hasMessageContaining("permission denied");
        assertThatThrownBy(() -> store.put("anything", "value-x")).isInstanceOf(SecretStoreException.class)
                .hasMessageContaining("403");
        client.close();

        fake.addAppRole("r", "s", Duration.ofHours(1), null);
        client = VaultClient.connect(settings(VaultAuth.appRole("r", "s")), clock);
        VaultSecretStore approleStore = new VaultSecretStore(client, "secret", "ledger");
        approleStore.put("k", "value-1");
        fake.revokeAllTokens();
        assertThat(new VaultSecretStore(client, "secret", "ledger").get("k")).contains("value-1");
        assertThat(fake.requests("POST", "/v1/auth/approle/login")).as("logged in again after 403").hasSize(2);
    }

    @Test
    void sealedVaultAnswers503AndCachedValuesAreServed() {
        client = VaultClient.connect(settings(VaultAuth.token(fake.rootToken())), clock);
        VaultSecretStore store = new VaultSecretStore(client, "secret", "ledger", Duration.ofMinutes(5), Duration.ofHours(1));
        store.put("a", "value-a");
        assertThat(store.get("a")).contains("value-a");

        fake.setSealed(true);
        assertThatThrownBy(() -> store.put("b", "value-b")).isInstanceOf(SecretStoreException.class)
                .hasMessageContaining("503").hasMessageContaining("Vault is sealed");
        clock.advance(Duration.ofMinutes(10));
        assertThat(store.get("a")).contains("value-a");
        Health h = store.health();
        assertThat(h.state()).isEqualTo(Health.State.DEGRADED);
        assertThat(h.toString()).startsWith("DEGRADED: vault unreachable since").contains("503").contains("sealed")
                .contains("serving cache until");

        fake.setSealed(false);
        client.maintainNow();
        assertThat(store.health().state()).isEqualTo(Health.State.LIVE);
    }

    // ------------------------------------------------------------------------------------------- PKI

    @Test
    void pkiIssuesAServiceCertificateWithTheSpiffeUriSan() throws Exception {
        fake.addPkiRole("ledger-service", true);
        fake.addPkiRole("no-uri", false);
        client = VaultClient.connect(settings(VaultAuth.token(fake.rootToken())), clock);
        Path out = dir.resolve("vault-issued");
        VaultPki vaultPki = new VaultPki(client, "pki", "ledger-service", TD, out);

        IssuedCert cert = vaultPki.issueService("ledger-eu", "eu", "ledger", Duration.ofHours(24));

        List<FakeVaultServer.Request> issues = fake.requests("POST", "/v1/pki/issue/ledger-service");
        assertThat(issues).as("engine-v1 path, no /data/ inserted").hasSize(1);
        JsonObject body = issues.get(0).json();
        assertThat(body.getString("uri_sans")).isEqualTo("spiffe://ledger.test/region/eu/ledger");
        assertThat(body.getString("common_name")).isEqualTo("localhost");
        assertThat(body.getString("alt_names")).isEqualTo("localhost");
        assertThat(body.getString("ip_sans")).isEqualTo("127.0.0.1");
        assertThat(body.getString("ttl")).isEqualTo("86400s");
        assertThat(body.getString("private_key_format")).isEqualTo("pkcs8");

        cert.cert().verify(fake.pkiCaCertificate().getPublicKey());
        assertThat(Identities.spiffeIds(cert.cert())).containsExactly("spiffe://ledger.test/region/eu/ledger");
        assertThat(Identities.fromCertificate(cert.cert(), TD)).contains(new Principal.Service("eu", "ledger"));
        assertThat(Files.readString(cert.keyFile())).startsWith("-----BEGIN PRIVATE KEY-----");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(cert.keyFile()))).isEqualTo("rw-------");
        assertThat(Pem.readCertificates(vaultPki.issuingCaFile())).contains(fake.pkiCaCertificate());

        // the files work as Vert.x TLS material
        HttpServer server = vertx.createHttpServer(Tls.serverOptions(cert.certFile(), cert.keyFile(),
                vaultPki.issuingCaFile(), null, ClientAuth.NONE)).requestHandler(r -> r.response().end());
        assertThat(await(server.listen(0, "127.0.0.1")).actualPort()).isPositive();
        await(server.close());

        IssuedCert again = vaultPki.reissue(cert);
        assertThat(again.identity()).isEqualTo(cert.identity());
        assertThat(again.serial()).isNotEqualTo(cert.serial());

        VaultPki refusing = new VaultPki(client, "pki", "no-uri", TD, out);
        assertThatThrownBy(() -> refusing.issueService("x", "eu", "ledger", Duration.ofHours(1)))
                .isInstanceOf(SecretStoreException.class)
                .hasMessageContaining("URI Subject Alternative Names are not allowed");
    }

    @Test
    void pkiRefusesAReservedMerchantIdBeforeAskingVault() {
        fake.addPkiRole("ledger-merchant", true);
        client = VaultClient.connect(settings(VaultAuth.token(fake.rootToken())), clock);
        VaultPki vaultPki = new VaultPki(client, "pki", "ledger-merchant", TD, dir.resolve("vault-merchants"));
        for (String reserved : new String[] {"operator", "Operator", "OPERATOR"}) {
            assertThatThrownBy(() -> vaultPki.issueMerchant(reserved, Duration.ofHours(1)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("invalid merchant id '" + reserved + "': reserved");
            assertThatThrownBy(() -> vaultPki.issue(CertRequest.client("m", "merchant/" + reserved, Duration.ofHours(1))))
                    .hasMessageContaining("invalid merchant id '" + reserved + "': reserved");
        }
        assertThat(fake.requests("POST", "/v1/pki/issue/ledger-merchant")).as("Vault was never asked").isEmpty();
        IssuedCert merchant = vaultPki.issueMerchant("acme", Duration.ofHours(1));
        assertThat(merchant.identity()).isEqualTo("spiffe://ledger.test/merchant/acme");
        assertThat(merchant.certFile().getFileName().toString()).isEqualTo("merchant-acme.crt");
    }

    // ------------------------------------------------------------------------------------------- database

    @Test
    void databaseCredentialsAreLeasedRenewedAndReplacedAtMaxTtl() {
        fake.addDatabaseRole("ledger", Duration.ofHours(1), Duration.ofMinutes(90));
        client = VaultClient.connect(settings(VaultAuth.token(fake.rootToken())), clock);
        List<DbCredentials> issued = new CopyOnWriteArrayList<>();
        VaultDatabaseCredentials db = new VaultDatabaseCredentials(client, "database", "ledger", issued::add);

        DbCredentials first = db.current();
        assertThat(first.username()).startsWith("v-approle-ledger-");
        assertThat(first.leaseId()).startsWith("database/creds/ledger/");
        assertThat(first.expiresAt()).isEqualTo(clock.instant().plus(Duration.ofHours(1)));
        assertThat(first.toString()).doesNotContain(first.password());
        assertThat(issued).containsExactly(first);
        assertThat(fake.requests("GET", "/v1/database/creds/ledger")).hasSize(1);
        assertThat(db.current()).isEqualTo(first);

        clock.advance(Duration.ofMinutes(41)); // 19 of 60 minutes left: renew
        client.maintainNow();
        List<FakeVaultServer.Request> renewals = fake.requests("POST", "/v1/sys/leases/renew/" + first.leaseId());
        assertThat(renewals).hasSize(1);
        assertThat(renewals.get(0).json()).isEqualTo(new JsonObject().put("increment", 3600));
        DbCredentials renewed = db.current();
        assertThat(renewed.username()).isEqualTo(first.username());
        assertThat(renewed.expiresAt()).isEqualTo(clock.instant().plus(Duration.ofMinutes(49))); // capped at 90 min
        assertThat(issued).hasSize(1);

        clock.advance(Duration.ofMinutes(31)); // 18 minutes left, cannot extend past max TTL: new credentials
        client.maintainNow();
        assertThat(issued).hasSize(2);
        DbCredentials second = db.current();
        assertThat(second).isEqualTo(issued.get(1));
        assertThat(second.username()).isNotEqualTo(first.username());
        assertThat(second.expiresAt()).isEqualTo(clock.instant().plus(Duration.ofHours(1)));
        assertThat(db.health().state()).isEqualTo(Health.State.LIVE);
    }

    // ------------------------------------------------------------------------------------------- unreachable

    @Test
    void whileVaultIsUnreachableCachedValuesAreServedUntilTheyExpireAndHealthSaysSo() {
        fake.addDatabaseRole("ledger", Duration.ofHours(1), Duration.ofHours(24));
        client = VaultClient.connect(settings(VaultAuth.token(fake.rootToken())), clock);
        VaultSecretStore store = new VaultSecretStore(client, "secret", "ledger", Duration.ofMinutes(5), Duration.ofMinutes(60));
        VaultDatabaseCredentials db = new VaultDatabaseCredentials(client, "database", "ledger", c -> {});
        store.put("pepper", "pepper-value");
        Instant fetched = clock.instant();
        DbCredentials creds = db.current();

        fake.stop();
        clock.advance(Duration.ofMinutes(10));
        Instant down = clock.instant();
        assertThat(store.get("pepper")).as("stale but within cache TTL").contains("pepper-value");
        Health h = store.health();
        assertThat(h.state()).isEqualTo(Health.State.DEGRADED);
        assertThat(h.servingCacheUntil()).isEqualTo(fetched.plus(Duration.ofMinutes(60)));
        assertThat(h.toString()).isEqualTo("DEGRADED: vault unreachable since " + down + " (ConnectException)"
                + ", serving cache until " + fetched.plus(Duration.ofMinutes(60)) + " (1 secrets)");

        clock.advance(Duration.ofMinutes(35)); // lease renewal due, Vault down: keep the cached credentials
        client.maintainNow();
        assertThat(db.current()).isEqualTo(creds);
        assertThat(db.health().state()).isEqualTo(Health.State.DEGRADED);
        assertThat(db.health().detail()).contains("serving cached database credentials until " + creds.expiresAt());

        clock.advance(Duration.ofMinutes(16)); // 61 minutes: cache TTL and lease are over
        assertThatThrownBy(() -> store.get("pepper")).isInstanceOf(SecretStoreException.class)
                .hasMessageContaining("secret 'pepper' unavailable: vault unreachable since " + down)
                .hasMessageContaining("cached value expired at " + fetched.plus(Duration.ofMinutes(60)));
        assertThat(store.health().state()).isEqualTo(Health.State.UNAVAILABLE);
        assertThatThrownBy(db::current).isInstanceOf(SecretStoreException.class)
                .hasMessageContaining("vault unreachable since " + down);
        assertThat(db.health().state()).isEqualTo(Health.State.UNAVAILABLE);

        fake.start();
        client.maintainNow();
        assertThat(store.health().state()).isEqualTo(Health.State.LIVE);
        assertThat(store.get("pepper")).contains("pepper-value");
        assertThat(db.current().username()).isNotEqualTo(creds.username());
    }
}
