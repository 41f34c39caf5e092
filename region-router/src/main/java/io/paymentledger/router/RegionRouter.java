package io.paymentledger.router;

import io.paymentledger.router.health.Breaker;
import io.paymentledger.router.health.LeaderTracker;
import io.paymentledger.router.health.Upstream;
import io.paymentledger.router.limits.HoldQueue;
import io.paymentledger.router.limits.MerchantLimiter;
import io.paymentledger.router.routing.Forwarder;
import io.paymentledger.router.routing.HoldWaker;
import io.paymentledger.router.routing.Metadata;
import io.micrometer.core.instrument.Gauge;
import io.paymentledger.telemetry.metrics.ProcessMetrics;
import io.paymentledger.telemetry.metrics.RequestMetrics;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpVersion;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientOptions;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.health.HealthService;
import io.vertx.grpc.health.handler.GrpcHealthCheckV1Handler;
import io.vertx.grpc.health.v1.HealthCheckResponse;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.GrpcServerOptions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.logging.Logger;

/**
 * The region router: a gRPC proxy in front of the ledger's regions that forwards every ledger.v1 call to the
 * region that leads (bounded-staleness reads also to a standby), holds and retries calls while leadership
 * moves, and protects the regions (outlier ejection, circuit breaker, per-merchant limits).
 *
 * <pre>{@code
 * RegionRouter router = RegionRouter.start(vertx, RouterConfig.builder()
 *         .upstream("a", "10.0.0.1", 7001).upstream("b", "10.0.1.1", 7001).build());
 * router.port(); router.status(); router.onLeaderChange("b", 8); router.close();
 * }</pre>
 *
 * Its own {@code grpc.health.v1.Health} says SERVING while it knows a usable leader, with that leader's
 * region and epoch in {@code x-ledger-region} / {@code x-ledger-epoch}.
 */
public final class RegionRouter implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(RegionRouter.class.getName());
    /** The services the router's own health answers for ("" is the router as a whole). */
    public static final Set<String> HEALTH_SERVICES = Set.of("", "ledger.v1.LedgerService", "ledger.v1.PaymentsService",
            "ledger.v1.NodeService");

    /**
     * Server verticles, one per core: each has its own event loop, merchant server (the listening socket is shared)
     * and upstream client (its own connections to the nodes). On one event loop the router's TLS and HTTP/2 work
     * for every call queued behind one thread.
     */
    static final int SERVER_INSTANCES = Math.max(2, Runtime.getRuntime().availableProcessors());

    private final Vertx vertx;
    private final RouterConfig config;
    private final ProcessMetrics metrics = new ProcessMetrics("router");
    private final Counters counters = new Counters(metrics.registry());
    private final RequestMetrics requests = new RequestMetrics(metrics.registry(), "ledger_router_request",
            "calls the router answered, by method and status (router time: holds and retries included)");
    /** Spans of forwarded calls, exported over OTLP when configured (see Telemetry). */
    private final io.paymentledger.telemetry.Telemetry telemetry = io.paymentledger.telemetry.Telemetry.fromEnvironment("ledger-router");
    private final io.paymentledger.router.health.LeadershipLog leadership = new io.paymentledger.router.health.LeadershipLog();
    /** GET requests on the merchants' port (the status page); null: every request is gRPC. */
    private volatile io.vertx.core.Handler<io.vertx.core.http.HttpServerRequest> httpPages;
    private final HoldQueue hold;
    /** The router's connections to the nodes (health checks and forwarding), closed when a node is found unreachable. */
    private final io.paymentledger.router.health.UpstreamConnections connections = new io.paymentledger.router.health.UpstreamConnections();
    private final MerchantLimiter merchants;
    private final List<HttpServer> servers = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile HealthVerticle health;
    private volatile int port;
    private final List<String> deploymentIds = new java.util.concurrent.CopyOnWriteArrayList<>();

    private RegionRouter(Vertx vertx, RouterConfig config) {
        this.vertx = vertx;
        this.config = config;
        this.hold = new HoldQueue(config.holdQueueCalls(), config.holdQueueBytes());
        this.merchants = new MerchantLimiter(config.merchantConcurrentCalls(), config.unverifiedConcurrentCalls());
        Gauge.builder("ledger_router_hold_queue_depth", hold, HoldQueue::depth)
                .description("calls waiting in the router for a leader or their next retry").register(metrics.registry());
        Gauge.builder("ledger_router_hold_queue_bytes", hold, HoldQueue::bytes)
                .description("request bytes the waiting calls buffer").register(metrics.registry());
        Gauge.builder("ledger_router_hold_queue_capacity", hold, HoldQueue::maxCalls)
                .description("calls the hold queue takes at most (beyond: UNAVAILABLE)").register(metrics.registry());
        Gauge.builder("ledger_router_leader_usable", this, r -> r.startedView() != null && leaderUsable(r.startedView()) ? 1 : 0)
                .description("1 while the router knows a usable leader (writes flow; its health is SERVING)").register(metrics.registry());
        Gauge.builder("ledger_router_leader_epoch", this, r -> r.startedView() == null || r.startedView().leader() == null ? 0
                        : r.startedView().leader().epoch())
                .description("epoch of the leader the router routes writes to (0: none)").register(metrics.registry());
    }

    /** The leadership view, or null before the health checks started. */
    private LeaderTracker.View startedView() {
        HealthVerticle h = health;
        return h == null || h.tracker == null ? null : h.tracker.view();
    }

    /** The router's metrics (served at /metrics on its port); the process adds its certificates' expiry. */
    public ProcessMetrics metrics() {
        return metrics;
    }

    /** Starts a router and waits until it listens. Not on an event loop (use {@link #startAsync} there). */
    public static RegionRouter start(Vertx vertx, RouterConfig config) {
        return startAsync(vertx, config).await();
    }

    public static Future<RegionRouter> startAsync(Vertx vertx, RouterConfig config) {
        RegionRouter router = new RegionRouter(vertx, config);
        HealthVerticle h = router.new HealthVerticle();
        router.health = h;
        // Verticle instances of one deployment share an explicit port; with port 0 each would get its own.
        HttpServerOptions options = new HttpServerOptions(config.serverOptions());
        if (options.getPort() == 0) {
            options.setPort(freePort(options.getHost()));
        }
        return vertx.deployVerticle(h).compose(id -> {
            router.deploymentIds.add(id);
            return vertx.deployVerticle(() -> router.new ServerVerticle(options),
                    new DeploymentOptions().setInstances(SERVER_INSTANCES));
        }).map(id -> {
            router.deploymentIds.add(id);
            router.port = router.servers.get(0).actualPort();
            LOG.info(() -> "router listening on " + config.serverOptions().getHost() + ":" + router.port() + " for "
                    + config.upstreams().size() + " regions " + config.upstreams() + " (" + SERVER_INSTANCES + " event loops)");
            return router;
        }).recover(err -> router.closeAsync().transform(ignored -> Future.failedFuture(err)));
    }

    private static int freePort(String host) {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName(host))) {
            return s.getLocalPort();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("no free port on " + host, e);
        }
    }

    /** The port merchants connect to. */
    public int port() {
        return port;
    }

    public RouterConfig config() {
        return config;
    }

    /**
     * The coordinator's push: {@code region} now leads with {@code epoch}. Raises the highest epoch at once (so
     * the former leader is deposed and its calls are cut without waiting for a health check) and checks every
     * upstream now; the new leader gets traffic as soon as its own health check confirms it serves that epoch.
     */
    public void onLeaderChange(String region, long epoch) {
        health.tracker.onLeaderChange(region, epoch);
    }

    /**
     * Serves new TLS material (a renewed certificate, a new CRL) to new merchant connections, without a restart.
     * The upstream side keeps the certificate it started with: restart the router before that one expires.
     */
    public Future<Boolean> updateServerSsl(io.vertx.core.net.ServerSSLOptions options) {
        List<Future<Boolean>> updates = new ArrayList<>();
        for (HttpServer s : servers) {
            updates.add(s.updateSSLOptions(options, true));
        }
        return Future.all(updates).map(all -> updates.stream().allMatch(Future::result));
    }

    /** Leadership changes as this router saw them (newest first, bounded). */
    public java.util.List<io.paymentledger.router.health.LeadershipLog.Change> leadershipChanges() {
        return leadership.changes();
    }

    /**
     * Serves plain HTTP GET requests on the merchants' port with {@code handler} (the status page); gRPC calls are
     * POSTs and never reach it. The handler decides who may see what (the port asks for, but does not require, a
     * client certificate).
     */
    public void serveHttp(io.vertx.core.Handler<io.vertx.core.http.HttpServerRequest> handler) {
        httpPages = handler;
    }

    public Vertx vertx() {
        return vertx;
    }

    /** A snapshot for {@code ./ledger status}. */
    public RouterStatus status() {
        HealthVerticle v = health;
        LeaderTracker.View view = v.tracker.view();
        long now = System.nanoTime();
        List<RouterStatus.UpstreamStatus> ups = new ArrayList<>();
        for (Upstream u : v.upstreams) {
            Breaker b = u.breaker();
            ups.add(new RouterStatus.UpstreamStatus(u.region(), u.addressText(), u.reachable(), u.serving(), u.epoch(),
                    u.role(), u == view.leader(), b.ejected(now), b.ejectedForMs(now), b.state(now).name(), u.inFlight(),
                    b.consecutiveFailures(), b.ejections(), u.checkFailures(),
                    u.checked() ? (now - u.lastCheckNanos()) / 1_000_000L : -1, u.lastError()));
        }
        Upstream leader = view.leader();
        boolean usable = leaderUsable(view);
        String explanation = view.explanation() + (leader != null && !usable ? ", but it is ejected" : "");
        return new RouterStatus(leader == null ? "" : leader.region(), leader == null ? 0 : leader.epoch(),
                view.highestEpoch(), usable, explanation, List.copyOf(ups), hold.depth(), hold.bytes(),
                merchants.snapshot(), counters.snapshot());
    }

    private static boolean leaderUsable(LeaderTracker.View view) {
        return view.leader() != null && view.leader().breaker().available(System.nanoTime());
    }

    public Future<Void> closeAsync() {
        List<Future<Void>> undeploys = new ArrayList<>();
        // Servers first (stop taking calls), the health checks last.
        List<String> ids = new ArrayList<>(deploymentIds);
        deploymentIds.clear();
        java.util.Collections.reverse(ids);
        Future<Void> chain = Future.succeededFuture();
        for (String id : ids) {
            chain = chain.compose(v -> vertx.undeploy(id));
        }
        return chain.andThen(ignored -> telemetry.close());
    }

    @Override
    public void close() {
        closeAsync().await();
    }

    /**
     * The leadership view: health checks of every upstream, on this one verticle's context. The upstreams (with
     * their breakers and in-flight sets), the hold queue and the merchant limiter are shared by the server
     * verticles and thread-safe.
     */
    private final class HealthVerticle extends VerticleBase {
        private LeaderTracker tracker;
        private List<Upstream> upstreams;
        private GrpcClient healthClient;

        @Override
        public Future<?> start() {
            healthClient = connections.client(vertx,
                    new GrpcClientOptions().setMaxMessageSize(64 * 1024).setScheduleDeadlineAutomatically(true),
                    http2(config.upstreamClientOptions(), config.healthCheckTimeoutMs()));
            upstreams = new ArrayList<>();
            for (RouterConfig.UpstreamConfig u : config.upstreams()) {
                upstreams.add(new Upstream(u, new Breaker(config.outlierFailures(), config.outlierEjectionMs(),
                        config.outlierEjectionMaxMs()), config.upstreamInFlightCalls()));
            }
            tracker = new LeaderTracker(vertx, context, healthClient, connections, upstreams, config,
                    LeaderTracker.Listener.both(new HoldWaker(hold, counters), leadership));
            tracker.start();
            return Future.succeededFuture();
        }

        @Override
        public Future<?> stop() {
            tracker.stop();
            return healthClient.close();
        }
    }

    /** One event loop's merchant server and upstream client; every call runs on the context it arrived on. */
    private final class ServerVerticle extends VerticleBase {
        private final HttpServerOptions options;
        private HttpServer server;
        private GrpcClient upstreamClient;

        ServerVerticle(HttpServerOptions options) {
            this.options = options;
        }

        @Override
        public Future<?> start() {
            LeaderTracker tracker = health.tracker;
            upstreamClient = connections.client(vertx,
                    new GrpcClientOptions().setMaxMessageSize(config.maxMessageBytes()).setScheduleDeadlineAutomatically(false),
                    http2(config.upstreamClientOptions(), config.upstreamConnectTimeoutMs()));
            Forwarder forwarder = new Forwarder(vertx, config, upstreamClient, hold, merchants, counters, requests, telemetry);
            forwarder.tracker(tracker);

            GrpcServer grpc = GrpcServer.server(vertx, new GrpcServerOptions()
                    .setMaxMessageSize(config.maxMessageBytes()).setScheduleDeadlineAutomatically(false));
            HealthService healthService = HealthService.create(vertx);
            for (String name : HEALTH_SERVICES) {
                healthService.register(name, () -> Future.succeededFuture(leaderUsable(tracker.view())));
            }
            grpc.addService(healthService);
            // Check answers itself to add the leader's region and epoch (Watch and List stay Vert.x's).
            grpc.callHandler(GrpcHealthCheckV1Handler.SERVICE_METHOD, null);
            grpc.callHandler(GrpcHealthCheckV1Handler.SERVICE_METHOD, call -> call.last().onSuccess(req -> {
                LeaderTracker.View view = tracker.view();
                if (view.leader() != null) {
                    call.response().headers().set(LeaderTracker.REGION_HEADER, view.leader().region())
                            .set(LeaderTracker.EPOCH_HEADER, Long.toString(view.leader().epoch()));
                }
                call.response().headers().set(Metadata.REQUEST_ID, Metadata.requestId(call.headers()));
                if (!HEALTH_SERVICES.contains(req.getService())) {
                    call.response().status(GrpcStatus.NOT_FOUND).statusMessage("unknown service " + req.getService()).end();
                    return;
                }
                call.response().end(HealthCheckResponse.newBuilder().setStatus(leaderUsable(view)
                        ? HealthCheckResponse.ServingStatus.SERVING : HealthCheckResponse.ServingStatus.NOT_SERVING).build());
            }));
            grpc.callHandler(forwarder::handle);
            return vertx.createHttpServer(options).requestHandler(req -> {
                var pages = httpPages;
                if (metrics.handle(req, config.metricsReaders())) {
                    return;
                }
                if (pages != null && req.method() == io.vertx.core.http.HttpMethod.GET) {
                    pages.handle(req);
                } else {
                    grpc.handle(req);
                }
            }).listen().onSuccess(s -> {
                server = s;
                servers.add(s);
            });
        }

        @Override
        public Future<?> stop() {
            if (server != null) {
                servers.remove(server);
            }
            return Future.join(server == null ? Future.succeededFuture() : server.close(), upstreamClient.close());
        }
    }

    private static HttpClientOptions http2(HttpClientOptions base, long connectTimeoutMs) {
        HttpClientOptions o = new HttpClientOptions(base).setProtocolVersion(HttpVersion.HTTP_2)
                .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, connectTimeoutMs));
        if (o.isSsl()) {
            o.setUseAlpn(true);
        } else {
            o.setHttp2ClearTextUpgrade(false);
        }
        return o;
    }
}
