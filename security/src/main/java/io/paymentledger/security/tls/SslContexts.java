package io.paymentledger.security.tls;

import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

import io.paymentledger.security.pki.Pem;

/**
 * JDK {@link SSLContext}s from the PKI's PEM files, for clients that are not Vert.x: pgjdbc (see
 * {@link PgSslSocketFactory}), {@code java.net.http.HttpClient} (use {@link #tls13Parameters()}), and the
 * vault-java-driver, whose PEM mode accepts only RSA client keys: give it {@link #keyStore} and
 * {@link #trustStore} (its KeyStore mode), which work with EC keys.
 */
public final class SslContexts {

    private SslContexts() {}

    /**
     * An SSLContext trusting only {@code caFile}, presenting {@code certFile}/{@code keyFile} when both are
     * given (both {@code null}: no client certificate). The context itself would also negotiate TLS 1.2;
     * restrict sockets with {@link #tls13SocketFactory} or {@link #tls13Parameters()}.
     */
    public static SSLContext create(Path certFile, Path keyFile, Path caFile) {
        try {
            KeyManagerFactory kmf = null;
            if (certFile != null && keyFile != null) {
                char[] pw = new char[0];
                kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(keyStore(certFile, keyFile, pw), pw);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trustStore(caFile));
            SSLContext ctx = SSLContext.getInstance("TLSv1.3");
            ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot build SSLContext: " + e.getMessage(), e);
        }
    }

    /** SSLParameters with only TLS 1.3 enabled and HTTPS host name verification. */
    public static SSLParameters tls13Parameters() {
        SSLParameters p = new SSLParameters();
        p.setProtocols(new String[] {Tls.TLS_1_3});
        p.setEndpointIdentificationAlgorithm("HTTPS");
        return p;
    }

    /** A socket factory over {@code ctx} whose sockets enable TLS 1.3 only. */
    public static SSLSocketFactory tls13SocketFactory(SSLContext ctx) {
        return new Tls13SocketFactory(ctx.getSocketFactory());
    }

    /** An in-memory PKCS#12 key store holding the key and certificate chain of a PEM pair, under alias {@code key}. */
    public static KeyStore keyStore(Path certFile, Path keyFile, char[] password) {
        try {
            List<X509Certificate> chain = Pem.readCertificates(certFile);
            PrivateKey key = Pem.readPrivateKey(keyFile);
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("key", key, password, chain.toArray(X509Certificate[]::new));
            return ks;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot build key store from " + certFile + ": " + e.getMessage(), e);
        }
    }

    /** An in-memory PKCS#12 trust store holding every certificate of {@code caFile}. */
    public static KeyStore trustStore(Path caFile) {
        try {
            KeyStore ts = KeyStore.getInstance("PKCS12");
            ts.load(null, null);
            int i = 0;
            for (X509Certificate c : Pem.readCertificates(caFile)) {
                ts.setCertificateEntry("ca-" + i++, c);
            }
            return ts;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot build trust store from " + caFile + ": " + e.getMessage(), e);
        }
    }

    /** Delegating factory that restricts every socket to TLS 1.3. */
    static class Tls13SocketFactory extends SSLSocketFactory {
        private final SSLSocketFactory delegate;

        Tls13SocketFactory(SSLSocketFactory delegate) {
            this.delegate = delegate;
        }

        private Socket restrict(Socket s) {
            if (s instanceof SSLSocket ssl) {
                ssl.setEnabledProtocols(new String[] {Tls.TLS_1_3});
            }
            return s;
        }

        @Override
        public String[] getDefaultCipherSuites() {
            return delegate.getDefaultCipherSuites();
        }

        @Override
        public String[] getSupportedCipherSuites() {
            return delegate.getSupportedCipherSuites();
        }

        @Override
        public Socket createSocket(Socket s, String host, int port, boolean autoClose) throws IOException {
            return restrict(delegate.createSocket(s, host, port, autoClose));
        }

        @Override
        public Socket createSocket() throws IOException {
            return restrict(delegate.createSocket());
        }

        @Override
        public Socket createSocket(String host, int port) throws IOException {
            return restrict(delegate.createSocket(host, port));
        }

        @Override
        public Socket createSocket(String host, int port, InetAddress localHost, int localPort) throws IOException {
            return restrict(delegate.createSocket(host, port, localHost, localPort));
        }

        @Override
        public Socket createSocket(InetAddress host, int port) throws IOException {
            return restrict(delegate.createSocket(host, port));
        }

        @Override
        public Socket createSocket(InetAddress address, int port, InetAddress localAddress, int localPort) throws IOException {
            return restrict(delegate.createSocket(address, port, localAddress, localPort));
        }
    }
}
