package io.paymentledger.router.routing;

import io.paymentledger.router.Counters;
import io.paymentledger.telemetry.metrics.RequestMetrics;
import io.paymentledger.router.RouterConfig;
import io.paymentledger.router.health.LeaderTracker;
import io.paymentledger.router.health.Upstream;
import io.paymentledger.router.limits.HoldQueue;
import io.paymentledger.router.limits.MerchantLimiter;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.GrpcServerRequest;
import io.vertx.grpc.server.GrpcServerResponse;
import io.vertx.grpc.server.StatusException;
import java.util.Set;
import java.util.logging.Logger;

/**
 * The front door of every forwarded call: correlation id, method lookup, merchant limit; then a
 * {@link ProxyCall} takes over. Also what calls share: the upstream client, the leadership view, the hold queue.
 */
public final class Forwarder {

    private static final Logger LOG = Logger.getLogger(Forwarder.class.getName());

    final Vertx vertx;
    final RouterConfig config;
    final RouteTable routes;
    final GrpcClient client;
    final HoldQueue hold;
    final MerchantLimiter merchants;
    final Counters counters;
    final RequestMetrics requests;
    /** Tracing (no-op unless an OTLP endpoint is configured). */
    final io.paymentledger.telemetry.Telemetry telemetry;
    private LeaderTracker tracker;

    public Forwarder(Vertx vertx, RouterConfig config, GrpcClient client, HoldQueue hold, MerchantLimiter merchants,
            Counters counters, RequestMetrics requests, io.paymentledger.telemetry.Telemetry telemetry) {
        this.requests = requests;
        this.vertx = vertx;
        this.telemetry = telemetry;
        this.config = config;
        this.routes = new RouteTable(config.services(), config.nonIdempotentMethods());
        this.client = client;
        this.hold = hold;
        this.merchants = merchants;
        this.counters = counters;
    }

    public void tracker(LeaderTracker tracker) {
        this.tracker = tracker;
    }

    LeaderTracker tracker() {
        return tracker;
    }

    public RouteTable routes() {
        return routes;
    }

    /** Handles one incoming call (on the server's context). */
    public void handle(GrpcServerRequest<Buffer, Buffer> in) {
        long arrivedNanos = System.nanoTime();
        counters.received.increment();
        String requestId = Metadata.requestId(in.headers());
        GrpcServerResponse<Buffer, Buffer> response = in.response();
        response.headers().set(Metadata.REQUEST_ID, requestId);
        Route route = routes.route(in.fullMethodName());
        if (route == null) {
            counters.rejectedUnknownMethod.increment();
            requests.method(RequestMetrics.UNKNOWN_METHOD).record(GrpcStatus.UNIMPLEMENTED, arrivedNanos);
            reject(in, GrpcStatus.UNIMPLEMENTED, "the ledger router does not forward " + in.fullMethodName()
                    + " (request " + requestId + ")", false);
            LOG.info(() -> "request " + requestId + " " + in.fullMethodName() + ": unknown method, UNIMPLEMENTED");
            return;
        }
        String merchant;
        try {
            merchant = config.merchantResolver().resolve(in);
        } catch (StatusException e) {
            counters.rejectedInvalid.increment();
            requests.method(route.fullMethodName()).record(e.status(), arrivedNanos);
            reject(in, e.status(), e.message() + " (request " + requestId + ")", false);
            LOG.info(() -> "request " + requestId + " " + in.fullMethodName() + ": " + e.status() + ": " + e.message());
            return;
        }
        if (!merchants.tryAcquire(merchant)) {
            counters.rejectedMerchantLimit.increment();
            requests.method(route.fullMethodName()).record(GrpcStatus.RESOURCE_EXHAUSTED, arrivedNanos);
            reject(in, GrpcStatus.RESOURCE_EXHAUSTED, "merchant " + merchant + " already has "
                    + merchants.limitFor(merchant) + " calls in the router, its limit (" + merchants.limitName(merchant) + "); retry when one"
                    + " of them completes (request " + requestId + ")", true);
            LOG.fine(() -> "request " + requestId + " " + in.fullMethodName() + " merchant=" + merchant
                    + ": over the merchant limit, RESOURCE_EXHAUSTED");
            return;
        }
        new ProxyCall(this, in, vertx.getOrCreateContext(), requestId, route, merchant).start();
    }

    private void reject(GrpcServerRequest<Buffer, Buffer> in, GrpcStatus status, String message, boolean retryHint) {
        in.invalidMessageHandler(ignored -> { });
        in.exceptionHandler(ignored -> { });
        GrpcServerResponse<Buffer, Buffer> response = in.response();
        if (retryHint) {
            response.headers().set(Metadata.RETRY_AFTER_MS, Long.toString(config.retryAfterMs()));
            response.headers().set(Metadata.GRPC_RETRY_PUSHBACK_MS, Long.toString(config.retryAfterMs()));
        }
        try {
            response.status(status).statusMessage(message).end();
        } catch (IllegalStateException alreadyClosed) {
            // the client went away first
        }
    }

    /**
     * Where a call goes now: for a bounded-staleness read ({@code stalenessBoundMs} >= 0), a usable standby that may
     * be within the bound by its last health check (fewest calls in flight); else the leader; null when neither is
     * usable (the call waits).
     */
    Upstream pick(long stalenessBoundMs, Set<Upstream> avoid, long nowNanos) {
        LeaderTracker.View v = tracker.view();
        if (stalenessBoundMs >= 0) {
            Upstream best = null;
            for (Upstream s : v.standbys()) {
                if (!avoid.contains(s) && s.breaker().available(nowNanos) && s.mayBeWithin(stalenessBoundMs, nowNanos)
                        && (best == null || s.inFlight() < best.inFlight())) {
                    best = s;
                }
            }
            if (best != null) {
                return best;
            }
        }
        Upstream leader = v.leader();
        if (leader != null && leader.breaker().available(nowNanos)) {
            return leader;
        }
        return null;
    }
}
