package io.paymentledger.security.pki;

import java.math.BigInteger;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;

/**
 * A certificate and key pair on disk.
 *
 * @param certFile PEM certificate ({@code <name>.crt})
 * @param keyFile  PKCS#8 PEM private key ({@code <name>.key}, mode 0600)
 * @param cert     the parsed certificate
 * @param identity its SPIFFE ID, e.g. {@code spiffe://ledger.example/region/eu/ledger}
 */
public record IssuedCert(Path certFile, Path keyFile, X509Certificate cert, String identity) {

    public BigInteger serial() {
        return cert.getSerialNumber();
    }

    public Instant notBefore() {
        return cert.getNotBefore().toInstant();
    }

    public Instant notAfter() {
        return cert.getNotAfter().toInstant();
    }

    /** notAfter - notBefore. */
    public Duration validity() {
        return Duration.between(notBefore(), notAfter());
    }

    /** The file stem ({@code ledger-eu} for {@code ledger-eu.crt}). */
    public String name() {
        String f = certFile.getFileName().toString();
        return f.endsWith(".crt") ? f.substring(0, f.length() - 4) : f;
    }
}
