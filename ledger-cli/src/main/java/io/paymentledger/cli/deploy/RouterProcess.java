package io.paymentledger.cli.deploy;

import io.paymentledger.router.RegionRouter;
import io.paymentledger.router.RouterConfig;
import io.paymentledger.router.limits.MerchantResolver;
import io.paymentledger.security.pki.CertificateRenewer;
import io.paymentledger.telemetry.metrics.ProcessMetrics;
import io.paymentledger.security.pki.IssuedCert;
import io.paymentledger.security.tls.Tls;
import io.vertx.core.Vertx;
import io.vertx.core.http.ClientAuth;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Logger;

/**
 * The region router of the local deployment (`ledger router`): the one address merchants use. Merchants
 * connect with TLS 1.3 and authenticate with a client certificate of the deployment's PKI or with an API key
 * (`authorization: Bearer ...`, checked by the ledger node); the router talks mutual TLS to the nodes with its
 * own certificate, which is what lets the nodes trust the merchant identity it forwards.
 */
public final class RouterProcess {

    private static final Logger LOG = Logger.getLogger(RouterProcess.class.getName());
    /** Where the router serves its status page (HTTPS on the merchants' port, to the operator certificate only). */
    public static final String STATUS_PAGE_PATH = io.paymentledger.router.page.StatusPage.PATH;

    private RouterProcess() {}

    public static RouterConfig config(Topology t, DeploymentSecurity security, IssuedCert cert) {
        // Merchants by certificate (verified here), or by API key: the node verifies the key, and only then does
        // the key get its merchant's budget (until then all unverified keys share one small budget).
        MerchantResolver resolver = MerchantResolver.certificateOrApiKey(security.trustDomain());
        RouterConfig.Builder b = RouterConfig.builder()
                .serverOptions(Tls.serverOptions(cert.certFile(), cert.keyFile(), security.caFile(), security.crlFile(),
                        ClientAuth.REQUEST).setHost("127.0.0.1").setPort(t.routerPort()))
                .upstreamClientOptions(Tls.clientOptions(cert.certFile(), cert.keyFile(), security.caFile()))
                .merchantResolver(resolver)
                .metricsReaders(req -> ProcessMetrics.peerMayRead(req, security.trustDomain()));
        for (Topology.Region r : t.regions().values()) {
            b.upstream(r.name(), t.host(r.name()), r.grpcPort());
        }
        return b.build();
    }

    public static void run(Topology t) throws InterruptedException {
        DeploymentSecurity security = DeploymentSecurity.open(t);
        IssuedCert cert = security.router();
        Vertx vertx = Vertx.vertx(new io.vertx.core.VertxOptions().setPreferNativeTransport(true));
        RouterConfig config = config(t, security, cert);
        RegionRouter router = RegionRouter.start(vertx, config);
        io.paymentledger.router.page.StatusPage.serve(router, security.trustDomain(), config.upstreamClientOptions());
        LOG.info(() -> "router: listening on 127.0.0.1:" + router.port() + " (TLS 1.3; merchants by certificate or API key);"
                + " status page for the operator certificate at https://127.0.0.1:" + router.port() + STATUS_PAGE_PATH);
        CertificateRenewer renewer = CertificateRenewer.forPki(security.pki(), cert, Clock.systemUTC(), renewed -> {
            router.updateServerSsl(Tls.serverSslOptions(renewed.certFile(), renewed.keyFile(), security.caFile(),
                    security.crlFile(), ClientAuth.REQUEST));
            LOG.warning(() -> "router: certificate renewed and served to new merchant connections; the connections to the"
                    + " nodes keep the previous one, valid until " + cert.notAfter() + ": restart the router before then");
        });
        renewer.start(vertx, Duration.ofMinutes(5));
        router.metrics().certificateExpiry(renewer::current, security.pki().caCertificate());
        CrlWatcher.watch(vertx, security.crlFile(), () -> router.updateServerSsl(Tls.serverSslOptions(renewer.current().certFile(),
                renewer.current().keyFile(), security.caFile(), security.crlFile(), ClientAuth.REQUEST)));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            renewer.close();
            router.close();
            vertx.close().await();
            stopped.countDown();
        }, "router-shutdown"));
        stopped.await();
    }
}
