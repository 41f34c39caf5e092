package io.paymentledger.client;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientResponse;
import io.vertx.grpc.client.InvalidStatusException;
import io.vertx.grpc.common.GrpcErrorException;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * One try of a unary call through Vert.x's request API (the generated client drops status messages, STACK.md
 * §1.3): the deadline travels as {@code grpc-timeout}; a non-OK status fails the future with a {@link Failed}.
 */
final class Attempt {

    private Attempt() {}

    /** How one attempt failed. */
    static final class Failed extends Exception {
        final GrpcStatus status;

        Failed(GrpcStatus status, String message) {
            super(message, null, false, false);
            this.status = status;
        }
    }

    static <Req, Resp> Future<Resp> unary(GrpcClient grpc, SocketAddress target, ServiceMethod<Resp, Req> method, Req message,
            long timeoutMs, MultiMap headers) {
        return grpc.request(target, method).compose(req -> {
            req.headers().addAll(headers);
            req.timeout(timeoutMs, TimeUnit.MILLISECONDS);
            req.end(message);
            return req.response().compose(resp -> resp.last().recover(err -> Future.failedFuture(failure(resp, err))));
        }).recover(err -> Future.failedFuture(err instanceof Failed ? err : classify(err)));
    }

    private static Failed failure(GrpcClientResponse<?, ?> resp, Throwable err) {
        GrpcStatus status = resp.status();
        if (status == null || status == GrpcStatus.OK) {
            return classify(err);
        }
        String message = resp.statusMessage();
        if (message == null && resp.trailers() != null && resp.trailers().get("grpc-message") != null) {
            // Vert.x 5.0.7 does not read the message from trailers (router README): decode it ourselves.
            message = URLDecoder.decode(resp.trailers().get("grpc-message").replace("+", "%2B"), StandardCharsets.UTF_8);
        }
        return new Failed(status, message == null ? status.name() : message);
    }

    private static Failed classify(Throwable e) {
        if (e instanceof InvalidStatusException s) {
            return new Failed(s.actualStatus(), e.getMessage());
        }
        if (e instanceof GrpcErrorException g) {
            return new Failed(g.status(), e.getMessage());
        }
        // No status at all: the connection failed or was reset. Whether the request got through is unknown.
        String m = e.getMessage();
        return new Failed(GrpcStatus.UNAVAILABLE, "connection failed: " + (m == null ? e.getClass().getSimpleName() : m));
    }
}
