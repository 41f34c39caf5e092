package io.paymentledger.router;

import io.paymentledger.router.health.Breaker;
import io.paymentledger.router.health.LeaderTracker;
import io.paymentledger.router.health.Upstream;
import io.paymentledger.router.limits.HoldQueue;
import io.paymentledger.router.limits.MerchantLimiter;
import io.paymentledger.router.routing.Forwarder;
import io.paymentledger.router.routing.Metadata;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpServer;
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

    private final Vertx vertx;
    private final RouterConfig config;
    private final Counters counters = new Counters();
    private final HoldQueue hold;
    private final MerchantLimiter merchants;
    private volatile RouterVerticle verticle;
    private volatile String deploymentId;

    private RegionRouter(Vertx vertx, RouterConfig config) {
        this.vertx = vertx;
        this.config = config;
        this.hold = new HoldQueue(config.holdQueueCalls(), config.holdQueueBytes());
        this.merchants = new MerchantLimiter(config.merchantConcurrentCalls(), config.unverifiedConcurrentCalls());
    }

    /** Starts a router and waits until it listens. Not on an event loop (use {@link #startAsync} there). */
    public static RegionRouter start(Vertx vertx, RouterConfig config) {
        return startAsync(vertx, config).await();
    }

    public static Future<RegionRouter> startAsync(Vertx vertx, RouterConfig config) {
        RegionRouter router = new RegionRouter(vertx, config);
        RouterVerticle v = router.new RouterVerticle();
        router.verticle = v;
        return vertx.deployVerticle(v).map(id -> {
            router.deploymentId = id;
            LOG.info(() -> "router listening on " + config.serverOptions().getHost() + ":" + router.port() + " for "
                    + config.upstreams().size() + " regions " + config.upstreams());
            return router;
        });
    }

    /** The port merchants connect to. */
    public int port() {
        return verticle.server.actualPort();
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
        verticle.tracker.onLeaderChange(region, epoch);
    }

    /**
     * Serves new TLS material (a renewed certificate, a new CRL) to new merchant connections, without a restart.
     * The upstream side keeps the certificate it started with: restart the router before that one expires.
     */
    public Future<Boolean> updateServerSsl(io.vertx.core.net.ServerSSLOptions options) {
        return verticle.server.updateSSLOptions(options, true);
    }

    /** A snapshot for {@code ./ledger status}. */
    public RouterStatus status() {
        RouterVerticle v = verticle;
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
        String id = deploymentId;
        if (id == null) {
            return Future.succeededFuture();
        }
        deploymentId = null;
        return vertx.undeploy(id);
    }

    @Override
    public void close() {
        closeAsync().await();
    }

    /** Everything runs on this verticle's context: the server, the calls, the health checks. */
    private final class RouterVerticle extends VerticleBase {
        private HttpServer server;
        private LeaderTracker tracker;
        private List<Upstream> upstreams;
        private GrpcClient upstreamClient;
        private GrpcClient healthClient;

        @Override
        public Future<?> start() {
            upstreamClient = GrpcClient.builder(vertx)
                    .with(new GrpcClientOptions().setMaxMessageSize(config.maxMessageBytes()).setScheduleDeadlineAutomatically(false))
                    .with(http2(config.upstreamClientOptions(), config.upstreamConnectTimeoutMs()))
                    .build();
            healthClient = GrpcClient.builder(vertx)
                    .with(new GrpcClientOptions().setMaxMessageSize(64 * 1024).setScheduleDeadlineAutomatically(true))
                    .with(http2(config.upstreamClientOptions(), config.healthCheckTimeoutMs()))
                    .build();
            upstreams = new ArrayList<>();
            for (RouterConfig.UpstreamConfig u : config.upstreams()) {
                upstreams.add(new Upstream(u, new Breaker(config.outlierFailures(), config.outlierEjectionMs(),
                        config.outlierEjectionMaxMs()), config.upstreamInFlightCalls()));
            }
            Forwarder forwarder = new Forwarder(vertx, config, upstreamClient, hold, merchants, counters);
            tracker = new LeaderTracker(vertx, context, healthClient, upstreams, config, forwarder);
            forwarder.tracker(tracker);

            GrpcServer grpc = GrpcServer.server(vertx, new GrpcServerOptions()
                    .setMaxMessageSize(config.maxMessageBytes()).setScheduleDeadlineAutomatically(false));
            HealthService health = HealthService.create(vertx);
            for (String name : HEALTH_SERVICES) {
                health.register(name, () -> Future.succeededFuture(leaderUsable(tracker.view())));
            }
            grpc.addService(health);
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
            return vertx.createHttpServer(config.serverOptions()).requestHandler(grpc).listen().onSuccess(s -> {
                server = s;
                tracker.start();
            });
        }

        @Override
        public Future<?> stop() {
            tracker.stop();
            return Future.join(server == null ? Future.succeededFuture() : server.close(),
                    upstreamClient.close(), healthClient.close());
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
