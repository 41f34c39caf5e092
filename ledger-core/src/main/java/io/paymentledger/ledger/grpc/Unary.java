package io.paymentledger.ledger.grpc;

import io.paymentledger.ledger.Caller;
import io.paymentledger.ledger.write.WriteRejected;
import io.opentelemetry.api.trace.Span;
import io.paymentledger.security.identity.Identities;
import io.paymentledger.telemetry.Telemetry;
import io.paymentledger.telemetry.metrics.RequestMetrics;
import io.vertx.core.Future;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.GrpcServerRequest;
import io.vertx.grpc.server.GrpcServerResponse;
import io.vertx.grpc.server.StatusException;
import java.util.UUID;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Binds unary methods with what every ledger call needs: the caller's identity, the correlation id, the
 * deadline, and errors mapped to specific gRPC statuses (never UNKNOWN for a known cause).
 */
public final class Unary {

    private static final Logger LOG = Logger.getLogger(Unary.class.getName());
    public static final String REQUEST_ID = "x-request-id";

    @FunctionalInterface
    public interface Handler<Req, Resp> {
        Future<Resp> handle(CallContext ctx, Req request) throws StatusException;
    }

    private final GrpcServer server;
    private final CallerResolver callers;
    private final Telemetry telemetry;
    private final RequestMetrics requests;

    /** @param requests where every call's method, status and latency are recorded */
    public Unary(GrpcServer server, CallerResolver callers, RequestMetrics requests, Telemetry telemetry) {
        this.server = server;
        this.callers = callers;
        this.requests = requests;
        this.telemetry = telemetry;
    }

    public <Req, Resp> void bind(ServiceMethod<Req, Resp> method, Handler<Req, Resp> handler) {
        RequestMetrics.Method timers = requests.method(method.fullMethodName());
        server.callHandler(method, call -> {
            long startNanos = System.nanoTime();
            String requestId = requestId(call);
            call.response().headers().set(REQUEST_ID, requestId);
            Span span = telemetry.serverSpan(call.fullMethodName(), telemetry.extract(call.headers()), requestId);
            call.invalidMessageHandler(invalid -> timers.record(fail(call, requestId, span,
                    new StatusException(GrpcStatus.INVALID_ARGUMENT, "malformed or oversized request message: " + invalid.getMessage())),
                    startNanos));
            call.last().onComplete(ar -> {
                if (ar.failed()) {
                    // The request could not be read: undecodable bytes, no message, or more than one.
                    Throwable cause = ar.cause() instanceof StatusException ? ar.cause()
                            : new StatusException(GrpcStatus.INVALID_ARGUMENT, "malformed request message: " + ar.cause().getMessage());
                    timers.record(fail(call, requestId, span, cause), startNanos);
                    return;
                }
                long deadline = call.timeout() > 0 ? System.nanoTime() + call.timeout() * 1_000_000L : 0;
                Future<Resp> answer = resolve(call).compose(caller -> {
                    if (!caller.isOperator()) {
                        // Tells the region router whose API key this was, once this node verified it.
                        call.response().headers().set(Identities.CALLER_HEADER, caller.merchantId());
                    }
                    try {
                        return handler.handle(new CallContext(caller, requestId, deadline, span), ar.result());
                    } catch (RuntimeException e) {
                        return Future.failedFuture(e);
                    }
                });
                answer.onComplete(done -> {
                    if (done.succeeded()) {
                        call.response().end(done.result());
                        timers.record(GrpcStatus.OK, startNanos);
                        Telemetry.end(span, GrpcStatus.OK.code, null);
                    } else {
                        timers.record(fail(call, requestId, span, done.cause()), startNanos);
                    }
                });
            });
        });
    }

    /** The caller, resolved without blocking this event loop (API keys are looked up off it, bounded). */
    private Future<Caller> resolve(GrpcServerRequest<?, ?> call) {
        try {
            return callers.resolve(call);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
    }

    private static String requestId(GrpcServerRequest<?, ?> call) {
        String id = call.headers().get(REQUEST_ID);
        if (id == null || id.isBlank() || id.length() > 128) {
            return UUID.randomUUID().toString();
        }
        return id;
    }

    /** Answers the call with the status {@code cause} maps to; returns that status. */
    private static GrpcStatus fail(GrpcServerRequest<?, ?> call, String requestId, Span span, Throwable cause) {
        GrpcServerResponse<?, ?> response = call.response();
        GrpcStatus status;
        String message;
        if (cause instanceof StatusException se) {
            status = se.status();
            message = se.message();
        } else if (cause instanceof WriteRejected wr) {
            status = switch (wr.reason()) {
                case UNAVAILABLE -> GrpcStatus.UNAVAILABLE;
                case OVERLOADED -> GrpcStatus.RESOURCE_EXHAUSTED;
                case DEADLINE_EXCEEDED -> GrpcStatus.DEADLINE_EXCEEDED;
            };
            message = wr.getMessage();
        } else {
            status = GrpcStatus.INTERNAL;
            message = "internal error (request " + requestId + ")";
            LOG.log(Level.SEVERE, "request " + requestId + Telemetry.logTag(span) + " " + call.fullMethodName() + " failed", cause);
        }
        if (status != GrpcStatus.INTERNAL) {
            LOG.fine(() -> "request " + requestId + Telemetry.logTag(span) + " " + call.fullMethodName() + " -> " + status + ": " + message);
        }
        Telemetry.end(span, status.code, message);
        try {
            response.status(status).statusMessage(message).end();
        } catch (IllegalStateException alreadyEnded) {
            // the deadline already ended the call: nothing more to send
        }
        return status;
    }

    /** INVALID_ARGUMENT for the whole request. */
    public static StatusException invalid(String message) {
        return new StatusException(GrpcStatus.INVALID_ARGUMENT, message);
    }
}
