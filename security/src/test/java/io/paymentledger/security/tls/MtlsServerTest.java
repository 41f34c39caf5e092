package io.paymentledger.security.tls;

import static io.paymentledger.security.testing.Await.await;
import static io.paymentledger.security.testing.Await.failure;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Properties;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import javax.net.ssl.SSLSocket;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.paymentledger.security.identity.Identities;
import io.paymentledger.security.identity.Principal;
import io.paymentledger.security.pki.CertRequest;
import io.paymentledger.security.pki.CertificateRenewer;
import io.paymentledger.security.pki.IssuedCert;
import io.paymentledger.security.pki.Pki;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpVersion;

/**
 * A real Vert.x HTTP/2 server built with {@link Tls#serverOptions}: who gets in, who does not, what identity
 * each side sees, and certificate hot reload.
 */
class MtlsServerTest {

    private static final String TD = "ledger.test";

    @TempDir
    static Path dir;
    static Pki pki;
    static Pki otherPki;
    static Vertx vertx;
    static IssuedCert serverCert;
    static HttpServer server;
    static int port;
    static final AtomicInteger handled = new AtomicInteger();
    /** TLS failures the server reported (exception chains as text), to check why a client was refused. */
    static final List<String> serverErrors = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void start() {
        pki = Pki.init(dir.resolve("pki"), TD);
        otherPki = Pki.init(dir.resolve("other"), TD); // same trust domain name, different CA key
        serverCert = pki.issueService("ledger-eu", "eu", "ledger", Duration.ofDays(1));
        vertx = Vertx.vertx();
        server = vertx.createHttpServer(Tls.serverOptions(serverCert.certFile(), serverCert.keyFile(),
                pki.caCertFile(), pki.crlFile(), ClientAuth.REQUIRED));
        server.exceptionHandler(e -> serverErrors.add(chain(e)));
        server.requestHandler(req -> {
            handled.incrementAndGet();
            String who = Identities.fromPeer(req.connection(), TD).map(Object::toString).orElse("nobody");
            req.response().end(who + " " + req.version() + " " + req.connection().sslSession().getProtocol());
        });
        port = await(server.listen(0, "127.0.0.1")).actualPort();
    }

    @AfterAll
    static void stop() {
        if (vertx != null) {
            await(vertx.close());
        }
    }

    @Test
    void clientWithAPkiCertificateIsServedOverHttp2AndTls13AndBothSidesSeeTheOthersPrincipal() {
        IssuedCert merchant = pki.issueMerchant("acme", Duration.ofHours(1));
        Reply r = get(Tls.clientOptions(merchant.certFile(), merchant.keyFile(), pki.caCertFile()));
        assertThat(r.body()).isEqualTo("Merchant[id=acme] HTTP_2 TLSv1.3");
        assertThat(r.serverPrincipal()).isEqualTo(new Principal.Service("eu", "ledger"));
        assertThat(r.serverSerial()).isEqualTo(serverCert.serial());

        IssuedCert operator = pki.issueOperator(Duration.ofHours(1));
        assertThat(get(Tls.clientOptions(operator.certFile(), operator.keyFile(), pki.caCertFile())).body())
                .startsWith("Operator[]");
        IssuedCert router = pki.issueService("router-us", "us", "router", Duration.ofHours(1));
        assertThat(get(Tls.clientOptions(router.certFile(), router.keyFile(), pki.caCertFile())).body())
                .startsWith("Service[region=us, component=router]");
    }

    @Test
    void plaintextClientIsRefused() throws Exception {
        int before = handled.get();
        assertRefused(new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_1_1), "not an SSL/TLS record");
        assertRefused(new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2).setHttp2ClearTextUpgrade(false),
                "not an SSL/TLS record");
        assertThat(handled.get()).isEqualTo(before);
    }

    @Test
    void clientWithoutCertificateIsRefused() throws Exception {
        int before = handled.get();
        // The reason in the JDK engine's words, or BoringSSL's (Tls.engine() picks BoringSSL where it loads).
        assertRefused(Tls.clientOptions(null, null, pki.caCertFile()), "Empty client certificate chain",
                "PEER_DID_NOT_RETURN_A_CERTIFICATE");
        assertThat(handled.get()).isEqualTo(before);
    }

    @Test
    void clientCertificateFromAnotherCaIsRefused() throws Exception {
        IssuedCert foreign = otherPki.issueMerchant("acme", Duration.ofHours(1));
        int before = handled.get();
        assertRefused(Tls.clientOptions(foreign.certFile(), foreign.keyFile(), pki.caCertFile()),
                "Path does not chain with any of the trust anchors");
        assertThat(handled.get()).isEqualTo(before);
    }

    @Test
    void expiredClientCertificateIsRefused() throws Exception {
        IssuedCert expired = pki.issue(CertRequest.client("merchant-old", "merchant/old", Duration.ofHours(1))
                .withNotBefore(Instant.now().minus(Duration.ofHours(2))));
        int before = handled.get();
        assertRefused(Tls.clientOptions(expired.certFile(), expired.keyFile(), pki.caCertFile()),
                "CertificateExpiredException");
        assertThat(handled.get()).isEqualTo(before);
    }

    @Test
    void tls12OnlyClientIsRefused() throws Exception {
        IssuedCert merchant = pki.issueMerchant("tls12", Duration.ofHours(1));
        assertRefused(Tls.clientOptions(merchant.certFile(), merchant.keyFile(), pki.caCertFile())
                .setEnabledSecureTransportProtocols(Set.of("TLSv1.2")), "protocol_version", "UNSUPPORTED_PROTOCOL");
        // and a plain JDK socket limited to TLS 1.2 fails the handshake itself
        try (SSLSocket s = (SSLSocket) SslContexts.create(merchant.certFile(), merchant.keyFile(), pki.caCertFile())
                .getSocketFactory().createSocket("127.0.0.1", port)) {
            s.setEnabledProtocols(new String[] {"TLSv1.2"});
            assertThatThrownBy(s::startHandshake).isInstanceOf(javax.net.ssl.SSLHandshakeException.class);
        }
    }

    @Test
    void revokedClientCertificateIsRefusedAfterTheCrlIsReloaded() throws Exception {
        IssuedCert victim = pki.issueMerchant("revoked", Duration.ofHours(1));
        IssuedCert bystander = pki.issueMerchant("still-ok", Duration.ofHours(1));
        HttpClientOptions victimOpts = Tls.clientOptions(victim.certFile(), victim.keyFile(), pki.caCertFile());
        assertThat(get(victimOpts).body()).startsWith("Merchant[id=revoked]");

        pki.revoke(victim.serial());
        boolean updated = await(server.updateSSLOptions(Tls.serverSslOptions(serverCert.certFile(), serverCert.keyFile(),
                pki.caCertFile(), pki.crlFile(), ClientAuth.REQUIRED)));
        assertThat(updated).isTrue();

        assertRefused(victimOpts, "Certificate revoked");
        assertThat(get(Tls.clientOptions(bystander.certFile(), bystander.keyFile(), pki.caCertFile())).body())
                .startsWith("Merchant[id=still-ok]");
    }

    @Test
    void jdkSslContextAndPgSocketFactorySpeakTls13WithAClientCertificate() throws Exception {
        IssuedCert pg = pki.issueService("ledger-db-client", "eu", "ledger", Duration.ofHours(1));
        Properties props = new Properties();
        props.setProperty("sslcert", pg.certFile().toString());
        props.setProperty("sslkey", pg.keyFile().toString());
        props.setProperty("sslrootcert", pki.caCertFile().toString());
        try (SSLSocket s = (SSLSocket) new PgSslSocketFactory(props).createSocket("127.0.0.1", port)) {
            assertThat(s.getEnabledProtocols()).containsExactly("TLSv1.3");
            s.startHandshake();
            assertThat(s.getSession().getProtocol()).isEqualTo("TLSv1.3");
            X509Certificate peer = (X509Certificate) s.getSession().getPeerCertificates()[0];
            assertThat(Identities.fromCertificate(peer, TD)).contains(new Principal.Service("eu", "ledger"));
            OutputStream out = s.getOutputStream();
            out.write("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            String response = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
            assertThat(response).startsWith("HTTP/1.1 200").contains("Service[region=eu, component=ledger] HTTP_1_1 TLSv1.3");
        }
        assertThatThrownBy(() -> new PgSslSocketFactory(new Properties())).hasMessageContaining("sslrootcert");
    }

    @Test
    void renewedServerCertificateIsServedToNewConnectionsWithoutRestart() throws Exception {
        // A second server whose certificate is due for renewal: issued 50 minutes ago for one hour.
        IssuedCert due = pki.issue(CertRequest.service("router-hot", "region/eu/router", Duration.ofHours(1))
                .withNotBefore(Instant.now().minus(Duration.ofMinutes(50))));
        HttpServer hot = vertx.createHttpServer(Tls.serverOptions(due.certFile(), due.keyFile(), pki.caCertFile(),
                pki.crlFile(), ClientAuth.REQUIRED));
        hot.requestHandler(req -> req.response().end("hot"));
        int hotPort = await(hot.listen(0, "127.0.0.1")).actualPort();
        try {
            IssuedCert client = pki.issueOperator(Duration.ofHours(1));
            HttpClientOptions opts = Tls.clientOptions(client.certFile(), client.keyFile(), pki.caCertFile());
            assertThat(get(opts, hotPort).serverSerial()).isEqualTo(due.serial());

            CompletableFuture<Boolean> reloaded = new CompletableFuture<>();
            CertificateRenewer renewer = CertificateRenewer.forPki(pki, due, java.time.Clock.systemUTC(), c ->
                    hot.updateSSLOptions(Tls.serverSslOptions(c.certFile(), c.keyFile(), pki.caCertFile(), pki.crlFile(),
                            ClientAuth.REQUIRED)).onComplete((ok, err) -> {
                                if (err != null) {
                                    reloaded.completeExceptionally(err);
                                } else {
                                    reloaded.complete(ok);
                                }
                            }));
            try (renewer) {
                renewer.start(vertx, Duration.ofMillis(100));
                assertThat(reloaded.get(10, TimeUnit.SECONDS)).isTrue();
            }
            IssuedCert renewed = renewer.current();
            assertThat(renewed.serial()).isNotEqualTo(due.serial());

            Reply after = get(opts, hotPort);
            assertThat(after.serverSerial()).isEqualTo(renewed.serial());
            assertThat(after.serverPrincipal()).isEqualTo(new Principal.Service("eu", "router"));
            assertThat(after.version()).as("ALPN still offers h2 after the reload").isEqualTo(HttpVersion.HTTP_2);
            assertThat(hot.actualPort()).as("same listening server").isEqualTo(hotPort);
        } finally {
            await(hot.close());
        }
    }

    @Test
    void clientCertificateIsSwappedWithUpdateSslOptionsForNewConnections() {
        IssuedCert a = pki.issueMerchant("swap-a", Duration.ofHours(1));
        IssuedCert b = pki.issueMerchant("swap-b", Duration.ofHours(1));
        // HTTP/1.1 without keep-alive: every request opens a new connection
        HttpClientAgent client = vertx.createHttpClient(Tls.clientOptions(a.certFile(), a.keyFile(), pki.caCertFile())
                .setProtocolVersion(HttpVersion.HTTP_1_1).setKeepAlive(false));
        try {
            assertThat(body(client)).startsWith("Merchant[id=swap-a]");
            assertThat(await(client.updateSSLOptions(Tls.clientSslOptions(b.certFile(), b.keyFile(), pki.caCertFile()))))
                    .isTrue();
            assertThat(body(client)).startsWith("Merchant[id=swap-b]");
        } finally {
            await(client.close());
        }
    }

    private static String body(HttpClientAgent client) {
        return await(client.request(HttpMethod.GET, port, "localhost", "/")
                .compose(req -> req.send().compose(resp -> resp.body()))).toString();
    }

    // ---------------------------------------------------------------------------------------------------

    record Reply(String body, Principal serverPrincipal, BigInteger serverSerial, HttpVersion version) {}

    private static Reply get(HttpClientOptions options) {
        return get(options, port);
    }

    private static Reply get(HttpClientOptions options, int toPort) {
        HttpClientAgent client = vertx.createHttpClient(options);
        try {
            return await(client.request(HttpMethod.GET, toPort, "localhost", "/").compose(req -> req.send()
                    .compose(resp -> resp.body().map(body -> {
                        var conn = resp.request().connection();
                        X509Certificate peer;
                        try {
                            peer = (X509Certificate) conn.peerCertificates().get(0);
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                        return new Reply(body.toString(), Identities.fromPeer(conn, TD).orElse(null), peer.getSerialNumber(),
                                resp.version());
                    }))));
        } finally {
            await(client.close());
        }
    }

    static String chain(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            sb.append(c.getClass().getName()).append(": ").append(c.getMessage()).append(" / ");
        }
        return sb.toString();
    }

    /** The request fails on the client, and the server reports a TLS failure containing one of {@code serverReasons}. */
    private static void assertRefused(HttpClientOptions options, String... serverReasons) throws InterruptedException {
        int seen = serverErrors.size();
        HttpClientAgent client = vertx.createHttpClient(options.setConnectTimeout(5000));
        try {
            Future<String> f = client.request(HttpMethod.GET, port, "localhost", "/")
                    .compose(req -> req.send().compose(resp -> resp.body().map(b -> resp.statusCode() + " " + b)));
            assertThat(failure(f)).isNotNull();
        } finally {
            await(client.close());
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        java.util.function.Predicate<String> reason = e -> java.util.Arrays.stream(serverReasons).anyMatch(e::contains);
        while (serverErrors.subList(seen, serverErrors.size()).stream().noneMatch(reason) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(serverErrors.subList(seen, serverErrors.size())).anyMatch(reason);
    }
}
