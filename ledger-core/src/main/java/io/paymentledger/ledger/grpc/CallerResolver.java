package io.paymentledger.ledger.grpc;

import io.paymentledger.ledger.Caller;
import io.vertx.core.Future;
import io.vertx.grpc.server.GrpcServerRequest;

/**
 * Decides who a call comes from (peer certificate, the identity the region router forwards, or an API key). Called
 * on the node's event loop, so it must never block there: what needs I/O completes the future later, on the call's
 * context. Fails with {@link io.vertx.grpc.server.StatusException} UNAUTHENTICATED / PERMISSION_DENIED when the
 * caller cannot be trusted, RESOURCE_EXHAUSTED / UNAVAILABLE when it cannot be told now.
 */
@FunctionalInterface
public interface CallerResolver {

    Future<Caller> resolve(GrpcServerRequest<?, ?> request);

    /**
     * May this HTTP request read the node's {@code /metrics}? By default only without TLS (a test node on loopback);
     * a resolver that knows certificates says whom it trusts ({@link io.paymentledger.telemetry.metrics.ProcessMetrics#peerMayRead}).
     */
    default boolean mayReadMetrics(io.vertx.core.http.HttpServerRequest request) {
        return !request.isSSL();
    }

    /** Everyone is the operator: only for a node that listens without TLS on loopback in tests. */
    CallerResolver TRUST_ALL_AS_OPERATOR = request -> Future.succeededFuture(Caller.OPERATOR);
}
