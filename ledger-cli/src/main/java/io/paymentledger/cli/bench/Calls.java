package io.paymentledger.cli.bench;

import io.vertx.core.Future;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientRequest;
import io.vertx.grpc.client.InvalidStatusException;
import io.vertx.grpc.common.GrpcErrorException;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One unary call through the Vert.x request API (STACK.md §1.3): the deadline travels as {@code grpc-timeout},
 * and a non-OK status is reported by its name (the generated client would drop it). Blocks the calling thread,
 * which is meant to be a virtual thread (never an event loop).
 */
final class Calls {

    private Calls() {}

    /**
     * Statuses after which the write certainly did not happen (rejected before the writer took it). Any other
     * failure leaves the outcome unknown: the benchmark then looks the ids up before it checks balances.
     */
    private static final Set<GrpcStatus> NOT_WRITTEN = Set.of(GrpcStatus.RESOURCE_EXHAUSTED, GrpcStatus.INVALID_ARGUMENT,
            GrpcStatus.PERMISSION_DENIED, GrpcStatus.UNAUTHENTICATED, GrpcStatus.UNIMPLEMENTED, GrpcStatus.NOT_FOUND,
            GrpcStatus.FAILED_PRECONDITION);

    /** A call that did not end with OK. */
    static final class Failure extends Exception {
        /** How the error is counted, e.g. "UNAVAILABLE" or "client: no answer in time". */
        final String key;
        /** The write may or may not have happened. */
        final boolean ambiguous;

        Failure(String key, boolean ambiguous) {
            super(key, null, false, false);
            this.key = key;
            this.ambiguous = ambiguous;
        }

        static Failure of(GrpcStatus status) {
            return new Failure(status.name(), !NOT_WRITTEN.contains(status));
        }
    }

    static <Req, Resp> Resp unary(GrpcClient grpc, SocketAddress target, ServiceMethod<Resp, Req> method, Req message,
            long timeoutMs) throws Failure {
        AtomicReference<GrpcClientRequest<Req, Resp>> sent = new AtomicReference<>();
        Future<Resp> answer = grpc.request(target, method).compose(req -> {
            sent.set(req);
            req.timeout(timeoutMs, TimeUnit.MILLISECONDS);
            req.end(message);
            return req.response().compose(resp -> resp.last().recover(err -> Future.failedFuture(
                    resp.status() != null && resp.status() != GrpcStatus.OK ? Failure.of(resp.status()) : err)));
        });
        try {
            // The server ends the call at the deadline; the extra 2 s only guards against a peer that never answers.
            return answer.await(timeoutMs + 2_000, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            GrpcClientRequest<Req, Resp> req = sent.get();
            if (req != null) {
                try {
                    req.cancel();
                } catch (RuntimeException ignored) {
                    // already ended
                }
            }
            throw new Failure("client: no answer by the deadline", true);
        } catch (Exception e) {
            throw classify(e);
        }
    }

    static Failure classify(Throwable e) {
        if (e instanceof Failure f) {
            return f;
        }
        if (e instanceof InvalidStatusException s) {
            return Failure.of(s.actualStatus());
        }
        if (e instanceof GrpcErrorException g) {
            return Failure.of(g.status());
        }
        String name = e.getClass().getSimpleName();
        return new Failure("client: " + (name.isEmpty() ? "error" : name), true);
    }
}
