package io.paymentledger.security.pki;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.regex.Pattern;

import io.paymentledger.security.identity.Principal;

/**
 * What {@link Pki#issue(CertRequest)} should put in a leaf certificate.
 *
 * @param name        file stem: the certificate goes to {@code <name>.crt}, its key to {@code <name>.key}
 *                    (letters, digits, '.', '_', '-'; not {@code ca})
 * @param spiffePath  the SPIFFE path without the trust domain, e.g. {@code region/eu/ledger}; the URI SAN
 *                    becomes {@code spiffe://<trust-domain>/<spiffePath>}; a {@code merchant/<id>} path must name a
 *                    merchant id ({@link Principal#requireMerchantId}: no reserved name such as {@code operator})
 * @param dnsNames    DNS subjectAlternativeNames (may be empty)
 * @param ipAddresses IP subjectAlternativeNames (may be empty)
 * @param serverAuth  put the serverAuth extended key usage
 * @param clientAuth  put the clientAuth extended key usage
 * @param validity    how long the certificate is valid, counted from {@code notBefore}
 * @param notBefore   start of validity; {@code null} means "now" by the PKI's clock
 */
public record CertRequest(String name, String spiffePath, List<String> dnsNames, List<String> ipAddresses,
                          boolean serverAuth, boolean clientAuth, Duration validity, Instant notBefore) {

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,99}");
    private static final String MERCHANT_PREFIX = "merchant/";

    /** DNS SAN given to service certificates unless told otherwise. */
    public static final List<String> DEFAULT_DNS = List.of("localhost");
    /** IP SAN given to service certificates unless told otherwise. */
    public static final List<String> DEFAULT_IPS = List.of("127.0.0.1");

    public CertRequest {
        if (name == null || !NAME.matcher(name).matches() || name.equals("ca")) {
            throw new IllegalArgumentException("invalid certificate name: " + name);
        }
        if (spiffePath == null || spiffePath.isEmpty() || spiffePath.startsWith("/")) {
            throw new IllegalArgumentException("spiffePath must be relative, e.g. region/eu/ledger: " + spiffePath);
        }
        if (spiffePath.startsWith(MERCHANT_PREFIX)) {
            // Every issuer (Pki, VaultPki) mints through a CertRequest: one check for every merchant certificate.
            Principal.requireMerchantId(spiffePath.substring(MERCHANT_PREFIX.length()));
        }
        dnsNames = List.copyOf(dnsNames == null ? List.of() : dnsNames);
        ipAddresses = List.copyOf(ipAddresses == null ? List.of() : ipAddresses);
        if (!serverAuth && !clientAuth) {
            throw new IllegalArgumentException("a certificate needs serverAuth or clientAuth");
        }
        if (validity == null || validity.isNegative() || validity.isZero()) {
            throw new IllegalArgumentException("validity must be positive: " + validity);
        }
    }

    /** A service certificate (serverAuth + clientAuth) with {@code localhost} / {@code 127.0.0.1} SANs. */
    public static CertRequest service(String name, String spiffePath, Duration validity) {
        return new CertRequest(name, spiffePath, DEFAULT_DNS, DEFAULT_IPS, true, true, validity, null);
    }

    /** A client-only certificate (clientAuth), no DNS/IP SANs. */
    public static CertRequest client(String name, String spiffePath, Duration validity) {
        return new CertRequest(name, spiffePath, List.of(), List.of(), false, true, validity, null);
    }

    public CertRequest withDnsNames(List<String> dns) {
        return new CertRequest(name, spiffePath, dns, ipAddresses, serverAuth, clientAuth, validity, notBefore);
    }

    public CertRequest withIpAddresses(List<String> ips) {
        return new CertRequest(name, spiffePath, dnsNames, ips, serverAuth, clientAuth, validity, notBefore);
    }

    /** Back-dates or post-dates the validity start (tests use it to make expired certificates). */
    public CertRequest withNotBefore(Instant start) {
        return new CertRequest(name, spiffePath, dnsNames, ipAddresses, serverAuth, clientAuth, validity, start);
    }

    public CertRequest withName(String newName) {
        return new CertRequest(newName, spiffePath, dnsNames, ipAddresses, serverAuth, clientAuth, validity, notBefore);
    }
}
