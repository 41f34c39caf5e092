package io.paymentledger.router.page;

import io.paymentledger.api.v1.GetNodeStatusRequest;
import io.paymentledger.api.v1.NodeServiceGrpcClient;
import io.paymentledger.router.RegionRouter;
import io.paymentledger.router.RouterConfig;
import io.paymentledger.router.RouterStatus;
import io.paymentledger.router.health.LeadershipLog;
import io.paymentledger.security.identity.ForwardedCertificate;
import io.paymentledger.security.identity.Identities;
import io.paymentledger.security.identity.Principal;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientOptions;
import io.vertx.grpc.common.GrpcStatus;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * The router's status page for the operator: regions, roles, epoch, sync copies, replication lag, recent failovers
 * and their durations, and the live write rate. Served over HTTPS on the merchants' port ({@link #PATH} as HTML that
 * polls {@link #JSON_PATH} every second), to the operator certificate only: no client certificate → 401, any other
 * certificate (a merchant's, a service's) → 403.
 *
 * <p>The nodes' part comes from each node's {@code NodeService/GetNodeStatus}, asked on behalf of the operator who
 * asked for the page: the router vouches for the operator exactly as it does when it forwards the operator's own
 * NodeService calls, and only while answering a request whose certificate it verified as the operator's.
 */
public final class StatusPage implements Handler<HttpServerRequest>, AutoCloseable {

    private static final Logger LOG = Logger.getLogger(StatusPage.class.getName());

    public static final String PATH = "/status";
    public static final String JSON_PATH = "/status.json";
    /** How long the page waits for one node's status before showing "no answer". */
    static final long NODE_ANSWER_TIMEOUT_MS = 1_000;
    /** How often the write counter is sampled for the live rate. */
    static final long WRITE_RATE_SAMPLE_MS = 1_000;
    /** The write rate is averaged over this many samples (5 s). */
    static final int WRITE_RATE_SAMPLES = 5;
    /** Largest status message accepted from a node. */
    static final int NODE_STATUS_MAX_BYTES = 1024 * 1024;
    /** How often the page's script asks for fresh data (also in status.html's script, from the JSON). */
    static final long PAGE_POLL_MS = 1_000;

    private final RegionRouter router;
    private final String trustDomain;
    private final GrpcClient nodes;
    private final String template;
    private final SecureRandom random = new SecureRandom();
    /** {nanoTime, writesOk} samples, newest last; touched only on the sampler's context. */
    private final Deque<long[]> samples = new ArrayDeque<>();
    private volatile double writesPerSecond;
    private final long samplerId;

    private StatusPage(RegionRouter router, String trustDomain, HttpClientOptions upstreamOptions) {
        this.router = router;
        this.trustDomain = Identities.requireTrustDomain(trustDomain);
        Vertx vertx = router.vertx();
        HttpClientOptions http = new HttpClientOptions(upstreamOptions).setProtocolVersion(HttpVersion.HTTP_2)
                .setConnectTimeout((int) NODE_ANSWER_TIMEOUT_MS);
        if (http.isSsl()) {
            http.setUseAlpn(true);
        } else {
            http.setHttp2ClearTextUpgrade(false);
        }
        this.nodes = GrpcClient.client(vertx, new GrpcClientOptions().setMaxMessageSize(NODE_STATUS_MAX_BYTES), http);
        this.template = resource("status.html");
        sample();
        this.samplerId = vertx.setPeriodic(WRITE_RATE_SAMPLE_MS, id -> sample());
    }

    /**
     * Serves the page on {@code router}'s port. {@code upstreamOptions}: how to reach the nodes (the router's own
     * mutual-TLS client options, whose certificate the nodes accept as the router's).
     */
    public static StatusPage serve(RegionRouter router, String trustDomain, HttpClientOptions upstreamOptions) {
        StatusPage page = new StatusPage(router, trustDomain, upstreamOptions);
        router.serveHttp(page);
        return page;
    }

    private synchronized void sample() {
        long now = System.nanoTime();
        samples.addLast(new long[] {now, router.status().counters().writesOk()});
        while (samples.size() > WRITE_RATE_SAMPLES + 1) {
            samples.removeFirst();
        }
        long[] first = samples.getFirst();
        double seconds = (now - first[0]) / 1e9;
        writesPerSecond = seconds <= 0 ? 0 : (samples.getLast()[1] - first[1]) / seconds;
    }

    @Override
    public void handle(HttpServerRequest req) {
        String path = req.path();
        if (!PATH.equals(path) && !JSON_PATH.equals(path)) {
            plain(req, 404, "not found: the status page is at " + PATH);
            return;
        }
        Optional<Principal> caller = Identities.fromPeer(req.connection(), trustDomain);
        if (caller.isEmpty()) {
            plain(req, 401, "the status page needs the operator's client certificate (operator.crt of the deployment's PKI)");
            return;
        }
        if (!(caller.get() instanceof Principal.Operator)) {
            LOG.info(() -> "status page refused to " + caller.get() + " (operator only)");
            plain(req, 403, "the status page is for the operator's certificate only");
            return;
        }
        // The nodes are asked on behalf of this operator, proved to them by its own certificate.
        Optional<String> operatorCertificate = ForwardedCertificate.ofPeer(req.connection());
        snapshot(operatorCertificate.orElse(null)).onComplete(ar -> {
            if (ar.failed()) {
                plain(req, 500, "cannot build the status: " + ar.cause());
                return;
            }
            if (JSON_PATH.equals(path)) {
                secure(req).putHeader("content-type", "application/json").end(ar.result().encode());
                return;
            }
            String nonce = Base64.getUrlEncoder().withoutPadding().encodeToString(random.generateSeed(16));
            // The first state is in the page itself, so it shows the truth before the first poll answers.
            String initial = ar.result().encode().replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026");
            secure(req).putHeader("content-type", "text/html; charset=utf-8")
                    .putHeader("content-security-policy", "default-src 'none'; script-src 'nonce-" + nonce
                            + "'; style-src 'unsafe-inline'; connect-src 'self'")
                    .end(template.replace("{{nonce}}", nonce).replace("{{initial}}", initial)
                            .replace("{{jsonPath}}", JSON_PATH).replace("{{pollMs}}", Long.toString(PAGE_POLL_MS)));
        });
    }

    private static io.vertx.core.http.HttpServerResponse secure(HttpServerRequest req) {
        return req.response().putHeader("cache-control", "no-store").putHeader("x-frame-options", "DENY")
                .putHeader("x-content-type-options", "nosniff");
    }

    private static void plain(HttpServerRequest req, int status, String message) {
        secure(req).setStatusCode(status).putHeader("content-type", "text/plain; charset=utf-8").end(message + "\n");
    }

    /**
     * Everything the page shows, as JSON: the router's view, each node's own account, failovers, write rate. The nodes
     * are asked as the operator whose certificate (encoded by {@link ForwardedCertificate#ofPeer}) is given; null:
     * they refuse, and the page shows their refusal.
     */
    public Future<JsonObject> snapshot(String operatorCertificate) {
        RouterStatus st = router.status();
        List<Future<JsonObject>> regions = new ArrayList<>();
        for (RouterConfig.UpstreamConfig u : router.config().upstreams()) {
            regions.add(nodeStatus(u, operatorCertificate));
        }
        return Future.join(regions).transform(ignored -> {
            JsonArray rs = new JsonArray();
            String leader = "";
            long epoch = 0;
            int syncCopies = 0;
            for (Future<JsonObject> f : regions) {
                JsonObject r = f.result();
                rs.add(r);
                if ("leader".equals(r.getString("role")) && r.getLong("epoch", 0L) >= epoch) {
                    leader = r.getString("region");
                    epoch = r.getLong("epoch");
                    syncCopies = r.getInteger("syncCopies", 0);
                }
            }
            String leaderSource = leader.isEmpty() ? "" : "the node itself";
            if (leader.isEmpty() && !st.leaderRegion().isEmpty()) {
                leader = st.leaderRegion();
                epoch = st.leaderEpoch();
                leaderSource = "the router's health checks (the node's own status did not answer)";
            }
            JsonArray upstreams = new JsonArray();
            for (RouterStatus.UpstreamStatus u : st.upstreams()) {
                upstreams.add(new JsonObject().put("region", u.region()).put("address", u.address())
                        .put("reachable", u.reachable()).put("serving", u.serving()).put("epoch", u.epoch())
                        .put("leader", u.leader()).put("breaker", u.breaker()).put("lastError", u.lastError()));
            }
            JsonArray failovers = new JsonArray();
            for (LeadershipLog.Change c : router.leadershipChanges()) {
                failovers.add(new JsonObject().put("atMs", c.atMs()).put("from", c.from()).put("to", c.to())
                        .put("epoch", c.epoch()).put("withoutLeaderMs", c.withoutLeaderMs()).put("reason", c.reason()));
            }
            return Future.succeededFuture(new JsonObject().put("generatedAtMs", System.currentTimeMillis())
                    .put("pollMs", PAGE_POLL_MS)
                    .put("leader", new JsonObject().put("region", leader).put("epoch", epoch).put("source", leaderSource))
                    .put("syncCopies", syncCopies)
                    .put("router", new JsonObject().put("explanation", st.explanation()).put("usable", st.leaderUsable())
                            .put("highestEpochSeen", st.highestEpochSeen()).put("waitingCalls", st.holdQueueDepth())
                            .put("upstreams", upstreams))
                    .put("regions", rs)
                    .put("failovers", failovers)
                    .put("writeRate", new JsonObject().put("perSecond", Math.round(writesPerSecond * 10) / 10.0)
                            .put("windowSeconds", WRITE_RATE_SAMPLES * WRITE_RATE_SAMPLE_MS / 1000)
                            .put("writesOkSinceStart", st.counters().writesOk())));
        });
    }

    /** One node's own account, asked on behalf of the operator; never fails (an error is shown as such). */
    private Future<JsonObject> nodeStatus(RouterConfig.UpstreamConfig u, String operatorCertificate) {
        JsonObject base = new JsonObject().put("region", u.region()).put("address", u.host() + ":" + u.port());
        long started = System.nanoTime();
        return nodes.request(io.vertx.core.net.SocketAddress.inetSocketAddress(u.port(), u.host()), NodeServiceGrpcClient.GetNodeStatus)
                .compose(call -> {
                    if (operatorCertificate != null) {
                        call.headers().set(ForwardedCertificate.OPERATOR_HEADER, operatorCertificate);
                    }
                    call.end(GetNodeStatusRequest.getDefaultInstance());
                    return call.response().compose(resp -> resp.last().recover(err -> Future.failedFuture(
                            resp.status() != null && resp.status() != GrpcStatus.OK ? resp.status() + " " + resp.statusMessage()
                                    : String.valueOf(err.getMessage()))));
                })
                .timeout(NODE_ANSWER_TIMEOUT_MS, TimeUnit.MILLISECONDS)
                .map(s -> base.mergeIn(NodeStatusJson.fields(s)).put("answered", true)
                        .put("answerMs", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)))
                .otherwise(err -> base.put("answered", false).put("role", "unknown").put("error",
                        err instanceof java.util.concurrent.TimeoutException
                                ? "no answer in " + NODE_ANSWER_TIMEOUT_MS + " ms" : String.valueOf(err.getMessage())));
    }

    private static String resource(String name) {
        try (InputStream in = StatusPage.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + name + " next to " + StatusPage.class.getName());
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        router.serveHttp(null);
        router.vertx().cancelTimer(samplerId);
        nodes.close();
    }
}
