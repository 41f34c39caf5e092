package io.paymentledger.ledger.webhooks;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.paymentledger.ledger.events.Position;
import io.paymentledger.ledger.grpc.ReadGate;
import io.paymentledger.security.pki.IssuedCert;
import io.paymentledger.security.pki.Pki;
import io.paymentledger.security.secrets.SecretSealer;
import io.paymentledger.security.secrets.SecretStore;
import io.paymentledger.security.tls.Tls;
import io.vertx.core.Vertx;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.http.HttpServer;
import io.vertx.core.net.PemTrustOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * One webhook exchange as the dispatcher's workers make it, many at once, against a real HTTPS server on 127.0.0.1
 * that answers 200 at once: every attempt must come back DELIVERED, and the server must get each event exactly once.
 * Built on the worker's own (virtual) thread, the exchange lost now and then the end of a response that arrived while
 * that thread was still registering its handlers: the connection went back to the pool, the attempt waited out its
 * 5 s and counted as timed out, and the event was sent again although the endpoint had answered 200 (WebhooksTest's
 * duplicates in CI, 2026-12-07).
 */
class WebhookExchangeTest {

    static final int WORKERS = 16;
    static final int ATTEMPTS_EACH = 400;

    @Test
    void everyAnsweredAttemptIsDeliveredAndEachEventReachesTheEndpointOnce() throws Exception {
        Path dir = Files.createTempDirectory("webhook-exchange");
        Pki pki = Pki.init(dir.resolve("pki"), "webhooks.test");
        IssuedCert cert = pki.issueService("receiver", "test", "router", Duration.ofHours(1));
        Vertx receiverVertx = Vertx.vertx();
        Vertx nodeVertx = Vertx.vertx();
        Map<String, AtomicInteger> received = new ConcurrentHashMap<>();
        HttpServer server = receiverVertx.createHttpServer(Tls.serverOptions(cert.certFile(), cert.keyFile(), pki.caCertFile(),
                pki.crlFile(), ClientAuth.NONE).setHost("127.0.0.1").setPort(0)).requestHandler(req -> req.body().onSuccess(b -> {
                    received.computeIfAbsent(req.getHeader("webhook-id"), k -> new AtomicInteger()).incrementAndGet();
                    req.response().setStatusCode(200).end();
                })).listen().await(30, java.util.concurrent.TimeUnit.SECONDS);
        WebhookDispatcher.Settings settings = new WebhookDispatcher.Settings(SecretSealer.fromBase64(SecretStore.random(32).get()),
                new PemTrustOptions().addCertPath(pki.caCertFile().toString()), WebhookDispatcher.RetrySchedule.DEFAULT, () -> true);
        // Not leading: the supervisor never starts a worker; only post() is exercised here.
        ReadGate follower = new ReadGate() {
            @Override
            public boolean leads() {
                return false;
            }

            @Override
            public String notLeadingReason() {
                return "a test";
            }

            @Override
            public long stalenessMs() {
                return Long.MAX_VALUE;
            }
        };
        List<WebhookDispatcher.Attempt> notDelivered = new CopyOnWriteArrayList<>();
        AtomicInteger attempts = new AtomicInteger();
        try (WebhookDispatcher dispatcher = new WebhookDispatcher(nodeVertx, null, null, null, follower, settings, new SimpleMeterRegistry())) {
            WebhookStore.Endpoint endpoint = new WebhookStore.Endpoint("ep_test", "shop-1", "https://127.0.0.1:" + server.actualPort() + "/hook",
                    Set.of(), true, "", new Position(0, 0), 1, null, Instant.now(), Instant.now(), List.of());
            List<byte[]> keys = List.of(new byte[32]);
            List<Thread> workers = new ArrayList<>();
            for (int w = 0; w < WORKERS; w++) {
                int worker = w;
                workers.add(Thread.ofVirtual().start(() -> {
                    io.vertx.core.Context loop = nodeVertx.getOrCreateContext();
                    for (int i = 0; i < ATTEMPTS_EACH; i++) {
                        WebhookDispatcher.Attempt a = dispatcher.post(loop, endpoint, keys, "evt-" + worker + "-" + i, "{\"n\":" + i + "}");
                        attempts.incrementAndGet();
                        if (!a.delivered()) {
                            notDelivered.add(a);
                        }
                    }
                }));
            }
            for (Thread t : workers) {
                t.join(Duration.ofMinutes(3));
            }
        } finally {
            server.close().await(30, java.util.concurrent.TimeUnit.SECONDS);
            receiverVertx.close().await(30, java.util.concurrent.TimeUnit.SECONDS);
            nodeVertx.close().await(30, java.util.concurrent.TimeUnit.SECONDS);
        }
        assertThat(attempts.get()).isEqualTo(WORKERS * ATTEMPTS_EACH);
        assertThat(notDelivered).as("attempts the endpoint answered 200 that did not count as delivered").isEmpty();
        assertThat(received).hasSize(WORKERS * ATTEMPTS_EACH);
        assertThat(received.values()).allMatch(n -> n.get() == 1);
    }
}
