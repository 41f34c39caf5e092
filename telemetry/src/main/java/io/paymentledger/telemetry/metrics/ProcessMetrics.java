package io.paymentledger.telemetry.metrics;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.paymentledger.security.identity.Identities;
import io.paymentledger.security.identity.Principal;
import io.paymentledger.security.pki.IssuedCert;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * The metrics of one process (ledger node, region router): a Micrometer registry in Prometheus' format, every meter
 * labelled with the process's name, served at {@value #PATH} on the process's own mutual-TLS port to the deployment's
 * Prometheus and the operator only.
 *
 * <pre>{@code
 * ProcessMetrics metrics = new ProcessMetrics("node-a");
 * metrics.certificateExpiry(() -> renewer.current(), caCert);
 * server.requestHandler(req -> { if (!metrics.handle(req, r -> ProcessMetrics.peerMayRead(r, trustDomain))) grpc.handle(req); });
 * }</pre>
 */
public final class ProcessMetrics {

    public static final String PATH = "/metrics";
    /** Prometheus' text exposition format, the one {@link PrometheusMeterRegistry#scrape()} writes. */
    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private final PrometheusMeterRegistry registry;
    private volatile Runnable beforeScrape = () -> { };

    /**
     * @param process   the {@code process} label of every meter (node-a, router): a name from the topology, never input
     * @param moreTags  further labels of every meter, as key, value pairs (e.g. "region", "a")
     */
    public ProcessMetrics(String process, String... moreTags) {
        this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        registry.config().commonTags("process", process).commonTags(moreTags);
        // The JVM underneath: heap, threads, CPU (what a slow process shows first). Not GC pauses: that binder keeps
        // listeners that outlive a registry, and tests start many nodes in one JVM.
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
    }

    /** Runs before every scrape: gauges that read one snapshot of a status refresh it here, once per scrape. */
    public void beforeScrape(Runnable refresh) {
        this.beforeScrape = refresh;
    }

    public MeterRegistry registry() {
        return registry;
    }

    /** What Prometheus reads. */
    public String scrape() {
        beforeScrape.run();
        return registry.scrape();
    }

    /**
     * {@code ledger_certificate_expiry_timestamp_seconds{certificate}}: when this process's own certificate (as
     * renewed, read at every scrape) and the CA's expire. The LedgerCertificateExpiring alert watches it.
     */
    public void certificateExpiry(Supplier<IssuedCert> service, java.security.cert.X509Certificate ca) {
        // Strong references: Micrometer holds a gauge's object weakly, and a method reference passed here is held by
        // nothing else (the gauge would read NaN after the next GC).
        Gauge.builder("ledger_certificate_expiry_timestamp_seconds", service, s -> s.get().notAfter().getEpochSecond())
                .description("when the certificate expires (Unix time)").tag("certificate", "service").strongReference(true).register(registry);
        Gauge.builder("ledger_certificate_expiry_timestamp_seconds", ca, c -> c.getNotAfter().toInstant().getEpochSecond())
                .description("when the certificate expires (Unix time)").tag("certificate", "ca").strongReference(true).register(registry);
    }

    /**
     * Answers {@code GET /metrics} (true) or leaves the request alone (false: it is a gRPC call). {@code mayRead}
     * decides who may read ({@link #peerMayRead} on every TLS port of the deployment).
     */
    public boolean handle(HttpServerRequest req, Predicate<HttpServerRequest> mayRead) {
        if (req.method() != HttpMethod.GET || !PATH.equals(req.path())) {
            return false;
        }
        if (!mayRead.test(req)) {
            req.response().setStatusCode(403).putHeader("content-type", "text/plain; charset=utf-8")
                    .end("metrics are served to the deployment's Prometheus and the operator only (client certificate"
                            + " spiffe://<trust domain>/prometheus or /operator)\n");
            return true;
        }
        req.response().putHeader("content-type", CONTENT_TYPE).end(scrape());
        return true;
    }

    /**
     * The rule on a mutual-TLS port: the deployment's Prometheus and the operator may read metrics; a merchant or another
     * service learns nothing about the deployment from them.
     */
    public static boolean peerMayRead(HttpServerRequest req, String trustDomain) {
        Optional<Principal> peer = Identities.fromPeer(req.connection(), trustDomain);
        return peer.isPresent() && mayRead(peer.get());
    }

    /** Who may read metrics: the one rule, for every process. */
    public static boolean mayRead(Principal p) {
        return p instanceof Principal.Prometheus || p instanceof Principal.Operator;
    }
}
