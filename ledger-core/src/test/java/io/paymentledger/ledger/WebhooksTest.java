package io.paymentledger.ledger;

import static io.paymentledger.ledger.support.Fixtures.account;
import static io.paymentledger.ledger.support.Fixtures.id;
import static io.paymentledger.ledger.support.Fixtures.transfer;
import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.Account;
import io.paymentledger.api.v1.CreateAccountStatus;
import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateTransferStatus;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.CreateWebhookEndpointRequest;
import io.paymentledger.api.v1.CreateWebhookEndpointResponse;
import io.paymentledger.api.v1.DeleteWebhookEndpointRequest;
import io.paymentledger.api.v1.Event;
import io.paymentledger.api.v1.EventFilter;
import io.paymentledger.api.v1.EventType;
import io.paymentledger.api.v1.EventsServiceGrpcClient;
import io.paymentledger.api.v1.LedgerServiceGrpcClient;
import io.paymentledger.api.v1.ListEventsRequest;
import io.paymentledger.api.v1.ListEventsResponse;
import io.paymentledger.api.v1.ListWebhookDeliveriesRequest;
import io.paymentledger.api.v1.ListWebhookDeliveriesResponse;
import io.paymentledger.api.v1.ListWebhookEndpointsRequest;
import io.paymentledger.api.v1.ListWebhookEndpointsResponse;
import io.paymentledger.api.v1.RedeliverEventsRequest;
import io.paymentledger.api.v1.RotateWebhookSecretRequest;
import io.paymentledger.api.v1.RotateWebhookSecretResponse;
import io.paymentledger.api.v1.UpdateWebhookEndpointRequest;
import io.paymentledger.api.v1.WebhookDeliveryResult;
import io.paymentledger.api.v1.WebhookEndpoint;
import io.paymentledger.ledger.node.LedgerNode;
import io.paymentledger.ledger.node.StandaloneControl;
import io.paymentledger.ledger.support.LedgerAssertions;
import io.paymentledger.ledger.support.TestLedger;
import io.paymentledger.ledger.webhooks.WebhookDispatcher;
import io.paymentledger.ledger.write.BatchWriter;
import io.paymentledger.security.pki.IssuedCert;
import io.paymentledger.security.pki.Pki;
import io.paymentledger.security.secrets.SecretSealer;
import io.paymentledger.security.secrets.SecretStore;
import io.paymentledger.security.tls.Tls;
import io.vertx.core.Vertx;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.grpc.common.GrpcStatus;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Webhooks end to end (issue #21, docs/decisions/0007-webhooks.md): a real node on a real PostgreSQL delivers to a
 * real HTTPS receiver on 127.0.0.1 (a Vert.x server with a certificate of the project's PKI); signatures are checked
 * here independently with javax.crypto. Retries are shrunk to 100-400 ms, for 10 s (the schedule is a setting).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class WebhooksTest {

    static final String M1 = "shop-1";
    static final String M2 = "shop-2";
    /** The receiver does not answer at all (the dispatcher gives up after its 5 s budget). */
    static final int HANG = -1;

    /** Retries of one event end this long after its first failure (3 days in production). */
    static final long RETRY_TOTAL_MS = 10_000;

    private static TestLedger t;
    private static Receiver receiver;
    private static Path dir;
    private static final AtomicBoolean privateAllowed = new AtomicBoolean(true);
    private static WebhookDispatcher.Settings settings;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("webhooks-test");
        Pki pki = Pki.init(dir.resolve("pki"), "webhooks.test");
        IssuedCert cert = pki.issueService("receiver", "test", "router", Duration.ofHours(1));
        receiver = new Receiver(Tls.serverOptions(cert.certFile(), cert.keyFile(), pki.caCertFile(), pki.crlFile(), ClientAuth.NONE)
                .setHost("127.0.0.1").setPort(0));
        settings = new WebhookDispatcher.Settings(SecretSealer.fromBase64(SecretStore.random(32).get()),
                new PemTrustOptions().addCertPath(pki.caCertFile().toString()),
                new WebhookDispatcher.RetrySchedule(100, 400, RETRY_TOTAL_MS), privateAllowed::get);
        t = TestLedger.startWithMerchants(settings);
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            if (t != null) {
                try (Connection c = t.sql()) {
                    LedgerAssertions.assertConsistent(c);
                } finally {
                    t.close();
                }
            }
        } finally {
            if (receiver != null) {
                receiver.close();
            }
        }
    }

    // ------------------------------------------------------------------ the receiver

    /** One request the receiver got, and what it answered (HANG: nothing). */
    record Hit(String path, String id, String timestamp, String signature, String body, int answered) {
        boolean delivered() {
            return answered >= 200 && answered < 300;
        }

        JsonObject data() {
            return new JsonObject(body).getJsonObject("data");
        }
    }

    /** An HTTPS server on 127.0.0.1 that records every request and answers each path as planned (then 200). */
    static final class Receiver implements AutoCloseable {
        final Vertx vertx = Vertx.vertx();
        final HttpServer server;
        final List<Hit> hits = new CopyOnWriteArrayList<>();
        /** Every request as it came: wall-clock ms (mod 100 s), path, id, the client's port, the answer. */
        final List<String> arrivals = new CopyOnWriteArrayList<>();
        final Map<String, Deque<Integer>> plans = new ConcurrentHashMap<>();

        Receiver(HttpServerOptions options) {
            server = vertx.createHttpServer(options).requestHandler(req -> req.body().onSuccess(body -> {
                Deque<Integer> plan = plans.get(req.path());
                Integer answer = plan == null ? null : plan.poll();
                int status = answer == null ? 200 : answer;
                arrivals.add("at " + System.currentTimeMillis() % 100_000 + " " + req.path() + " " + req.getHeader("webhook-id")
                        + " from :" + req.remoteAddress().port() + " " + req.version() + " -> " + status);
                hits.add(new Hit(req.path(), req.getHeader("webhook-id"), req.getHeader("webhook-timestamp"),
                        req.getHeader("webhook-signature"), body.toString(StandardCharsets.UTF_8), status));
                if (status != HANG) {
                    req.response().setStatusCode(status).end();
                }
            })).listen().await();
        }

        String url(String path) {
            return "https://127.0.0.1:" + server.actualPort() + path;
        }

        void plan(String path, Integer... answers) {
            plans.put(path, new java.util.concurrent.ConcurrentLinkedDeque<>(List.of(answers)));
        }

        List<Hit> hits(String path) {
            return hits.stream().filter(h -> h.path().equals(path)).toList();
        }

        List<Hit> delivered(String path) {
            return hits(path).stream().filter(Hit::delivered).toList();
        }

        @Override
        public void close() {
            server.close().await();
            vertx.close().await();
        }
    }

    // ------------------------------------------------------------------ helpers

    static void await(String what, java.util.function.BooleanSupplier condition, long seconds) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > until) {
                throw new AssertionError("not within " + seconds + " s: " + what);
            }
            Thread.sleep(25);
        }
    }

    static Account owned(String id, String owner) {
        return account(id, "EUR").toBuilder().setOwner(owner).build();
    }

    static void createAccounts(String merchant, Account... accounts) {
        assertThat(t.as(merchant, LedgerServiceGrpcClient.CreateAccounts, CreateAccountsRequest.newBuilder()
                .addAllAccounts(List.of(accounts)).build()).body().getResultsList())
                .allMatch(r -> r.getStatus() == CreateAccountStatus.CREATE_ACCOUNT_CREATED);
    }

    static void pay(String merchant, String from, String to) {
        assertThat(t.as(merchant, LedgerServiceGrpcClient.CreateTransfers, CreateTransfersRequest.newBuilder()
                .addTransfers(transfer(id("wh"), from, to, 7, "EUR")).build()).body().getResults(0).getStatus())
                .isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
    }

    static CreateWebhookEndpointResponse create(String merchant, String url, EventType... types) {
        TestLedger.Answer<CreateWebhookEndpointResponse> a = t.as(merchant, EventsServiceGrpcClient.CreateWebhookEndpoint,
                CreateWebhookEndpointRequest.newBuilder().setUrl(url).addAllTypes(List.of(types)).build());
        assertThat(a.status()).as(a.message()).isEqualTo(GrpcStatus.OK);
        return a.body();
    }

    /** Every event {@code merchant} may see after {@code after}, up to what is acknowledged now. */
    static List<Event> events(String merchant, String after) {
        List<Event> out = new ArrayList<>();
        String cursor = after;
        while (true) {
            ListEventsResponse page = t.as(merchant, EventsServiceGrpcClient.ListEvents, ListEventsRequest.newBuilder()
                    .setAfterCursor(cursor).setFilter(EventFilter.getDefaultInstance()).setLimit(1000).build()).body();
            out.addAll(page.getEventsList());
            if (page.getNextCursor().equals(cursor)) {
                return out;
            }
            cursor = page.getNextCursor();
        }
    }

    /** The v1 entries of {@code hit}'s signature that HMAC-SHA256(secret, id.timestamp.body) matches, computed here. */
    static long verifiedBy(Hit hit, String secret) throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(Base64.getDecoder().decode(secret.substring("whsec_".length())), "HmacSHA256"));
        String expected = "v1," + Base64.getEncoder().encodeToString(mac.doFinal((hit.id() + "." + hit.timestamp() + "." + hit.body())
                .getBytes(StandardCharsets.UTF_8)));
        return List.of(hit.signature().split(" ")).stream().filter(expected::equals).count();
    }

    static WebhookEndpoint endpoint(String merchant, String id) {
        ListWebhookEndpointsResponse list = t.as(merchant, EventsServiceGrpcClient.ListWebhookEndpoints,
                ListWebhookEndpointsRequest.getDefaultInstance()).body();
        return list.getEndpointsList().stream().filter(e -> e.getId().equals(id)).findFirst().orElse(null);
    }

    static long endpointsStored() throws Exception {
        try (Connection c = t.sql()) {
            return LedgerAssertions.count(c, "select count(*) from webhook_endpoint");
        }
    }

    // ------------------------------------------------------------------ tests

    @Test
    @Order(1)
    void aReceiverThatFailsForAWhileGetsEveryEventInCursorOrderSignedWithStableIdsAndNothingOfOtherMerchants() throws Exception {
        String p1 = "/" + id("shop-1");
        String p2 = "/" + id("shop-2");
        // The first event: refused twice, then no answer at all (5 s), then 503; then everything is answered.
        receiver.plan(p1, 500, 500, HANG, 503);
        CreateWebhookEndpointResponse ep1 = create(M1, receiver.url(p1));
        CreateWebhookEndpointResponse ep2 = create(M2, receiver.url(p2));
        assertThat(ep1.getSecret()).startsWith("whsec_");
        assertThat(Base64.getDecoder().decode(ep1.getSecret().substring(6))).hasSize(32);

        String a1 = id("a1"), b1 = id("b1"), a2 = id("a2"), b2 = id("b2");
        createAccounts(M1, owned(a1, M1), owned(b1, M1));
        createAccounts(M2, owned(a2, M2), owned(b2, M2));
        for (int i = 0; i < 3; i++) {
            pay(M1, a1, b1);
            pay(M2, a2, b2);
        }
        List<Event> expected1 = events(M1, ep1.getEndpoint().getDeliveredCursor());
        List<Event> expected2 = events(M2, ep2.getEndpoint().getDeliveredCursor());
        assertThat(expected1).hasSize(5);
        assertThat(expected2).hasSize(5);

        await("shop-1's receiver has every event", () -> receiver.delivered(p1).stream().map(Hit::id).distinct().count() >= expected1.size(), 60);
        await("shop-2's receiver has every event", () -> receiver.delivered(p2).stream().map(Hit::id).distinct().count() >= expected2.size(), 30);

        // At least once, in cursor order: a receiver that dedupes by webhook-id sees each event once. A second 2xx of
        // an event is allowed only where the dispatcher did not get the first answer in time (a loaded CI machine
        // did that: the receiver answered 200, the dispatcher logged the attempt as failed and sent it again); it is
        // checked against the delivery log below.
        List<Hit> delivered1 = receiver.delivered(p1);
        List<Hit> deduped1 = new ArrayList<>(delivered1.stream()
                .collect(java.util.stream.Collectors.toMap(Hit::id, h -> h, (first, again) -> first, java.util.LinkedHashMap::new)).values());
        assertThat(deduped1.stream().map(Hit::id).toList()).as("every event, in cursor order, by webhook-id")
                .containsExactlyElementsOf(expected1.stream().map(Event::getId).toList());
        assertThat(deduped1.stream().map(h -> h.data().getString("cursor")).toList())
                .containsExactlyElementsOf(expected1.stream().map(Event::getCursor).toList());
        List<String> sentAgain = delivered1.stream().map(Hit::id).filter(id -> delivered1.stream().filter(h -> h.id().equals(id)).count() > 1)
                .distinct().toList();
        for (int i = 1; i < delivered1.size(); i++) {
            String id = delivered1.get(i).id();
            boolean seenBefore = delivered1.subList(0, i).stream().anyMatch(h -> h.id().equals(id));
            // Order holds: an event is sent again only before any later event is sent.
            assertThat(!seenBefore || delivered1.get(i - 1).id().equals(id))
                    .as("event " + id + " sent again after a later event: " + delivered1.stream().map(Hit::id).toList()).isTrue();
        }
        // The failed attempts carried the same id as the delivery that finally went through, each with its own timestamp.
        List<Hit> all1 = receiver.hits(p1);
        assertThat(all1.subList(0, 5)).extracting(Hit::id).containsOnly(expected1.get(0).getId());
        assertThat(all1.subList(0, 5)).extracting(Hit::answered).containsExactly(500, 500, HANG, 503, 200);
        for (Hit h : all1) {
            assertThat(verifiedBy(h, ep1.getSecret())).as("signature of " + h.id()).isEqualTo(1);
            assertThat(verifiedBy(h, ep2.getSecret())).isZero();
        }
        assertThat(new JsonObject(deduped1.get(0).body()).getString("type")).isEqualTo("account.created");
        assertThat(new JsonObject(deduped1.get(2).body()).getString("type")).isEqualTo("transfer.posted");

        // The tenant wall: nothing of the other merchant's accounts in either direction.
        for (Hit h : delivered1) {
            assertThat(h.body()).doesNotContain(a2).doesNotContain(b2).doesNotContain(M2);
        }
        List<Hit> delivered2 = receiver.delivered(p2);
        assertThat(delivered2.stream().map(Hit::id).distinct().toList()).containsExactlyElementsOf(expected2.stream().map(Event::getId).toList());
        for (Hit h : delivered2) {
            assertThat(h.body()).doesNotContain(a1).doesNotContain(b1);
            assertThat(verifiedBy(h, ep2.getSecret())).isEqualTo(1);
        }

        // The delivery log: the failures with their status, then the deliveries; the cursor stored is the last event's.
        // (The stored cursor may be past the last event: the dispatcher also records rows it skipped, others' events.)
        await("the last delivery is recorded", () -> {
            String stored = endpoint(M1, ep1.getEndpoint().getId()).getDeliveredCursor();
            return !stored.isEmpty() && events(M1, stored).isEmpty() && !events(M1, expected1.get(3).getCursor()).isEmpty();
        }, 10);
        ListWebhookDeliveriesResponse log = t.as(M1, EventsServiceGrpcClient.ListWebhookDeliveries, ListWebhookDeliveriesRequest
                .newBuilder().setEndpointId(ep1.getEndpoint().getId()).setLimit(100).build()).body();
        List<io.paymentledger.api.v1.WebhookDelivery> oldestFirst = new ArrayList<>(log.getDeliveriesList()).reversed();
        assertThat(oldestFirst).extracting(io.paymentledger.api.v1.WebhookDelivery::getResult).startsWith(
                WebhookDeliveryResult.WEBHOOK_DELIVERY_RESULT_FAILED, WebhookDeliveryResult.WEBHOOK_DELIVERY_RESULT_FAILED,
                WebhookDeliveryResult.WEBHOOK_DELIVERY_RESULT_TIMEOUT, WebhookDeliveryResult.WEBHOOK_DELIVERY_RESULT_FAILED,
                WebhookDeliveryResult.WEBHOOK_DELIVERY_RESULT_DELIVERED);
        assertThat(oldestFirst.subList(0, 5)).extracting(io.paymentledger.api.v1.WebhookDelivery::getAttempt).containsExactly(1, 2, 3, 4, 5);
        assertThat(oldestFirst.get(0).getHttpStatus()).isEqualTo(500);
        for (String id : sentAgain) {
            assertThat(oldestFirst).as("an event the receiver got twice was sent again after an attempt the dispatcher saw fail: " + id)
                    .anyMatch(d -> d.getEventId().equals(id) && d.getResult() != WebhookDeliveryResult.WEBHOOK_DELIVERY_RESULT_DELIVERED);
        }
        // Every attempt is in the log: the planned four failures, one delivery per event, and any attempt after them
        // that the dispatcher saw fail (none on a quiet machine).
        long failedLater = oldestFirst.subList(5, oldestFirst.size()).stream()
                .filter(d -> d.getResult() != WebhookDeliveryResult.WEBHOOK_DELIVERY_RESULT_DELIVERED).count();
        assertThat(oldestFirst).hasSize(4 + expected1.size() + (int) failedLater);

        // RedeliverEvents: from the second event on, again, with the same ids.
        int before = receiver.delivered(p1).size();
        assertThat(t.as(M1, EventsServiceGrpcClient.RedeliverEvents, RedeliverEventsRequest.newBuilder()
                .setEndpointId(ep1.getEndpoint().getId()).setAfterCursor(expected1.get(0).getCursor()).build()).status())
                .isEqualTo(GrpcStatus.OK);
        await("the replay is delivered", () -> receiver.delivered(p1).size() >= before + expected1.size() - 1, 30);
        assertThat(receiver.delivered(p1).subList(before, before + expected1.size() - 1)).extracting(Hit::id)
                .containsExactlyElementsOf(expected1.subList(1, expected1.size()).stream().map(Event::getId).toList());
        delete(M1, ep1.getEndpoint().getId());
        delete(M2, ep2.getEndpoint().getId());
    }

    /**
     * No head-of-line blocking across endpoints of one host, and no answer lost: while one merchant's endpoint never
     * answers, another endpoint on the same host gets each of its events once, every attempt answered within the
     * budget. It failed in 1 of ~12 runs (and in CI, 2026-12-07) while the dispatcher put its exchanges together on
     * the worker's thread: an answer was lost, the attempt timed out and the event went out again, 200 both times
     * (WebhookExchangeTest reproduces that cause alone). On failure it prints what the receiver got, on which
     * connection, and the dispatcher's log.
     */
    @Test
    @Order(2)
    void anEndpointThatHangsHoldsUpNoOtherEndpointOfItsHost() throws Exception {
        String hung = "/" + id("hangs");
        String fine = "/" + id("answers");
        Integer[] never = new Integer[40];
        java.util.Arrays.fill(never, HANG);
        receiver.plan(hung, never);
        CreateWebhookEndpointResponse epHung = create(M2, receiver.url(hung));
        String a2 = id("ha"), b2 = id("hb");
        createAccounts(M2, owned(a2, M2), owned(b2, M2));
        pay(M2, a2, b2);
        await("the hanging endpoint got its first attempt", () -> !receiver.hits(hung).isEmpty(), 30);

        CreateWebhookEndpointResponse epFine = create(M1, receiver.url(fine));
        String a1 = id("fa"), b1 = id("fb");
        createAccounts(M1, owned(a1, M1), owned(b1, M1));
        for (int i = 0; i < 3; i++) {
            pay(M1, a1, b1);
        }
        List<Event> expected = events(M1, epFine.getEndpoint().getDeliveredCursor());
        assertThat(expected).hasSize(5);
        await("the other endpoint has every event", () -> receiver.delivered(fine).stream().map(Hit::id).distinct().count() >= 5, 60);
        Thread.sleep(WebhookDispatcher.ANSWER_BUDGET_MS + 1_000); // an attempt given up on would arrive by now
        ListWebhookDeliveriesResponse log = t.as(M1, EventsServiceGrpcClient.ListWebhookDeliveries, ListWebhookDeliveriesRequest
                .newBuilder().setEndpointId(epFine.getEndpoint().getId()).setLimit(100).build()).body();
        assertThat(receiver.hits(fine).stream().map(Hit::id).toList())
                .as("each event once, in order, while the other endpoint hangs; the receiver got %s; the dispatcher's log: %s",
                        receiver.arrivals,
                        log.getDeliveriesList().reversed().stream().map(d -> "at " + d.getAttemptedAtMs() % 100_000 + " " + d.getEventId() + " " + d.getResult() + " " + d.getHttpStatus()
                                + " " + d.getLatencyMs() + " ms " + d.getError()).toList())
                .containsExactlyElementsOf(expected.stream().map(Event::getId).toList());
        assertThat(log.getDeliveriesList()).as("every attempt of the other endpoint answered in time").hasSize(5)
                .allMatch(d -> d.getResult() == WebhookDeliveryResult.WEBHOOK_DELIVERY_RESULT_DELIVERED);
        delete(M1, epFine.getEndpoint().getId());
        delete(M2, epHung.getEndpoint().getId());
    }

    static void delete(String merchant, String id) {
        assertThat(t.as(merchant, EventsServiceGrpcClient.DeleteWebhookEndpoint, DeleteWebhookEndpointRequest.newBuilder()
                .setEndpointId(id).build()).status()).isEqualTo(GrpcStatus.OK);
    }

    @Test
    @Order(2)
    void duringRotationEveryDeliveryCarriesASignatureOfEachActiveSecret() throws Exception {
        String a = id("ra"), b = id("rb");
        createAccounts(M1, owned(a, M1), owned(b, M1));
        String p = "/" + id("rotation");
        CreateWebhookEndpointResponse ep = create(M1, receiver.url(p), EventType.EVENT_TYPE_TRANSFER_POSTED);
        RotateWebhookSecretResponse rotated = t.as(M1, EventsServiceGrpcClient.RotateWebhookSecret, RotateWebhookSecretRequest
                .newBuilder().setEndpointId(ep.getEndpoint().getId()).setKeepOldSeconds(3600).build()).body();
        assertThat(rotated.getSecret()).startsWith("whsec_").isNotEqualTo(ep.getSecret());
        assertThat(rotated.getEndpoint().getSecretsList()).hasSize(2);
        assertThat(rotated.getEndpoint().getSecrets(0).getExpiresAtMs()).isGreaterThan(System.currentTimeMillis());
        assertThat(rotated.getEndpoint().getSecrets(1).getExpiresAtMs()).isZero();

        pay(M1, a, b);
        await("the transfer is delivered", () -> receiver.delivered(p).size() == 1, 30);
        Hit hit = receiver.delivered(p).get(0);
        assertThat(hit.signature().split(" ")).hasSize(2).allMatch(s -> s.startsWith("v1,"));
        assertThat(verifiedBy(hit, ep.getSecret())).as("the old secret's signature").isEqualTo(1);
        assertThat(verifiedBy(hit, rotated.getSecret())).as("the new secret's signature").isEqualTo(1);
        assertThat(new JsonObject(hit.body()).getString("type")).as("only the types asked for").isEqualTo("transfer.posted");
        // The secret is stored sealed, never in clear.
        try (Connection c = t.sql(); var s = c.createStatement(); var r = s.executeQuery("select sealed from webhook_secret")) {
            while (r.next()) {
                String stored = new String(r.getBytes(1), StandardCharsets.ISO_8859_1);
                assertThat(stored).doesNotContain("whsec_").doesNotContain(ep.getSecret().substring(6, 20))
                        .doesNotContain(rotated.getSecret().substring(6, 20));
            }
        }
        delete(M1, ep.getEndpoint().getId());
    }

    @Test
    @Order(3)
    void aMerchantNeitherSeesNorChangesAnothersEndpoints() throws Exception {
        String p = "/" + id("wall");
        CreateWebhookEndpointResponse ep = create(M1, receiver.url(p));
        String id = ep.getEndpoint().getId();
        assertThat(endpoint(M1, id)).isNotNull();
        assertThat(endpoint(M2, id)).as("shop-2's list").isNull();
        assertThat(endpoint(null, id)).as("the operator's list: everyone's").isNotNull();

        String missing = "ep_0000000000000000";
        for (String target : List.of(id, missing)) {
            List<TestLedger.Answer<?>> answers = List.of(
                    t.as(M2, EventsServiceGrpcClient.UpdateWebhookEndpoint, UpdateWebhookEndpointRequest.newBuilder().setEndpointId(target)
                            .setEnabled(false).build()),
                    t.as(M2, EventsServiceGrpcClient.UpdateWebhookEndpoint, UpdateWebhookEndpointRequest.newBuilder().setEndpointId(target)
                            .setUrl(receiver.url("/stolen")).build()),
                    t.as(M2, EventsServiceGrpcClient.DeleteWebhookEndpoint, DeleteWebhookEndpointRequest.newBuilder().setEndpointId(target).build()),
                    t.as(M2, EventsServiceGrpcClient.RotateWebhookSecret, RotateWebhookSecretRequest.newBuilder().setEndpointId(target).build()),
                    t.as(M2, EventsServiceGrpcClient.ListWebhookDeliveries, ListWebhookDeliveriesRequest.newBuilder().setEndpointId(target).build()),
                    t.as(M2, EventsServiceGrpcClient.RedeliverEvents, RedeliverEventsRequest.newBuilder().setEndpointId(target).build()));
            for (TestLedger.Answer<?> a : answers) {
                assertThat(a.status()).as(a.message()).isEqualTo(GrpcStatus.NOT_FOUND);
                // Another's endpoint is answered exactly like one that does not exist.
                assertThat(a.message()).isEqualTo("webhook endpoint " + target + " not found");
            }
        }
        WebhookEndpoint after = endpoint(M1, id);
        assertThat(after.getEnabled()).isTrue();
        assertThat(after.getUrl()).isEqualTo(receiver.url(p));
        assertThat(after.getSecretsList()).hasSize(1);
        delete(M1, id);
    }

    @Test
    @Order(4)
    void badInputIsRefusedWithItsCodeAndNothingIsStored() throws Exception {
        long stored = endpointsStored();
        Map<String, String> refused = new java.util.LinkedHashMap<>();
        refused.put("http://127.0.0.1:1/hook", "WEBHOOKS_ERROR_URL_NOT_HTTPS");
        refused.put("", "WEBHOOKS_ERROR_INVALID_URL");
        refused.put("https://user:pw@example.com/", "WEBHOOKS_ERROR_INVALID_URL");
        refused.put("https://no-such-host.invalid/hook", "WEBHOOKS_ERROR_URL_UNRESOLVABLE");
        privateAllowed.set(false);
        try {
            refused.put(receiver.url("/private"), "WEBHOOKS_ERROR_URL_PRIVATE_ADDRESS");
            refused.put("https://10.1.2.3/hook", "WEBHOOKS_ERROR_URL_PRIVATE_ADDRESS");
            refused.put("https://169.254.169.254/latest/meta-data", "WEBHOOKS_ERROR_URL_PRIVATE_ADDRESS");
            refused.put("https://localhost:8443/hook", "WEBHOOKS_ERROR_URL_PRIVATE_ADDRESS");
            for (Map.Entry<String, String> r : refused.entrySet()) {
                TestLedger.Answer<CreateWebhookEndpointResponse> a = t.as(M1, EventsServiceGrpcClient.CreateWebhookEndpoint,
                        CreateWebhookEndpointRequest.newBuilder().setUrl(r.getKey()).build());
                assertThat(a.status()).as(r.getKey() + ": " + a.message()).isEqualTo(GrpcStatus.INVALID_ARGUMENT);
                assertThat(a.message()).as(r.getKey()).startsWith(r.getValue() + ": ");
            }
        } finally {
            privateAllowed.set(true);
        }
        for (CreateWebhookEndpointRequest bad : List.of(
                CreateWebhookEndpointRequest.newBuilder().setUrl(receiver.url("/t")).addTypesValue(99).build(),
                CreateWebhookEndpointRequest.newBuilder().setUrl(receiver.url("/t")).addTypes(EventType.EVENT_TYPE_UNSPECIFIED).build())) {
            TestLedger.Answer<CreateWebhookEndpointResponse> a = t.as(M1, EventsServiceGrpcClient.CreateWebhookEndpoint, bad);
            assertThat(a.status()).isEqualTo(GrpcStatus.INVALID_ARGUMENT);
            assertThat(a.message()).startsWith("WEBHOOKS_ERROR_INVALID_TYPE: types[0]");
        }
        assertThat(endpointsStored()).as("nothing stored for a refused request").isEqualTo(stored);

        // An update with a bad URL changes nothing either.
        CreateWebhookEndpointResponse ep = create(M1, receiver.url("/kept"));
        TestLedger.Answer<WebhookEndpoint> a = t.as(M1, EventsServiceGrpcClient.UpdateWebhookEndpoint, UpdateWebhookEndpointRequest
                .newBuilder().setEndpointId(ep.getEndpoint().getId()).setUrl("http://example.com/").setEnabled(false).build());
        assertThat(a.message()).startsWith("WEBHOOKS_ERROR_URL_NOT_HTTPS: ");
        assertThat(endpoint(M1, ep.getEndpoint().getId()).getUrl()).isEqualTo(receiver.url("/kept"));
        assertThat(endpoint(M1, ep.getEndpoint().getId()).getEnabled()).isTrue();
        assertThat(t.as(M1, EventsServiceGrpcClient.RotateWebhookSecret, RotateWebhookSecretRequest.newBuilder()
                .setEndpointId(ep.getEndpoint().getId()).setKeepOldSeconds(8 * 86_400).build()).message())
                .startsWith("WEBHOOKS_ERROR_INVALID_KEEP: ");
        assertThat(t.as(M1, EventsServiceGrpcClient.DeleteWebhookEndpoint, DeleteWebhookEndpointRequest.newBuilder()
                .setEndpointId("nope").build()).message()).startsWith("WEBHOOKS_ERROR_INVALID_ENDPOINT_ID: ");
        delete(M1, ep.getEndpoint().getId());
    }

    @Test
    @Order(4)
    void anEndpointThatFailsForTheWholeRetryWindowIsDisabledWithTheReasonAndEnablingItDeliversAgain() throws Exception {
        String a = id("da"), b = id("db");
        createAccounts(M1, owned(a, M1), owned(b, M1));
        String p = "/" + id("down");
        Integer[] plan = new Integer[10_000];
        java.util.Arrays.fill(plan, 500);
        receiver.plan(p, plan);
        CreateWebhookEndpointResponse ep = create(M1, receiver.url(p), EventType.EVENT_TYPE_TRANSFER_POSTED);
        pay(M1, a, b);
        String id = ep.getEndpoint().getId();
        await("the endpoint is disabled once its retries ran out", () -> !endpoint(M1, id).getEnabled(), RETRY_TOTAL_MS / 1000 + 20);
        WebhookEndpoint down = endpoint(M1, id);
        assertThat(down.getDisabledReason()).contains("was not delivered for").contains("HTTP 500").contains("enabled=true");
        List<Hit> attempts = receiver.hits(p);
        assertThat(attempts.size()).as("retried, with backoff").isBetween(3, 200);
        assertThat(attempts).extracting(Hit::id).containsOnly(attempts.get(0).id());
        int seen = attempts.size();
        Thread.sleep(500);
        assertThat(receiver.hits(p)).as("no attempt once disabled").hasSize(seen);

        receiver.plans.get(p).clear();
        assertThat(t.as(M1, EventsServiceGrpcClient.UpdateWebhookEndpoint, UpdateWebhookEndpointRequest.newBuilder().setEndpointId(id)
                .setEnabled(true).build()).body().getDisabledReason()).isEmpty();
        await("the event is delivered after the endpoint is enabled", () -> receiver.delivered(p).size() == 1, 30);
        assertThat(receiver.delivered(p).get(0).id()).isEqualTo(attempts.get(0).id());
        delete(M1, id);
    }

    /** Last: it deposes the class's node. */
    @Test
    @Order(5)
    void afterALeaderChangeDeliveriesGoOnFromTheStoredProgressWithNothingMissing() throws Exception {
        String x = id("fx"), y = id("fy");
        String p = "/" + id("failover");
        // a delivers the first event only; every later attempt of a's fails.
        Integer[] plan = new Integer[1001];
        java.util.Arrays.fill(plan, 500);
        plan[0] = 200;
        receiver.plan(p, plan);
        CreateWebhookEndpointResponse ep = create(M1, receiver.url(p));
        createAccounts(M1, owned(x, M1), owned(y, M1));
        for (int i = 0; i < 3; i++) {
            pay(M1, x, y);
        }
        await("a delivered the first event and failed the second", () -> receiver.hits(p).size() >= 2, 30);
        t.node.writer().stepDown("test: leadership moves to b");
        await("a's dispatcher stops", () -> t.node.webhooks().dispatcher().served() == 0, 10);
        Deque<Integer> rest = receiver.plans.get(p);
        rest.clear();
        int beforeB = receiver.hits(p).size();
        try (LedgerNode b = LedgerNode.start(new LedgerNode.Config("b", new HttpServerOptions().setHost("127.0.0.1").setPort(0),
                TestLedger.database(t.postgres), 4, BatchWriter.Config.defaults(), null, settings), new StandaloneControl(),
                TestLedger.MERCHANT_HEADER)) {
            LedgerServiceGrpcClient bLedger = LedgerServiceGrpcClient.create(t.grpc, io.vertx.core.net.SocketAddress.inetSocketAddress(
                    b.grpcPort(), "127.0.0.1"));
            for (int i = 0; i < 2; i++) {
                assertThat(bLedger.createTransfers(CreateTransfersRequest.newBuilder().addTransfers(transfer(id("on-b"), x, y, 1, "EUR"))
                        .build()).await().getResults(0).getStatus()).isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
            }
            // 2 accounts, 3 transfers on a, 2 on b: every one delivered, in order; b starts after a's last delivery.
            await("b delivers the rest", () -> new LinkedHashSet<>(receiver.delivered(p).stream().map(Hit::id).toList()).size() == 7, 30);
            // At least once with stable ids (decision 0007), in cursor order: deduplicated by webhook-id, every event
            // once and in order; an event sent again only right after itself. A clean-clone CI run (2026-12-07 17:34)
            // got one transfer event twice in a row here, 200 both times, while b delivered (cause not found: see the
            // session note); exactly once is more than webhooks promise.
            List<Hit> delivered = receiver.delivered(p);
            List<Hit> deduped = new ArrayList<>(delivered.stream()
                    .collect(java.util.stream.Collectors.toMap(Hit::id, h -> h, (first, again) -> first, java.util.LinkedHashMap::new)).values());
            assertThat(deduped).as("every event, by webhook-id, across the leader change").hasSize(7);
            for (int i = 1; i < delivered.size(); i++) {
                String id = delivered.get(i).id();
                boolean seenBefore = delivered.subList(0, i).stream().anyMatch(h -> h.id().equals(id));
                assertThat(!seenBefore || delivered.get(i - 1).id().equals(id))
                        .as("event " + id + " sent again after a later event: " + delivered.stream().map(Hit::id).toList()).isTrue();
            }
            List<Long> timestamps = deduped.stream().map(h -> Long.parseLong(h.data().getString("timestampNs"))).toList();
            assertThat(timestamps).as("in cursor order").isSorted();
            assertThat(receiver.hits(p).get(beforeB).id()).as("b's first attempt: the event after a's last delivery")
                    .isEqualTo(receiver.hits(p).get(1).id());
            for (Hit h : receiver.hits(p)) {
                assertThat(verifiedBy(h, ep.getSecret())).isEqualTo(1);
            }
        }
    }

    static <T> Predicate<T> not(Predicate<T> p) {
        return p.negate();
    }
}
