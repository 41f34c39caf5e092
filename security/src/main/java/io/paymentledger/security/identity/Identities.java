package io.paymentledger.security.identity;

import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.net.ssl.SSLPeerUnverifiedException;

import io.vertx.core.http.HttpConnection;

/**
 * Maps certificates to {@link Principal}s. A certificate names exactly one SPIFFE ID in its URI
 * subjectAlternativeName; certificates with none, with several, with one from another trust domain or with a
 * path that is not one of the {@link Principal} forms have no principal.
 * <p>
 * These methods only read names. They trust that the certificate was verified by the TLS layer (the servers
 * built with {@code Tls.serverOptions} verify the chain, validity and CRL before any request is seen).
 */
public final class Identities {

    /**
     * Response header a ledger node sets to the merchant it identified the call as. The region router reads it to
     * learn, from a node that verified an API key, whose key it was (the key of the per-merchant limit).
     */
    public static final String CALLER_HEADER = "x-ledger-merchant";

    private static final Pattern TRUST_DOMAIN = Pattern.compile("[a-z0-9][a-z0-9._-]{0,249}");
    private static final Pattern SPIFFE = Pattern.compile("spiffe://([^/?#]+)((?:/[^/?#]+)+)");
    private static final int SAN_URI = 6;

    private Identities() {}

    /** The principal named by the certificate's SPIFFE URI SAN, or empty (see the class comment). */
    public static Optional<Principal> fromCertificate(X509Certificate cert, String trustDomain) {
        List<String> ids = spiffeIds(cert);
        if (ids.size() != 1) {
            return Optional.empty();
        }
        return parse(ids.get(0), trustDomain);
    }

    /**
     * The principal of the TLS peer of a Vert.x HTTP connection (server or client side), or empty when the
     * connection is not TLS, the peer sent no certificate, or the certificate names no principal of this
     * trust domain. Uses {@link HttpConnection#peerCertificates()}: the first element is the peer's leaf.
     */
    public static Optional<Principal> fromPeer(HttpConnection connection, String trustDomain) {
        if (connection == null || !connection.isSsl()) {
            return Optional.empty();
        }
        List<Certificate> chain;
        try {
            chain = connection.peerCertificates();
        } catch (SSLPeerUnverifiedException e) {
            return Optional.empty();
        }
        if (chain == null || chain.isEmpty() || !(chain.get(0) instanceof X509Certificate leaf)) {
            return Optional.empty();
        }
        return fromCertificate(leaf, trustDomain);
    }

    /** Parses a SPIFFE ID of {@code trustDomain} into a principal; empty for other domains or unknown paths. */
    public static Optional<Principal> parse(String spiffeId, String trustDomain) {
        requireTrustDomain(trustDomain);
        if (spiffeId == null) {
            return Optional.empty();
        }
        Matcher m = SPIFFE.matcher(spiffeId);
        if (!m.matches() || !m.group(1).equals(trustDomain)) {
            return Optional.empty();
        }
        String[] seg = m.group(2).substring(1).split("/");
        try {
            if (seg.length == 1 && seg[0].equals("operator")) {
                return Optional.of(new Principal.Operator());
            }
            if (seg.length == 1 && seg[0].equals("prometheus")) {
                return Optional.of(new Principal.Prometheus());
            }
            if (seg.length == 2 && seg[0].equals("merchant")) {
                return Optional.of(new Principal.Merchant(seg[1]));
            }
            if (seg.length == 3 && seg[0].equals("region")) {
                return Optional.of(new Principal.Service(seg[1], seg[2]));
            }
        } catch (IllegalArgumentException invalidSegment) {
            return Optional.empty();
        }
        return Optional.empty();
    }

    /** Every {@code spiffe://} URI SAN of a certificate (normally exactly one). */
    public static List<String> spiffeIds(X509Certificate cert) {
        List<String> out = new ArrayList<>();
        Collection<List<?>> sans;
        try {
            sans = cert.getSubjectAlternativeNames();
        } catch (CertificateParsingException e) {
            return out;
        }
        if (sans == null) {
            return out;
        }
        for (List<?> san : sans) {
            if (san.size() >= 2 && Integer.valueOf(SAN_URI).equals(san.get(0)) && san.get(1) instanceof String uri
                    && uri.toLowerCase(Locale.ROOT).startsWith("spiffe://")) {
                out.add(uri);
            }
        }
        return out;
    }

    /** Checks a SPIFFE trust domain name (lower-case letters, digits, '.', '-', '_') and returns it. */
    public static String requireTrustDomain(String trustDomain) {
        if (trustDomain == null || !TRUST_DOMAIN.matcher(trustDomain).matches()) {
            throw new IllegalArgumentException("invalid trust domain (lower-case letters, digits, '.', '-', '_'): " + trustDomain);
        }
        return trustDomain;
    }
}
