package io.paymentledger.cli.deploy;

import io.paymentledger.ledger.auth.ApiKeyStore;
import io.paymentledger.ledger.events.kafka.KafkaRelay;
import io.paymentledger.ledger.auth.CertificateCallerResolver;
import io.paymentledger.ledger.journal.PeriodicSigner;
import io.paymentledger.ledger.node.LedgerNode;
import io.paymentledger.ledger.node.ReplicatedControl;
import io.paymentledger.ledger.store.Database;
import io.paymentledger.ledger.webhooks.WebhookDispatcher;
import io.paymentledger.security.secrets.SecretSealer;
import io.paymentledger.ledger.write.BatchWriter;
import io.paymentledger.replication.coordinator.HazelcastCoordinator;
import io.paymentledger.replication.failover.FailoverAgent;
import io.paymentledger.replication.failover.FailoverStateMachine;
import io.paymentledger.replication.postgres.PgCluster;
import io.paymentledger.replication.walkeeper.WalService;
import io.paymentledger.security.apikey.ApiKeys;
import io.paymentledger.security.pki.CertificateRenewer;
import io.paymentledger.security.pki.IssuedCert;
import io.paymentledger.security.tls.Tls;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.http.HttpServerOptions;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Logger;

/**
 * The body of a ledger node process of the local deployment (`ledger node --region a`): the region's
 * Hazelcast CP member, its failover agent, and the ledger node itself, serving mutual TLS with the region's
 * certificate (renewed before it expires, without a restart), talking TLS to PostgreSQL, signing journal
 * checkpoints with its key.
 */
public final class NodeProcess {

    private static final Logger LOG = Logger.getLogger(NodeProcess.class.getName());
    /** A journal checkpoint is signed at most this often. */
    static final long CHECKPOINT_INTERVAL_MS = 1_000;

    private NodeProcess() {}

    public static void run(Topology t, String regionName, FailoverStateMachine.SyncLossPolicy policy) throws InterruptedException {
        run(t, regionName, policy, java.util.Optional.empty());
    }

    /** With {@code relay}: the Kafka relay runs beside the node and publishes while it leads (./ledger up --kafka). */
    public static void run(Topology t, String regionName, FailoverStateMachine.SyncLossPolicy policy,
            java.util.Optional<KafkaRelay.Config> relay) throws InterruptedException {
        Topology.Region region = t.region(regionName);
        DeploymentSecurity security = DeploymentSecurity.open(t);
        IssuedCert cert = security.node(regionName);
        Map<String, PgCluster> databases = new LinkedHashMap<>();
        for (Topology.Region r : t.regions().values()) {
            databases.put(r.name(), LocalDeployment.postgres(t, security, r.name()));
        }
        HazelcastCoordinator coordinator = HazelcastCoordinator.start(Coordination.settings(t, regionName, region.hazelcastPort()));
        coordinator.raftLeaderWishFile(Coordination.raftLeaderWishFile(t));
        ReplicatedControl control = new ReplicatedControl(new FailoverAgent.Config(regionName, databases, Coordination.TICK_MS,
                t.settings().cp().leaderLeaseMs(), policy, WalService.restoreCommand(t.walKeeperUrl(), databases.get(regionName).tlsDir())),
                coordinator);
        // A commit waits for the synchronous standby as long as it takes; it is never cancelled (that would
        // leave it committed locally but not replicated), so no socket timeout on the writer.
        Database database = new Database(databases.get(regionName).jdbcUrl("ledger"),
                PgCluster.clientProperties(security.postgresSecurity(regionName), cert.certFile(), cert.keyFile()), 16);
        ApiKeyStore apiKeys = new ApiKeyStore(database, ApiKeys.fromBase64Pepper(security.apiKeyPepper()));
        HttpServerOptions server = Tls.serverOptions(cert.certFile(), cert.keyFile(), security.caFile(), security.crlFile(),
                ClientAuth.REQUIRED).setHost(t.host(regionName)).setPort(region.grpcPort());
        // Webhook secrets are sealed under a key of the secret store; endpoints are trusted by the JDK's public CAs.
        LedgerNode node = LedgerNode.start(new LedgerNode.Config(regionName, server, database, 16, BatchWriter.Config.defaults(),
                apiKeys, WebhookDispatcher.Settings.of(SecretSealer.fromBase64(security.webhookSecretKey()))), control, new CertificateCallerResolver(security.trustDomain(), apiKeys,
                security.pki().caCertificate()));
        node.writer().checkpointSigner(signer(cert));
        node.secretsHealth(security::secretsHealth);
        CertificateRenewer renewer = CertificateRenewer.forPki(security.pki(), cert, Clock.systemUTC(), renewed -> {
            node.updateSsl(Tls.serverSslOptions(renewed.certFile(), renewed.keyFile(), security.caFile(), security.crlFile(),
                    ClientAuth.REQUIRED));
            node.writer().checkpointSigner(signer(renewed));
            LOG.info(() -> "node " + regionName + ": certificate renewed, valid until " + renewed.notAfter());
        });
        renewer.start(node.vertx(), Duration.ofMinutes(5));
        node.metrics().certificateExpiry(renewer::current, security.pki().caCertificate());
        // A revocation (./ledger merchant revoke) rewrites the CRL: serve it to new connections within seconds.
        CrlWatcher.watch(node.vertx(), security.crlFile(), () -> node.updateSsl(Tls.serverSslOptions(renewer.current().certFile(),
                renewer.current().keyFile(), security.caFile(), security.crlFile(), ClientAuth.REQUIRED)));
        KafkaRelay kafka = relay.map(c -> KafkaRelay.start(c.withSecurity(KafkaProcess.relaySecurity(t, cert)), node.events(),
                node.control(), node.writer(), node.metrics().registry())).orElse(null);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            LOG.info("node " + regionName + ": shutting down");
            if (kafka != null) {
                kafka.close();
            }
            renewer.close();
            node.close();
            coordinator.close();
            stopped.countDown();
        }, "node-shutdown"));
        stopped.await();
    }

    private static PeriodicSigner signer(IssuedCert cert) {
        return new PeriodicSigner(cert, CHECKPOINT_INTERVAL_MS, System::nanoTime);
    }
}
