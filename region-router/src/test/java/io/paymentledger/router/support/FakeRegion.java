package io.paymentledger.router.support;

import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.health.handler.GrpcHealthCheckV1Handler;
import io.vertx.grpc.health.v1.HealthCheckResponse;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.GrpcServerOptions;
import io.vertx.grpc.server.GrpcServerRequest;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * A stand-in for a ledger node that a test controls completely: what its health check says (SERVING and
 * epoch, like a real node), and what it does with each forwarded call. A real gRPC server on loopback.
 */
public final class FakeRegion implements AutoCloseable {

    public final String region;
    public volatile boolean serving;
    public volatile long epoch;
    /** When false, health checks get no answer at all (the call hangs until the router's check timeout). */
    public volatile boolean answerHealth = true;
    /** What happens to a forwarded call; the default answers OK with an empty message. */
    public volatile Consumer<GrpcServerRequest<Buffer, Buffer>> behavior = FakeRegion::okEmpty;
    public final AtomicInteger calls = new AtomicInteger();
    /** Health checks answered or not (every Check call that arrived). */
    public final AtomicInteger healthChecks = new AtomicInteger();
    public final List<MultiMap> headersSeen = new CopyOnWriteArrayList<>();
    private final HttpServer server;

    private FakeRegion(Vertx vertx, String region, boolean serving, long epoch, HttpServerOptions options) {
        this.region = region;
        this.serving = serving;
        this.epoch = epoch;
        GrpcServer grpc = GrpcServer.server(vertx, new GrpcServerOptions().setScheduleDeadlineAutomatically(true));
        grpc.callHandler(GrpcHealthCheckV1Handler.SERVICE_METHOD, call -> call.last().onSuccess(req -> {
            healthChecks.incrementAndGet();
            if (!answerHealth) {
                return;
            }
            call.response().headers().set("x-ledger-epoch", Long.toString(this.epoch)).set("x-ledger-region", region)
                    .set("x-ledger-role", this.serving ? "NODE_ROLE_LEADER" : "NODE_ROLE_STANDBY");
            call.response().end(HealthCheckResponse.newBuilder().setStatus(this.serving
                    ? HealthCheckResponse.ServingStatus.SERVING : HealthCheckResponse.ServingStatus.NOT_SERVING).build());
        }));
        grpc.callHandler(in -> {
            calls.incrementAndGet();
            headersSeen.add(MultiMap.caseInsensitiveMultiMap().addAll(in.headers()));
            in.response().headers().set("x-served-by-fake", region);
            behavior.accept(in);
        });
        this.server = vertx.createHttpServer(options).requestHandler(grpc).listen().await();
    }

    public static FakeRegion start(Vertx vertx, String region, boolean serving, long epoch) {
        return new FakeRegion(vertx, region, serving, epoch, new HttpServerOptions().setHost("127.0.0.1").setPort(0));
    }

    /** A fake listening with {@code options} (e.g. mTLS). */
    public static FakeRegion start(Vertx vertx, String region, boolean serving, long epoch, HttpServerOptions options) {
        return new FakeRegion(vertx, region, serving, epoch, options);
    }

    public int port() {
        return server.actualPort();
    }

    /** Answers OK with an empty message (a valid default instance of any proto message). */
    public static void okEmpty(GrpcServerRequest<Buffer, Buffer> in) {
        in.last().onSuccess(msg -> in.response().end(Buffer.buffer()));
    }

    /** Answers {@code status} with {@code message}. */
    public static Consumer<GrpcServerRequest<Buffer, Buffer>> fail(GrpcStatus status, String message) {
        return in -> in.last().onSuccess(msg -> in.response().status(status).statusMessage(message).end());
    }

    @Override
    public void close() {
        server.close().await();
    }
}
