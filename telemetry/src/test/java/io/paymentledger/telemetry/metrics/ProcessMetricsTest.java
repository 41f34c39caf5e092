package io.paymentledger.telemetry.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.security.identity.Principal;
import io.paymentledger.security.pki.IssuedCert;
import io.paymentledger.security.pki.Pki;
import io.vertx.grpc.common.GrpcStatus;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProcessMetricsTest {

    @TempDir
    Path dir;

    /** The expiry of the certificate a process serves now (after a renewal too), still there after a GC. */
    @Test
    void certificateExpiryFollowsRenewalsAndSurvivesGarbageCollection() {
        Pki pki = Pki.init(dir.resolve("pki"), "ledger.local");
        AtomicReference<IssuedCert> current = new AtomicReference<>(pki.issueService("node-a", "a", "ledger", Duration.ofHours(24)));
        ProcessMetrics metrics = new ProcessMetrics("node-a", "region", "a");
        metrics.certificateExpiry(current::get, pki.caCertificate());
        System.gc();
        String first = metrics.scrape();
        assertThat(first).contains("ledger_certificate_expiry_timestamp_seconds{certificate=\"service\",process=\"node-a\",region=\"a\"} "
                + format(current.get().notAfter().getEpochSecond()));
        current.set(pki.issueService("node-a", "a", "ledger", Duration.ofHours(48)));
        assertThat(metrics.scrape()).contains("{certificate=\"service\",process=\"node-a\",region=\"a\"} "
                + format(current.get().notAfter().getEpochSecond()));
        assertThat(first).contains("{certificate=\"ca\",process=\"node-a\",region=\"a\"} "
                + format(pki.caCertificate().getNotAfter().toInstant().getEpochSecond()));
    }

    /** The exposition format writes gauge values as Java doubles, e.g. 2.11121583E9. */
    private static String format(long seconds) {
        return Double.toString(seconds);
    }

    @Test
    void onlyPrometheusAndTheOperatorMayReadMetrics() {
        assertThat(ProcessMetrics.mayRead(new Principal.Prometheus())).isTrue();
        assertThat(ProcessMetrics.mayRead(new Principal.Operator())).isTrue();
        assertThat(ProcessMetrics.mayRead(new Principal.Merchant("shop-1"))).isFalse();
        assertThat(ProcessMetrics.mayRead(new Principal.Service("a", "router"))).isFalse();
    }

    @Test
    void callsAreCountedByMethodAndStatusWithTheirLatency() {
        ProcessMetrics metrics = new ProcessMetrics("router");
        RequestMetrics requests = new RequestMetrics(metrics.registry(), "ledger_router_request", "calls");
        RequestMetrics.Method m = requests.method("ledger.v1.LedgerService/CreateTransfers");
        m.record(GrpcStatus.OK, System.nanoTime() - 3_000_000);
        m.record(GrpcStatus.OK, System.nanoTime());
        m.record(GrpcStatus.UNAVAILABLE, System.nanoTime());
        String text = metrics.scrape();
        String labels = "method=\"ledger.v1.LedgerService/CreateTransfers\",process=\"router\"";
        assertThat(text).contains("ledger_router_request_seconds_count{" + labels + ",status=\"OK\"} 2",
                "ledger_router_request_seconds_count{" + labels + ",status=\"UNAVAILABLE\"} 1",
                // the 3 ms call is above the 2 ms bound, below the 5 ms one
                "ledger_router_request_seconds_bucket{" + labels + ",status=\"OK\",le=\"0.002\"} 1",
                "ledger_router_request_seconds_bucket{" + labels + ",status=\"OK\",le=\"0.005\"} 2");
    }
}
