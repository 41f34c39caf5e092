package io.paymentledger.ledger.journal;

import io.paymentledger.security.identity.Identities;
import io.paymentledger.security.journal.JournalSigner;
import io.paymentledger.security.pki.IssuedCert;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * Signs a checkpoint at most once per {@code intervalMs} (the first batch after the interval gets it), with the
 * key of one certificate; every checkpoint carries that certificate (DER), its SPIFFE ID as the signer.
 */
public final class PeriodicSigner implements CheckpointSigner {

    private final JournalSigner signer;
    private final String identity;
    private final byte[] certificate;
    private final long intervalNanos;
    private final LongSupplier nanoClock;
    private long lastNanos;
    private boolean first = true;

    /** Signs with the key pair of {@code cert} (reads its key file now). */
    public PeriodicSigner(IssuedCert cert, long intervalMs, LongSupplier nanoClock) {
        this(JournalSigner.of(cert), cert.cert(), intervalMs, nanoClock);
    }

    /**
     * Signs with {@code signer}, whose public key must be {@code certificate}'s; the signer identity is the
     * certificate's one SPIFFE ID.
     */
    public PeriodicSigner(JournalSigner signer, X509Certificate certificate, long intervalMs, LongSupplier nanoClock) {
        List<String> ids = Identities.spiffeIds(certificate);
        if (ids.size() != 1) {
            throw new IllegalArgumentException("the signer's certificate names " + ids.size() + " SPIFFE IDs, not exactly one");
        }
        if (!Arrays.equals(signer.publicKey(), certificate.getPublicKey().getEncoded())) {
            throw new IllegalArgumentException("the signing key is not the key of the certificate of " + ids.get(0));
        }
        try {
            this.certificate = certificate.getEncoded();
        } catch (CertificateEncodingException e) {
            throw new IllegalArgumentException("cannot encode the signer's certificate: " + e.getMessage(), e);
        }
        this.signer = signer;
        this.identity = ids.get(0);
        this.intervalNanos = intervalMs * 1_000_000L;
        this.nanoClock = nanoClock;
    }

    @Override
    public Checkpoint sign(long seq, byte[] hash) {
        long now = nanoClock.getAsLong();
        if (!first && now - lastNanos < intervalNanos) {
            return null;
        }
        first = false;
        lastNanos = now;
        var s = signer.sign(hash);
        return new Checkpoint(identity, s.algorithm(), s.publicKey(), s.signature(), certificate.clone());
    }
}
