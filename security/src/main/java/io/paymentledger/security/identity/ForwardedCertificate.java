package io.paymentledger.security.identity;

import io.vertx.core.http.HttpConnection;
import java.io.ByteArrayInputStream;
import java.security.GeneralSecurityException;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLPeerUnverifiedException;

/**
 * The operator's own certificate, carried from the region router to a node in {@value #OPERATOR_HEADER}. The router
 * verified it in its TLS handshake with the operator (CA and CRL); the node checks again that it is the operator's,
 * issued by the deployment's CA and valid now. The operator role is proved by this certificate, never by a name in a
 * header: {@code x-merchant-id} only ever carries a merchant. Which peer may send the header at all is the node's
 * business (the router's certificate only).
 */
public final class ForwardedCertificate {

    /** Base64 of the DER of the operator's certificate; the router removes a client's own. */
    public static final String OPERATOR_HEADER = "x-ledger-operator-certificate";
    /** A longer value is refused unread (a P-256 leaf of this PKI is about 700 bytes of DER). */
    public static final int MAX_HEADER_CHARS = 8192;

    private ForwardedCertificate() {}

    /** The TLS peer's leaf certificate, encoded for {@link #OPERATOR_HEADER}; empty without one. */
    public static Optional<String> ofPeer(HttpConnection connection) {
        try {
            List<Certificate> chain = connection.peerCertificates();
            if (chain == null || chain.isEmpty() || !(chain.get(0) instanceof X509Certificate leaf)) {
                return Optional.empty();
            }
            return Optional.of(Base64.getEncoder().encodeToString(leaf.getEncoded()));
        } catch (SSLPeerUnverifiedException | java.security.cert.CertificateEncodingException e) {
            return Optional.empty();
        }
    }

    /**
     * The principal of a forwarded certificate, when it is a well-formed X.509 certificate signed by {@code ca},
     * valid at {@code now}, and naming a principal of {@code trustDomain}; empty otherwise. Pure computation, no I/O.
     */
    public static Optional<Principal> verify(String header, X509Certificate ca, String trustDomain, Instant now) {
        if (header == null || header.isEmpty() || header.length() > MAX_HEADER_CHARS || ca == null) {
            return Optional.empty();
        }
        try {
            byte[] der = Base64.getDecoder().decode(header);
            Certificate c = CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(der));
            if (!(c instanceof X509Certificate cert) || !cert.getIssuerX500Principal().equals(ca.getSubjectX500Principal())) {
                return Optional.empty();
            }
            cert.verify(ca.getPublicKey());
            cert.checkValidity(Date.from(now));
            return Identities.fromCertificate(cert, trustDomain);
        } catch (IllegalArgumentException | GeneralSecurityException e) {
            return Optional.empty();
        }
    }
}
