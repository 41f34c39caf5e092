package io.paymentledger.security.tls;

import java.nio.file.Path;
import java.util.Properties;

/**
 * An {@code sslfactory} for pgjdbc that reads the PKI's PEM files (pgjdbc's own factory wants a DER or
 * PKCS#12 key) and speaks TLS 1.3 only:
 * <pre>
 * jdbc:postgresql://db:5432/ledger?sslmode=verify-full
 *     &amp;sslfactory=io.paymentledger.security.tls.PgSslSocketFactory
 *     &amp;sslcert=/etc/ledger/pki/ledger-eu.crt&amp;sslkey=/etc/ledger/pki/ledger-eu.key&amp;sslrootcert=/etc/ledger/pki/ca.crt
 * </pre>
 * pgjdbc calls the {@link Properties} constructor with the connection properties. {@code sslrootcert} is
 * required; {@code sslcert}/{@code sslkey} are optional (without them no client certificate is sent).
 * pgjdbc still performs its own host name check for {@code sslmode=verify-full}.
 */
public class PgSslSocketFactory extends SslContexts.Tls13SocketFactory {

    public PgSslSocketFactory(Properties info) {
        super(SslContexts.create(path(info, "sslcert"), path(info, "sslkey"), required(info, "sslrootcert")).getSocketFactory());
    }

    private static Path path(Properties info, String key) {
        String v = info.getProperty(key);
        return v == null || v.isBlank() ? null : Path.of(v);
    }

    private static Path required(Properties info, String key) {
        Path p = path(info, key);
        if (p == null) {
            throw new IllegalArgumentException("PgSslSocketFactory needs the connection property " + key);
        }
        return p;
    }
}
