package io.paymentledger.security.pki;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.paymentledger.security.testing.MutableClock;

class CertificateRenewerTest {

    @TempDir
    Path dir;

    @Test
    void renewsOnlyWhenLessThanAThirdOfTheValidityRemains() throws Exception {
        MutableClock clock = new MutableClock(Instant.parse("2030-01-01T00:00:00Z"));
        Pki pki = Pki.init(dir, "ledger.test", clock);
        IssuedCert first = pki.issueService("ledger-a", "eu", "ledger", Duration.ofDays(90));
        List<IssuedCert> renewed = new CopyOnWriteArrayList<>();
        CertificateRenewer renewer = CertificateRenewer.forPki(pki, first, clock, renewed::add);

        assertThat(renewer.checkNow()).isFalse();
        clock.advance(Duration.ofDays(59)); // 31 days left > 30
        assertThat(renewer.checkNow()).isFalse();
        assertThat(renewed).isEmpty();

        clock.advance(Duration.ofDays(2)); // 29 days left < 30
        assertThat(renewer.checkNow()).isTrue();
        assertThat(renewed).hasSize(1);
        IssuedCert second = renewed.get(0);
        assertThat(renewer.current()).isEqualTo(second);
        assertThat(second.identity()).isEqualTo(first.identity());
        assertThat(second.serial()).isNotEqualTo(first.serial());
        assertThat(second.notAfter()).isEqualTo(clock.instant().minus(Pki.BACKDATE).plus(Duration.ofDays(90)));
        second.cert().verify(pki.caPublicKey());
        assertThat(Pem.readCertificate(first.certFile())).as("same file, new content").isEqualTo(second.cert());

        assertThat(renewer.checkNow()).as("fresh certificate is not renewed again").isFalse();
        assertThat(renewed).hasSize(1);
    }

    @Test
    void aFailedReissueKeepsTheCurrentCertificateAndNoCallbackRuns() throws Exception {
        MutableClock clock = new MutableClock(Instant.parse("2030-01-01T00:00:00Z"));
        Pki pki = Pki.init(dir, "ledger.test", clock);
        IssuedCert cert = pki.issueService("ledger-b", "eu", "ledger", Duration.ofDays(3));
        List<IssuedCert> renewed = new CopyOnWriteArrayList<>();
        CertificateRenewer renewer = new CertificateRenewer(cert, c -> {
            throw new IllegalStateException("vault down");
        }, clock, renewed::add);
        clock.advance(Duration.ofDays(2).plusHours(1));
        assertThatThrownBy(renewer::checkNow).hasMessage("vault down");
        assertThat(renewer.current()).isEqualTo(cert);
        assertThat(renewed).isEmpty();
    }

    @Test
    void scheduledExecutorChecksPeriodically() throws Exception {
        Pki pki = Pki.init(dir, "ledger.test");
        // Issued 50 minutes ago for one hour: 10 minutes left, less than a third.
        IssuedCert due = pki.issue(CertRequest.service("agent-1", "region/eu/agent", Duration.ofHours(1))
                .withNotBefore(Instant.now().minus(Duration.ofMinutes(50))));
        CompletableFuture<IssuedCert> got = new CompletableFuture<>();
        ScheduledExecutorService ses = Executors.newSingleThreadScheduledExecutor();
        try (CertificateRenewer r = CertificateRenewer.forPki(pki, due, java.time.Clock.systemUTC(), got::complete)
                .start(ses, Duration.ofMillis(50))) {
            IssuedCert fresh = got.get(10, TimeUnit.SECONDS);
            assertThat(fresh.serial()).isNotEqualTo(due.serial());
            assertThat(CertificateRenewer.renewalDue(fresh, Instant.now())).isFalse();
            assertThat(r.current()).isEqualTo(fresh);
        } finally {
            ses.shutdownNow();
        }
    }
}
