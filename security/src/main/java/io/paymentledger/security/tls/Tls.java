package io.paymentledger.security.tls;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Set;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.net.ClientSSLOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.core.net.ServerSSLOptions;

/**
 * Vert.x 5 TLS options for the ledger's gRPC (HTTP/2) servers and clients: TLS 1.3 only, ALPN, PEM
 * certificate + PKCS#8 key, the PKI's CA as the only trust anchor, and (servers) the PKI's CRL.
 * <p>
 * The files are read when the options are built and passed to Vert.x as <em>values</em>, not paths. Vert.x
 * caches SSL contexts by options, and with paths a renewed certificate or a new CRL at the same path would
 * not be picked up; with values, {@code server.updateSSLOptions(Tls.serverSslOptions(...))} reloads whatever is
 * on disk now. Build new options after every renewal or revocation.
 */
public final class Tls {

    /** The only protocol enabled. */
    public static final String TLS_1_3 = "TLSv1.3";

    private Tls() {}

    /**
     * The TLS engine of every server and client built here: OpenSSL (BoringSSL, from netty-tcnative) when its native
     * library loads, else the JDK's. Same protocols, keys, trust and CRL checks (Vert.x drives both through the same
     * key and trust managers); BoringSSL costs a fraction of the JDK engine's CPU per record, which on a gRPC call is
     * the largest single cost (AES-GCM and the record layer, both ways, at every hop).
     */
    public static io.vertx.core.net.SSLEngineOptions engine() {
        return io.vertx.core.net.OpenSSLEngineOptions.isAvailable() ? new io.vertx.core.net.OpenSSLEngineOptions()
                : new io.vertx.core.net.JdkSSLEngineOptions();
    }

    /**
     * HTTP/2 + HTTP/1.1 server options with TLS 1.3 only.
     *
     * @param crlFile    CRL (PEM) checked against client certificates; ignored when {@code null} or absent
     * @param clientAuth {@link ClientAuth#REQUIRED} for mTLS
     */
    public static HttpServerOptions serverOptions(Path certFile, Path keyFile, Path caFile, Path crlFile, ClientAuth clientAuth) {
        HttpServerOptions o = new HttpServerOptions()
                .setSsl(true)
                .setUseAlpn(true)
                .setAlpnVersions(List.of(HttpVersion.HTTP_2, HttpVersion.HTTP_1_1))
                .setEnabledSecureTransportProtocols(Set.of(TLS_1_3))
                .setKeyCertOptions(keyCert(certFile, keyFile))
                .setTrustOptions(trust(caFile))
                .setClientAuth(Objects.requireNonNull(clientAuth, "clientAuth"));
        o.setSslEngineOptions(engine());
        Buffer crl = crl(crlFile);
        if (crl != null) {
            o.addCrlValue(crl);
        }
        return o;
    }

    /** The same settings as {@link #serverOptions} as {@link ServerSSLOptions}, for {@code HttpServer.updateSSLOptions}. */
    public static ServerSSLOptions serverSslOptions(Path certFile, Path keyFile, Path caFile, Path crlFile, ClientAuth clientAuth) {
        ServerSSLOptions o = new ServerSSLOptions()
                .setUseAlpn(true)
                .setEnabledSecureTransportProtocols(Set.of(TLS_1_3))
                .setKeyCertOptions(keyCert(certFile, keyFile))
                .setTrustOptions(trust(caFile))
                .setClientAuth(Objects.requireNonNull(clientAuth, "clientAuth"));
        Buffer crl = crl(crlFile);
        if (crl != null) {
            o.addCrlValue(crl);
        }
        return o;
    }

    /**
     * Client options for gRPC over HTTP/2: TLS 1.3 only, ALPN, host name verification on, client certificate
     * from {@code certFile}/{@code keyFile} (both {@code null} for a client without a certificate).
     */
    public static HttpClientOptions clientOptions(Path certFile, Path keyFile, Path caFile) {
        HttpClientOptions o = new HttpClientOptions()
                .setSsl(true)
                .setUseAlpn(true)
                .setProtocolVersion(HttpVersion.HTTP_2)
                .setHttp2ClearTextUpgrade(false)
                .setVerifyHost(true)
                .setEnabledSecureTransportProtocols(Set.of(TLS_1_3))
                .setTrustOptions(trust(caFile));
        o.setSslEngineOptions(engine());
        if (certFile != null || keyFile != null) {
            o.setKeyCertOptions(keyCert(certFile, keyFile));
        }
        return o;
    }

    /** The same settings as {@link #clientOptions} as {@link ClientSSLOptions}, for {@code HttpClientAgent.updateSSLOptions}. */
    public static ClientSSLOptions clientSslOptions(Path certFile, Path keyFile, Path caFile) {
        ClientSSLOptions o = new ClientSSLOptions()
                .setUseAlpn(true)
                .setHostnameVerificationAlgorithm("HTTPS")
                .setEnabledSecureTransportProtocols(Set.of(TLS_1_3))
                .setTrustOptions(trust(caFile));
        if (certFile != null || keyFile != null) {
            o.setKeyCertOptions(keyCert(certFile, keyFile));
        }
        return o;
    }

    private static PemKeyCertOptions keyCert(Path certFile, Path keyFile) {
        Objects.requireNonNull(certFile, "certFile");
        Objects.requireNonNull(keyFile, "keyFile");
        return new PemKeyCertOptions().setCertValue(read(certFile)).setKeyValue(read(keyFile));
    }

    private static PemTrustOptions trust(Path caFile) {
        return new PemTrustOptions().addCertValue(read(Objects.requireNonNull(caFile, "caFile")));
    }

    private static Buffer crl(Path crlFile) {
        return crlFile != null && Files.exists(crlFile) ? read(crlFile) : null;
    }

    private static Buffer read(Path file) {
        try {
            return Buffer.buffer(Files.readAllBytes(file));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }
}
