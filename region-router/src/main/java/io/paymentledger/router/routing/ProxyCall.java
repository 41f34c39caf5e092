package io.paymentledger.router.routing;

import io.paymentledger.router.RouterConfig;
import io.paymentledger.router.health.Breaker;
import io.paymentledger.router.health.Upstream;
import io.paymentledger.router.limits.HoldQueue;
import io.paymentledger.router.limits.MerchantResolver;
import io.paymentledger.security.identity.ForwardedCertificate;
import io.paymentledger.telemetry.Telemetry;
import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.grpc.client.GrpcClientRequest;
import io.vertx.grpc.client.GrpcClientResponse;
import io.vertx.grpc.common.GrpcError;
import io.vertx.grpc.common.GrpcMessage;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.InvalidMessageException;
import io.vertx.grpc.common.MessageSizeOverflowException;
import io.vertx.grpc.common.WireFormat;
import io.vertx.grpc.server.GrpcServerRequest;
import io.vertx.grpc.server.GrpcServerResponse;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One forwarded call, from its first byte to its status. Runs entirely on the context of the incoming call.
 *
 * <p>Life of a call: RECEIVING (a unary request is buffered whole, so it can be replayed) → WAITING (no usable
 * upstream yet, or backing off before a retry; counted in the hold queue) → SENDING (one attempt in flight to
 * one upstream) → DONE. An attempt that fails before it can have reached a leader (connect failure, "not the
 * leader", or a reset by the router itself because the upstream lost leadership) goes back to WAITING, with
 * exponential backoff and jitter, within the call's hold time and its deadline. The client sees one answer.
 */
final class ProxyCall {

    private static final Logger LOG = Logger.getLogger(ProxyCall.class.getName());
    private static final Set<String> RESPONSE_SKIPPED = Set.of(Metadata.SERVED_BY);

    private enum State { RECEIVING, WAITING, SENDING, DONE }

    /** How an attempt failed, for the retry decision. */
    private enum Failure {
        /** The request cannot have reached the upstream (no connection). */
        NOT_SENT,
        /** The upstream said it is not the leader: nothing was applied. */
        NOT_APPLIED,
        /** The router reset it (the upstream lost leadership or became unreachable). */
        CUT,
        /** Anything else after the request was sent: it may have been applied. */
        SENT
    }

    private final Forwarder f;
    private final RouterConfig cfg;
    private final GrpcServerRequest<Buffer, Buffer> in;
    private final Context ctx;
    private final String requestId;
    private final Route route;
    private final String merchant;
    private final long arrivedNanos;
    private final long deadlineNanos;
    private final boolean clientDeadline;
    private final long holdUntilNanos;
    private final Set<Upstream> avoid = new HashSet<>(2);
    /** The router's span of this call (a child of the client's traceparent); invalid when not traced. */
    private final io.opentelemetry.api.trace.Span span;

    private State state = State.RECEIVING;
    private GrpcMessage request;
    private long requestBytes;
    private boolean bounded;
    /** The read's max_staleness_ms when {@link #bounded}. */
    private long stalenessBoundMs = ReadPeek.NOT_BOUNDED;
    private boolean admitted;
    private boolean everHeld;
    private Parked parked;
    private long retryTimer = -1;
    private long holdTimer = -1;
    private long deadlineTimer = -1;
    private Attempt attempt;
    private int attempts;
    private String lastProblem = "";
    private String servedBy = "";

    ProxyCall(Forwarder f, GrpcServerRequest<Buffer, Buffer> in, Context ctx, String requestId, Route route, String merchant) {
        this.f = f;
        this.cfg = f.config;
        this.in = in;
        this.ctx = ctx;
        this.requestId = requestId;
        this.route = route;
        this.merchant = merchant;
        this.arrivedNanos = System.nanoTime();
        long timeoutMs = in.timeout();
        this.clientDeadline = timeoutMs > 0;
        this.deadlineNanos = arrivedNanos + TimeUnit.MILLISECONDS.toNanos(clientDeadline ? timeoutMs : cfg.upstreamCallTimeoutMs());
        this.holdUntilNanos = Math.min(deadlineNanos, arrivedNanos + TimeUnit.MILLISECONDS.toNanos(cfg.holdTimeMs()));
        this.span = f.telemetry.serverSpan("router " + route.fullMethodName(), f.telemetry.extract(in.headers()), requestId);
    }

    /** A parked call in the hold queue; woken when the leadership view changes. */
    private final class Parked implements HoldQueue.Waiter {
        @Override
        public void wake() {
            ctx.runOnContext(v -> onWake(this));
        }
    }

    /** One try at one upstream. */
    private final class Attempt implements Upstream.InFlight {
        final Upstream upstream;
        final boolean leaderRouted;
        GrpcClientRequest<Buffer, Buffer> out;
        GrpcMessage responseMessage;
        /** Something of the response went to the client already (streams only): no retry any more. */
        boolean committed;
        boolean done;

        Attempt(Upstream upstream, boolean leaderRouted) {
            this.upstream = upstream;
            this.leaderRouted = leaderRouted;
        }

        @Override
        public boolean leaderRouted() {
            return leaderRouted;
        }

        @Override
        public void cut(Upstream u, String reason) {
            ctx.runOnContext(v -> onCut(this, reason));
        }
    }

    void start() {
        in.messageHandler(this::onMessage);
        in.endHandler(v -> onRequestEnd());
        in.errorHandler(this::onClientReset);
        in.exceptionHandler(this::onClientError);
        // A client whose connection closes after its request ended (a killed process, a dropped link) is told to the
        // response only: without this, the call to the region of a server stream (SubscribeEvents) went on for good.
        in.response().exceptionHandler(this::onClientError);
        in.invalidMessageHandler(this::onInvalidMessage);
        deadlineTimer = f.vertx.setTimer(Math.max(1, remainingMs()), id -> {
            deadlineTimer = -1;
            onDeadline();
        });
        if (!route.bufferedRequest()) {
            // A client stream is not buffered: it waits (paused) until an upstream is chosen, then flows through.
            in.pause();
            dispatch();
        }
    }

    // ---- receiving ----------------------------------------------------------------------------------------

    private void onMessage(GrpcMessage msg) {
        if (state != State.RECEIVING) {
            return;
        }
        if (request != null) {
            f.counters.rejectedInvalid.increment();
            fail(GrpcStatus.INVALID_ARGUMENT, route.fullMethodName() + " takes exactly one request message; this call sent more",
                    false);
            return;
        }
        request = msg;
        requestBytes = msg.payload().length();
    }

    private void onRequestEnd() {
        if (state != State.RECEIVING) {
            return;
        }
        if (request == null) {
            f.counters.rejectedInvalid.increment();
            fail(GrpcStatus.INVALID_ARGUMENT, route.fullMethodName() + " takes exactly one request message; this call sent none",
                    false);
            return;
        }
        try {
            stalenessBoundMs = ReadPeek.stalenessBoundMs(request, route.readOptionsField(), cfg.maxMessageBytes());
            bounded = stalenessBoundMs != ReadPeek.NOT_BOUNDED;
        } catch (Exception e) {
            f.counters.rejectedInvalid.increment();
            fail(GrpcStatus.INVALID_ARGUMENT, "malformed request message for " + route.fullMethodName() + ": "
                    + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()), false);
            return;
        }
        dispatch();
    }

    private void onInvalidMessage(InvalidMessageException e) {
        if (state == State.DONE) {
            return;
        }
        if (e instanceof MessageSizeOverflowException big) {
            f.counters.rejectedTooLarge.increment();
            fail(GrpcStatus.RESOURCE_EXHAUSTED, "request message of " + big.messageSize() + " bytes exceeds the router's limit of "
                    + cfg.maxMessageBytes() + " bytes (maxMessageBytes)", false);
        } else {
            f.counters.rejectedInvalid.increment();
            fail(GrpcStatus.INVALID_ARGUMENT, "malformed request message: " + e.getMessage(), false);
        }
    }

    // ---- routing ------------------------------------------------------------------------------------------

    private void dispatch() {
        if (state == State.DONE) {
            return;
        }
        long now = System.nanoTime();
        Upstream u = f.pick(stalenessBoundMs, avoid, now);
        if (u == null) {
            hold(now, f.tracker().view().explanation());
            return;
        }
        send(u, now);
    }

    private void hold(long now, String why) {
        if (attempts == 0 || lastProblem.isEmpty()) {
            lastProblem = why;
        }
        if (now - holdUntilNanos >= 0) {
            holdExpired();
            return;
        }
        if (!admit(now, why)) {
            return;
        }
        state = State.WAITING;
        if (!everHeld) {
            everHeld = true;
            f.counters.held.increment();
            LOG.info(() -> "request " + requestId + " " + route.fullMethodName() + " merchant=" + merchant + ": held, " + why);
        }
        Parked p = new Parked();
        parked = p;
        f.hold.park(p);
        // A leader may have appeared between pick() and park(): look again so the wake-up is not lost.
        if (f.pick(stalenessBoundMs, avoid, System.nanoTime()) != null) {
            f.hold.unpark(p);
            p.wake();
        }
    }

    private void onWake(Parked p) {
        if (state != State.WAITING || parked != p) {
            return;
        }
        parked = null;
        dispatch();
    }

    /** Counts the call in the hold queue (once); false when it was rejected because the queue is full. */
    private boolean admit(long now, String why) {
        if (admitted) {
            return true;
        }
        if (!f.hold.tryAdmit(requestBytes)) {
            f.counters.rejectedHoldQueueFull.increment();
            fail(GrpcStatus.UNAVAILABLE, "no region can take this call now (" + why + ") and the router's hold queue is full ("
                    + f.hold.maxCalls() + " calls, holdQueueCalls/holdQueueBytes)", true);
            return false;
        }
        admitted = true;
        long waitMs = Math.max(1, TimeUnit.NANOSECONDS.toMillis(holdUntilNanos - now) + 1);
        holdTimer = f.vertx.setTimer(waitMs, id -> {
            holdTimer = -1;
            if (state == State.WAITING) {
                holdExpired();
            }
        });
        return true;
    }

    private void leaveHold() {
        if (admitted) {
            admitted = false;
            f.hold.leave(requestBytes);
            if (holdTimer >= 0) {
                f.vertx.cancelTimer(holdTimer);
                holdTimer = -1;
            }
        }
        if (parked != null) {
            f.hold.unpark(parked);
            parked = null;
        }
        if (retryTimer >= 0) {
            f.vertx.cancelTimer(retryTimer);
            retryTimer = -1;
        }
    }

    private void holdExpired() {
        if (System.nanoTime() - deadlineNanos >= 0 && clientDeadline) {
            onDeadline();
            return;
        }
        f.counters.rejectedHoldTimeout.increment();
        fail(GrpcStatus.UNAVAILABLE, "no region could take this call within the router's hold time of "
                + cfg.holdTimeMs() + " ms (" + lastProblem + ")", true);
    }

    private void send(Upstream u, long now) {
        if (!u.breaker().tryAcquire(now)) {
            hold(now, "region " + u.region() + " is ejected (outlier detection)");
            return;
        }
        boolean leaderRouted = !(bounded && u != f.tracker().view().leader());
        Attempt a = new Attempt(u, leaderRouted);
        if (!u.tryEnter(a)) {
            u.breaker().onAbandoned();
            f.counters.rejectedUpstreamLimit.increment();
            fail(GrpcStatus.RESOURCE_EXHAUSTED, "region " + u.region() + " already has " + u.inFlightMax()
                    + " calls in flight through this router, its limit (upstreamInFlightCalls)", true);
            return;
        }
        leaveHold();
        state = State.SENDING;
        attempt = a;
        attempts++;
        f.counters.attempts.increment();
        if (!leaderRouted) {
            f.counters.boundedReadsToStandby.increment();
        }
        f.client.request(u.address()).onComplete(ar -> {
            if (a.done || attempt != a || state != State.SENDING) {
                if (ar.succeeded()) {
                    cancelQuietly(ar.result());
                }
                return;
            }
            if (ar.failed()) {
                attemptFailed(a, Failure.NOT_SENT, "cannot reach region " + u.region() + " at " + u.addressText() + ": "
                        + describe(ar.cause()));
                return;
            }
            forward(a, ar.result());
        });
    }

    private void forward(Attempt a, GrpcClientRequest<Buffer, Buffer> out) {
        a.out = out;
        try {
            out.fullMethodName(in.fullMethodName());
            Metadata.copy(in.headers(), out.headers(), Set.of());
            out.headers().set(Metadata.REQUEST_ID, requestId);
            // The node's span is a child of the router's (the client's traceparent was copied above; replaced here).
            f.telemetry.inject(io.opentelemetry.context.Context.root().with(span), out.headers());
            out.headers().remove(MerchantResolver.HEADER);
            out.headers().remove(ForwardedCertificate.OPERATOR_HEADER);
            if (MerchantResolver.OPERATOR.equals(merchant)) {
                // The node believes the operator on its own certificate only, never on a name in x-merchant-id.
                ForwardedCertificate.ofPeer(in.connection())
                        .ifPresent(c -> out.headers().set(ForwardedCertificate.OPERATOR_HEADER, c));
            } else if (MerchantResolver.vouches(merchant)) {
                out.headers().set(MerchantResolver.HEADER, merchant);
            }
            out.timeout(Math.max(1, remainingMs()), TimeUnit.MILLISECONDS);
            if (in.format() == WireFormat.JSON) {
                out.format(WireFormat.JSON);
            }
            String encoding = in.encoding();
            if (encoding != null && !"identity".equals(encoding)) {
                out.encoding(encoding);
            }
            out.exceptionHandler(err -> attemptFailed(a, Failure.SENT, "region " + a.upstream.region() + ": " + describe(err)));
            out.response().onComplete(rar -> onResponse(a, rar));
            if (route.bufferedRequest()) {
                out.endMessage(request).onFailure(err -> attemptFailed(a, Failure.SENT,
                        "sending to region " + a.upstream.region() + " failed: " + describe(err)));
            } else {
                // Send the headers now, so a server stream can start before the client's first message.
                if (out instanceof io.vertx.grpc.common.impl.GrpcWriteStreamBase<?, ?> base) {
                    base.writeHead();
                }
                in.messageHandler(m -> {
                    if (a.done) {
                        return;
                    }
                    out.writeMessage(m);
                    if (out.writeQueueFull()) {
                        in.pause();
                        out.drainHandler(v -> in.resume());
                    }
                });
                in.endHandler(v -> {
                    if (!a.done) {
                        out.end();
                    }
                });
                in.resume();
            }
        } catch (RuntimeException e) {
            attemptFailed(a, Failure.SENT, "forwarding to region " + a.upstream.region() + " failed: " + describe(e));
        }
    }

    private void onResponse(Attempt a, AsyncResult<GrpcClientResponse<Buffer, Buffer>> rar) {
        if (stale(a)) {
            return;
        }
        if (rar.failed()) {
            Throwable e = rar.cause();
            attemptFailed(a, Failure.SENT, "region " + a.upstream.region() + " failed the call: " + describe(e));
            return;
        }
        GrpcClientResponse<Buffer, Buffer> r = rar.result();
        if (!route.bufferedResponse()) {
            // A stream's headers are the region's answer, and the stream may stay open for minutes (an event stream
            // that is caught up): a half-open breaker's probe is settled now, not when the stream ends — until then
            // every other call to the region was held and failed after the hold time.
            report(a.upstream, a.upstream.breaker().onSuccess());
        }
        r.exceptionHandler(err -> {
            if (err instanceof MessageSizeOverflowException big) {
                // The answer is larger than the router passes: say so rather than retry.
                if (!stale(a)) {
                    endAttempt(a, false);
                    f.counters.rejectedTooLarge.increment();
                    fail(GrpcStatus.RESOURCE_EXHAUSTED, "the response message of " + big.messageSize()
                            + " bytes exceeds the router's limit of " + cfg.maxMessageBytes() + " bytes (maxMessageBytes)", false);
                }
                return;
            }
            attemptFailed(a, Failure.SENT, "region " + a.upstream.region() + ": " + describe(err));
        });
        r.errorHandler(err -> attemptFailed(a, Failure.SENT, "region " + a.upstream.region() + " reset the call (" + err + ")"));
        if (route.bufferedResponse()) {
            r.messageHandler(m -> a.responseMessage = m);
        } else {
            GrpcServerResponse<Buffer, Buffer> resp = in.response();
            r.messageHandler(m -> {
                if (stale(a)) {
                    return;
                }
                if (!a.committed) {
                    // The first message commits the call to this attempt: headers go out with it.
                    a.committed = true;
                    Metadata.copy(r.headers(), resp.headers(), RESPONSE_SKIPPED);
                    resp.headers().set(Metadata.SERVED_BY, a.upstream.region());
                    responseEncoding(r);
                }
                resp.writeMessage(m);
                if (resp.writeQueueFull()) {
                    r.pause();
                    resp.drainHandler(v -> r.resume());
                }
            });
        }
        r.endHandler(v -> onUpstreamEnd(a, r));
    }

    private void onUpstreamEnd(Attempt a, GrpcClientResponse<Buffer, Buffer> r) {
        if (stale(a)) {
            return;
        }
        GrpcStatus status = r.status();
        String message = Metadata.statusMessage(r);
        Upstream u = a.upstream;
        if (status == GrpcStatus.UNAVAILABLE) {
            if (!a.leaderRouted) {
                // A standby that cannot serve this bounded read (too far behind): try elsewhere, no fault of its own.
                avoid.add(u);
                attemptFailed(a, Failure.NOT_APPLIED, "standby " + u.region() + " declined: " + message);
                return;
            }
            if (message != null && message.startsWith("not the leader")) {
                f.tracker().suspect(u);
                attemptFailed(a, Failure.NOT_APPLIED, "region " + u.region() + ": " + message);
                return;
            }
            attemptFailed(a, Failure.SENT, "region " + u.region() + " answered UNAVAILABLE: " + message);
            return;
        }
        switch (status) {
            // Not held against the upstream: these may be caused by the request itself (ledger-core answers
            // INTERNAL to bytes it cannot decode), and one merchant's bad calls must not eject a region for all.
            case INTERNAL, UNKNOWN, DATA_LOSS, DEADLINE_EXCEEDED, CANCELLED -> u.breaker().onAbandoned();
            default -> report(u, u.breaker().onSuccess());
        }
        relay(a, r, status, message);
    }

    /** The upstream's answer, as it is, to the client. */
    private void relay(Attempt a, GrpcClientResponse<Buffer, Buffer> r, GrpcStatus status, String message) {
        endAttempt(a, false);
        servedBy = a.upstream.region();
        cfg.merchantResolver().learn(in, status, r.headers());
        GrpcServerResponse<Buffer, Buffer> resp = in.response();
        try {
            if (!a.committed) {
                Metadata.copy(r.headers(), resp.headers(), RESPONSE_SKIPPED);
                resp.headers().set(Metadata.SERVED_BY, a.upstream.region());
            }
            Metadata.copy(r.trailers(), resp.trailers(), RESPONSE_SKIPPED);
            resp.status(status);
            if (message != null && status != GrpcStatus.OK) {
                resp.statusMessage(message);
            }
            if (route.bufferedResponse() && a.responseMessage != null) {
                responseEncoding(r);
                resp.endMessage(a.responseMessage);
            } else {
                resp.end();
            }
        } catch (IllegalStateException closed) {
            // the client reset the call meanwhile
        }
        done(status, message);
    }

    private void responseEncoding(GrpcClientResponse<Buffer, Buffer> r) {
        String enc = r.encoding();
        if (enc != null && !"identity".equals(enc)) {
            GrpcServerResponse<Buffer, Buffer> resp = in.response();
            resp.encoding(resp.acceptedEncodings().contains(enc) ? enc : "identity");
        }
    }

    private void report(Upstream u, Breaker.Transition t) {
        if (t != Breaker.Transition.NONE) {
            f.tracker().onBreaker(u, t);
        }
    }

    // ---- failures and retries -----------------------------------------------------------------------------

    private void attemptFailed(Attempt a, Failure how, String problem) {
        if (stale(a)) {
            return;
        }
        Upstream u = a.upstream;
        if (how == Failure.CUT) {
            u.breaker().onAbandoned();
        } else if (how == Failure.NOT_APPLIED) {
            // It answered, and sanely: the upstream itself is fine.
            report(u, u.breaker().onSuccess());
        } else {
            report(u, u.breaker().onFailure(System.nanoTime()));
        }
        endAttempt(a, true);
        if (!a.leaderRouted) {
            avoid.add(u);
        }
        lastProblem = problem;
        boolean replayable = switch (how) {
            case NOT_SENT, NOT_APPLIED -> !a.committed && (route.bufferedRequest() || !streamStarted(a));
            case CUT, SENT -> !a.committed && route.bufferedRequest() && route.idempotent();
        };
        if (!replayable) {
            fail(GrpcStatus.UNAVAILABLE, problem + (how == Failure.CUT || how == Failure.SENT ? outcomeUnknown() : ""), true);
            return;
        }
        retry(problem);
    }

    /** What the client is told when an attempt that may have been applied is not replayed. */
    private String outcomeUnknown() {
        return route.idempotent()
                ? "; the outcome is unknown, the call may or may not have been applied: retry it with the same id"
                : "; the outcome is unknown, the call may or may not have been applied: " + route.fullMethodName()
                        + " is not idempotent, so the router does not repeat it; check its effect before you repeat it";
    }

    private static boolean streamStarted(Attempt a) {
        return a.out != null;
    }

    private void retry(String problem) {
        long now = System.nanoTime();
        if (attempts >= cfg.retryAttempts()) {
            f.counters.rejectedRetriesExhausted.increment();
            fail(GrpcStatus.UNAVAILABLE, "gave up after " + attempts + " attempts (retryAttempts): " + problem, true);
            return;
        }
        if (now - holdUntilNanos >= 0) {
            holdExpired();
            return;
        }
        if (!admit(now, problem)) {
            return;
        }
        state = State.WAITING;
        f.counters.retries.increment();
        long backoff = Math.min(cfg.retryBackoffMaxMs(), cfg.retryBackoffInitialMs() << Math.min(attempts - 1, 20));
        long delay = Math.max(1, backoff / 2 + ThreadLocalRandom.current().nextLong(backoff / 2 + 1));
        LOG.fine(() -> "request " + requestId + " " + route.fullMethodName() + ": attempt " + attempts + " failed ("
                + problem + "); retrying in " + delay + " ms");
        retryTimer = f.vertx.setTimer(delay, id -> {
            retryTimer = -1;
            if (state == State.WAITING) {
                dispatch();
            }
        });
    }

    private void onCut(Attempt a, String reason) {
        if (stale(a)) {
            return;
        }
        f.counters.cut.increment();
        LOG.info(() -> "request " + requestId + " " + route.fullMethodName() + ": cut from region " + a.upstream.region()
                + ": " + reason);
        attemptFailed(a, Failure.CUT, reason);
    }

    private void onDeadline() {
        if (state == State.DONE) {
            return;
        }
        f.counters.deadlineExceeded.increment();
        String waited = state == State.WAITING ? " while waiting for a region (" + lastProblem + ")" : "";
        fail(GrpcStatus.DEADLINE_EXCEEDED, clientDeadline
                ? "the call's deadline of " + in.timeout() + " ms passed in the router" + waited
                : "no deadline was given and the router's upstream call timeout of " + cfg.upstreamCallTimeoutMs()
                        + " ms (upstreamCallTimeoutMs) passed" + waited, false);
    }

    private void onClientReset(GrpcError error) {
        if (state == State.DONE) {
            return;
        }
        f.counters.clientCancelled.increment();
        LOG.fine(() -> "request " + requestId + " " + route.fullMethodName() + ": the client reset the call (" + error + ")");
        done(GrpcStatus.CANCELLED, "client reset");
    }

    private void onClientError(Throwable err) {
        if (state == State.DONE) {
            return;
        }
        f.counters.clientCancelled.increment();
        LOG.fine(() -> "request " + requestId + " " + route.fullMethodName() + ": the client connection failed: " + describe(err));
        done(GrpcStatus.CANCELLED, "client gone");
    }

    // ---- ending -------------------------------------------------------------------------------------------

    private boolean stale(Attempt a) {
        return a.done || attempt != a || state != State.SENDING;
    }

    private void endAttempt(Attempt a, boolean cancel) {
        if (a.done) {
            return;
        }
        a.done = true;
        a.upstream.leave(a);
        if (cancel && a.out != null) {
            cancelQuietly(a.out);
        }
    }

    private static void cancelQuietly(GrpcClientRequest<Buffer, Buffer> out) {
        try {
            out.cancel();
        } catch (RuntimeException ignored) {
            // already ended or reset
        }
    }

    /** Answers the client with the router's own status (and a retry hint for UNAVAILABLE / RESOURCE_EXHAUSTED). */
    private void fail(GrpcStatus status, String message, boolean retryHint) {
        if (state == State.DONE) {
            return;
        }
        Attempt a = attempt;
        boolean committed = a != null && a.committed;
        if (a != null && !a.done) {
            a.upstream.breaker().onAbandoned();
            endAttempt(a, true);
        }
        String full = message + " (request " + requestId + ")" + (retryHint ? "; retry after " + cfg.retryAfterMs() + " ms" : "");
        GrpcServerResponse<Buffer, Buffer> resp = in.response();
        try {
            if (retryHint) {
                var where = committed ? resp.trailers() : resp.headers();
                where.set(Metadata.RETRY_AFTER_MS, Long.toString(cfg.retryAfterMs()));
                where.set(Metadata.GRPC_RETRY_PUSHBACK_MS, Long.toString(cfg.retryAfterMs()));
            }
            resp.status(status).statusMessage(full).end();
        } catch (IllegalStateException closed) {
            // the client reset the call meanwhile
        }
        done(status, full);
    }

    private void done(GrpcStatus status, String message) {
        if (state == State.DONE) {
            return;
        }
        state = State.DONE;
        Attempt a = attempt;
        if (a != null && !a.done) {
            a.upstream.breaker().onAbandoned();
            endAttempt(a, true);
        }
        leaveHold();
        if (deadlineTimer >= 0) {
            f.vertx.cancelTimer(deadlineTimer);
            deadlineTimer = -1;
        }
        request = null;
        f.merchants.release(merchant);
        f.counters.completed.increment();
        f.requests.method(route.fullMethodName()).record(status, arrivedNanos);
        if (status == GrpcStatus.OK) {
            f.counters.completedOk.increment();
            if (route.write()) {
                f.counters.writesOk.increment();
            }
        }
        if (span.isRecording()) {
            span.setAttribute("ledger.attempts", attempts);
            if (!servedBy.isEmpty()) {
                span.setAttribute("ledger.region", servedBy);
            }
            Telemetry.end(span, status.code, message);
        }
        Level level = status == GrpcStatus.OK || servedBy.length() > 0 || status == GrpcStatus.CANCELLED ? Level.FINE : Level.INFO;
        if (LOG.isLoggable(level)) {
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - arrivedNanos);
            LOG.log(level, "request " + requestId + Telemetry.logTag(span) + " " + route.fullMethodName() + " merchant=" + merchant + " -> " + status
                    + (servedBy.isEmpty() ? "" : " from " + servedBy) + " in " + ms + " ms, " + attempts + " attempt(s)"
                    + (message == null || status == GrpcStatus.OK ? "" : ": " + message));
        }
    }

    private long remainingMs() {
        return TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime());
    }

    private static String describe(Throwable t) {
        String m = t.getMessage();
        return m == null ? t.getClass().getSimpleName() : m;
    }
}
