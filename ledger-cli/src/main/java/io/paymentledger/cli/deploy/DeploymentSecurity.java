package io.paymentledger.cli.deploy;

import io.paymentledger.replication.postgres.PgCluster;
import io.paymentledger.security.pki.CertificateRenewer;
import io.paymentledger.security.pki.IssuedCert;
import io.paymentledger.security.pki.Pki;
import io.paymentledger.security.secrets.FileSecretStore;
import io.paymentledger.security.secrets.SecretStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

/**
 * The local deployment's PKI and secrets, in one place: a CA under {@code <dir>/pki}, one certificate per
 * service (short-lived, renewed by each process before it expires), one per merchant, one for the operator;
 * and a 0600 file secret store {@code <dir>/secrets.json} with the PostgreSQL password and the API-key pepper.
 * (In production the same roles are played by Vault: KV for the secrets, its PKI engine for certificates.)
 */
public final class DeploymentSecurity {

    /** Service certificates (nodes, router, PostgreSQL) are valid this long and renewed after 2/3 of it. */
    public static final Duration SERVICE_VALIDITY = Duration.ofHours(24);
    public static final Duration OPERATOR_VALIDITY = Duration.ofDays(30);
    public static final Duration MERCHANT_VALIDITY = Duration.ofDays(90);
    /** The merchant identity the drills and the benchmark use. */
    public static final String LOAD_MERCHANT = "load-test";

    private final Topology topology;
    private final Pki pki;
    private final SecretStore secrets;

    private DeploymentSecurity(Topology topology, Pki pki, SecretStore secrets) {
        this.topology = topology;
        this.pki = pki;
        this.secrets = secrets;
    }

    /** Opens (creating on first use) the deployment's CA and secret store. */
    public static DeploymentSecurity open(Topology t) {
        Pki pki = Pki.init(t.dir().resolve("pki"), t.trustDomain());
        SecretStore secrets = FileSecretStore.open(t.dir().resolve("secrets.json"));
        return new DeploymentSecurity(t, pki, secrets);
    }

    public Pki pki() {
        return pki;
    }

    public Path caFile() {
        return pki.caCertFile();
    }

    public Path crlFile() {
        return pki.crlFile();
    }

    public String trustDomain() {
        return pki.trustDomain();
    }

    public String postgresPassword() {
        return secrets.getOrCreate("postgres-password", SecretStore.random(24));
    }

    /** The secret store's own account of itself (LIVE / DEGRADED / UNAVAILABLE + detail). */
    public String secretsHealth() {
        return secrets.health().toString();
    }

    public String apiKeyPepper() {
        return secrets.getOrCreate("api-key-pepper", SecretStore.random(32));
    }

    /** The key webhook signing secrets are sealed with before they go into the ledger's database (never stored there). */
    public String webhookSecretKey() {
        return secrets.getOrCreate("webhook-secret-key", SecretStore.random(32));
    }

    /** The certificate named {@code name}, issued (or reissued when a third of its life is left) if needed. */
    private IssuedCert current(String name, java.util.function.Supplier<IssuedCert> issue) {
        Path crt = pki.dir().resolve(name + ".crt");
        if (Files.exists(crt)) {
            IssuedCert existing = pki.load(name);
            if (!CertificateRenewer.renewalDue(existing, Instant.now())) {
                return existing;
            }
            return pki.reissue(existing);
        }
        return issue.get();
    }

    public IssuedCert node(String region) {
        return current("node-" + region, () -> pki.issueService("node-" + region, region, "ledger", SERVICE_VALIDITY, ips(region)));
    }

    /** The addresses a site's servers are reached at: 127.0.0.1, and the site's own in the netns layout. */
    private java.util.List<String> ips(String site) {
        String host = topology.host(site);
        return host.equals(Sites.LOOPBACK_HOST) ? java.util.List.of(host) : java.util.List.of(Sites.LOOPBACK_HOST, host);
    }

    public IssuedCert router() {
        String region = topology.regions().keySet().iterator().next();
        return current("router", () -> pki.issueService("router", region, "router", SERVICE_VALIDITY));
    }

    public IssuedCert postgres(String region) {
        return current("postgres-" + region, () -> pki.issueService("postgres-" + region, region, "postgres", Duration.ofDays(365), ips(region)));
    }

    /**
     * The WAL keeper's certificate: a client of the leader's PostgreSQL (it streams WAL like a standby), and the server
     * of its WAL service at the witness site's address.
     */
    public IssuedCert walKeeper() {
        return current("walkeeper", () -> pki.issueService("walkeeper", "witness", "witness", SERVICE_VALIDITY,
                ips(Topology.WITNESS_SITE)));
    }

    /** How the WAL keeper connects: its certificate, the CA, the superuser password. */
    public PgCluster.Security walKeeperSecurity() {
        IssuedCert c = walKeeper();
        return new PgCluster.Security(c.certFile(), c.keyFile(), caFile(), postgresPassword());
    }

    /**
     * The Kafka broker's certificate (./ledger up --kafka): its TLS listeners, and the client side of its own
     * connections to them. Long-lived like PostgreSQL's: the broker does not reload it (up reissues it when a third is
     * left; a restart of the broker serves the new one).
     */
    public IssuedCert kafka() {
        String region = topology.regions().keySet().iterator().next();
        return current("kafka", () -> pki.issueService("kafka", region, "kafka", Duration.ofDays(365), java.util.List.of(Sites.LOOPBACK_HOST)));
    }

    public IssuedCert operator() {
        return current("operator", () -> pki.issueOperator(OPERATOR_VALIDITY));
    }

    /**
     * The deployment's Prometheus (and its PostgreSQL exporters' client side): reads /metrics, calls nothing. Long-lived
     * like the operator's, as Prometheus does not renew it; {@code ./ledger up} reissues it when a third is left.
     */
    public IssuedCert prometheus() {
        return current("prometheus", () -> pki.issuePrometheus(OPERATOR_VALIDITY));
    }

    public IssuedCert merchant(String merchantId) {
        return current("merchant-" + merchantId, () -> pki.issueMerchant(merchantId, MERCHANT_VALIDITY));
    }

    /** Issues every certificate the deployment runs on (idempotent). */
    public void issueAll() {
        topology.regions().keySet().forEach(r -> {
            node(r);
            postgres(r);
        });
        router();
        walKeeper();
        operator();
        prometheus();
        merchant(LOAD_MERCHANT);
    }

    /** How PostgreSQL of {@code region} is secured: its certificate, the CA, the superuser password. */
    public PgCluster.Security postgresSecurity(String region) {
        IssuedCert c = postgres(region);
        return new PgCluster.Security(c.certFile(), c.keyFile(), caFile(), postgresPassword());
    }
}
