package io.paymentledger.router.support;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientRequest;
import io.vertx.grpc.client.GrpcClientResponse;
import io.vertx.grpc.common.GrpcMessage;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Calls with everything a test looks at: status, status message, headers, trailers, the answer. */
public final class Calls {

    private Calls() {}

    /** One finished call. {@code status} is null when the call failed below gRPC (reset, connection). */
    public record Reply<T>(GrpcStatus status, String message, MultiMap headers, MultiMap trailers, T body, String failure,
            long millis) {
        public String header(String name) {
            return headers == null ? null : headers.get(name);
        }
    }

    public static <Req, Resp> Future<Reply<Resp>> callAsync(GrpcClient client, SocketAddress to,
            ServiceMethod<Resp, Req> method, Req request, Map<String, String> headers, long timeoutMs) {
        long start = System.nanoTime();
        return client.request(to, method).compose(req -> {
            headers.forEach((k, v) -> req.headers().set(k, v));
            if (timeoutMs > 0) {
                req.timeout(timeoutMs, TimeUnit.MILLISECONDS);
            }
            req.end(request);
            return req.response();
        }).compose((GrpcClientResponse<Req, Resp> resp) -> resp.last()
                .map(body -> new Reply<>(resp.status(), resp.statusMessage(), resp.headers(), resp.trailers(), body, null,
                        ms(start)))
                .recover(err -> Future.succeededFuture(new Reply<>(resp.status(), resp.statusMessage(), resp.headers(),
                        resp.trailers(), null, err.toString(), ms(start)))))
                .recover(err -> Future.succeededFuture(new Reply<>(null, null, null, null, null, err.toString(), ms(start))));
    }

    public static <Req, Resp> Reply<Resp> call(GrpcClient client, SocketAddress to, ServiceMethod<Resp, Req> method,
            Req request, Map<String, String> headers, long timeoutMs) {
        return await(callAsync(client, to, method, request, headers, timeoutMs));
    }

    /** A call with raw message bytes (any number of messages) to {@code fullMethodName}. */
    public static Future<Reply<Buffer>> rawAsync(GrpcClient client, SocketAddress to, String fullMethodName,
            List<Buffer> messages, Map<String, String> headers, long timeoutMs) {
        long start = System.nanoTime();
        return client.request(to).compose((GrpcClientRequest<Buffer, Buffer> req) -> {
            req.fullMethodName(fullMethodName);
            headers.forEach((k, v) -> req.headers().set(k, v));
            if (timeoutMs > 0) {
                req.timeout(timeoutMs, TimeUnit.MILLISECONDS);
            }
            for (int i = 0; i < messages.size(); i++) {
                if (i == messages.size() - 1) {
                    req.endMessage(GrpcMessage.message("identity", messages.get(i)));
                } else {
                    req.writeMessage(GrpcMessage.message("identity", messages.get(i)));
                }
            }
            if (messages.isEmpty()) {
                req.end();
            }
            return req.response();
        }).compose((GrpcClientResponse<Buffer, Buffer> resp) -> {
            Buffer[] last = {null};
            resp.handler(b -> last[0] = b);
            return resp.end().map(v -> new Reply<>(resp.status(), resp.statusMessage(), resp.headers(), resp.trailers(),
                    last[0], null, ms(start)))
                    .recover(err -> Future.succeededFuture(new Reply<>(resp.status(), resp.statusMessage(), resp.headers(),
                            resp.trailers(), last[0], err.toString(), ms(start))));
        }).recover(err -> Future.succeededFuture(new Reply<>(null, null, null, null, null, err.toString(), ms(start))));
    }

    public static Reply<Buffer> raw(GrpcClient client, SocketAddress to, String fullMethodName, List<Buffer> messages,
            Map<String, String> headers, long timeoutMs) {
        return await(rawAsync(client, to, fullMethodName, messages, headers, timeoutMs));
    }

    /** Waits for a call, at most 60 s (a call that takes longer is a hang: the test fails). */
    public static <T> T await(Future<T> f) {
        try {
            return f.await(60, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new AssertionError("call did not end within 60 s", e);
        }
    }

    private static long ms(long start) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    }
}
