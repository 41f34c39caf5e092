package io.paymentledger.security.pki;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.vertx.core.Vertx;

/**
 * Keeps a certificate fresh: when less than a third of its validity remains, reissues the same identity
 * (through a {@link Reissuer}: {@link Pki#reissue} or {@code VaultPki#reissue}) and hands the new
 * {@link IssuedCert} to a callback, which typically reloads the TLS material of running servers and clients:
 * <pre>{@code
 * CertificateRenewer.forPki(pki, cert, Clock.systemUTC(), c ->
 *         server.updateSSLOptions(Tls.serverSslOptions(c.certFile(), c.keyFile(), pki.caCertFile(), pki.crlFile(), ClientAuth.REQUIRED)))
 *     .start(vertx, Duration.ofMinutes(1));
 * }</pre>
 * The callback runs on the thread that performed the check (a Vert.x worker thread with {@link #start(Vertx, Duration)}).
 */
public final class CertificateRenewer implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(CertificateRenewer.class.getName());

    /** Issues a replacement for a certificate, with the same identity. */
    @FunctionalInterface
    public interface Reissuer {
        IssuedCert reissue(IssuedCert current) throws Exception;
    }

    private final Reissuer reissuer;
    private final Clock clock;
    private final Consumer<IssuedCert> onRenewed;
    private volatile IssuedCert current;
    private volatile Runnable cancel = () -> {};

    public CertificateRenewer(IssuedCert current, Reissuer reissuer, Clock clock, Consumer<IssuedCert> onRenewed) {
        this.current = Objects.requireNonNull(current, "current");
        this.reissuer = Objects.requireNonNull(reissuer, "reissuer");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.onRenewed = Objects.requireNonNull(onRenewed, "onRenewed");
    }

    /** A renewer that reissues from a file {@link Pki}. */
    public static CertificateRenewer forPki(Pki pki, IssuedCert current, Clock clock, Consumer<IssuedCert> onRenewed) {
        return new CertificateRenewer(current, pki::reissue, clock, onRenewed);
    }

    /** True when less than a third of the certificate's validity remains at {@code now} (or it has expired). */
    public static boolean renewalDue(IssuedCert cert, Instant now) {
        Duration total = cert.validity();
        Duration remaining = Duration.between(now, cert.notAfter());
        return remaining.compareTo(total.dividedBy(3)) < 0;
    }

    /** The certificate in use (the latest one issued by this renewer). */
    public IssuedCert current() {
        return current;
    }

    /**
     * Checks now and renews if due. Returns true when a new certificate was issued (and the callback ran).
     * Exceptions from the reissuer propagate; the current certificate stays in place.
     */
    public synchronized boolean checkNow() throws Exception {
        if (!renewalDue(current, clock.instant())) {
            return false;
        }
        IssuedCert old = current;
        IssuedCert renewed = reissuer.reissue(old);
        current = renewed;
        LOG.info(() -> "renewed " + renewed.identity() + ": serial " + old.serial().toString(16) + " -> "
                + renewed.serial().toString(16) + ", valid until " + renewed.notAfter());
        onRenewed.accept(renewed);
        return true;
    }

    /** Checks every {@code period} on a Vert.x timer; the check itself runs on a worker thread. */
    public CertificateRenewer start(Vertx vertx, Duration period) {
        long id = vertx.setPeriodic(period.toMillis(), t -> vertx.executeBlocking(() -> checkNow(), false)
                .onFailure(e -> LOG.log(Level.WARNING, "certificate renewal of " + current.identity() + " failed; will retry", e)));
        cancel = () -> vertx.cancelTimer(id);
        return this;
    }

    /** Checks every {@code period} on a scheduled executor (first check immediately). */
    public CertificateRenewer start(ScheduledExecutorService executor, Duration period) {
        ScheduledFuture<?> f = executor.scheduleWithFixedDelay(() -> {
            try {
                checkNow();
            } catch (Exception e) {
                LOG.log(Level.WARNING, "certificate renewal of " + current.identity() + " failed; will retry", e);
            }
        }, 0, period.toMillis(), TimeUnit.MILLISECONDS);
        cancel = () -> f.cancel(false);
        return this;
    }

    /** Stops the periodic check. */
    @Override
    public void close() {
        cancel.run();
    }
}
