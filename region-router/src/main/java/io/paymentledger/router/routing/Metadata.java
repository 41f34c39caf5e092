package io.paymentledger.router.routing;

import io.netty.handler.codec.http.QueryStringDecoder;
import io.vertx.core.MultiMap;
import io.vertx.grpc.client.GrpcClientResponse;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/** Which metadata crosses the router, and the correlation id. */
public final class Metadata {

    /** The correlation id of a call: created by the router when the client sent none, forwarded, echoed. */
    public static final String REQUEST_ID = "x-request-id";
    /** On proxied responses: the region that answered. */
    public static final String SERVED_BY = "x-ledger-region";
    /** On the router's own UNAVAILABLE answers: when to try again. */
    public static final String RETRY_AFTER_MS = "retry-after-ms";
    /** The same hint in the header gRPC retry policies read. */
    public static final String GRPC_RETRY_PUSHBACK_MS = "grpc-retry-pushback-ms";

    /** Transport headers that Vert.x sets itself, or that are hop-by-hop. */
    private static final Set<String> SKIPPED = Set.of("content-type", "te", "user-agent", "host", "connection",
            "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "content-length", "accept-encoding",
            "content-encoding", REQUEST_ID);

    private Metadata() {}

    /** Custom metadata only: no pseudo headers, no grpc-*, no transport headers, not the request id. */
    public static boolean forwardable(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return !n.startsWith(":") && !n.startsWith("grpc-") && !SKIPPED.contains(n);
    }

    static void copy(MultiMap from, MultiMap to, Set<String> alsoSkip) {
        for (Map.Entry<String, String> e : from) {
            if (forwardable(e.getKey()) && !alsoSkip.contains(e.getKey().toLowerCase(Locale.ROOT))) {
                to.add(e.getKey(), e.getValue());
            }
        }
    }

    /** The client's id when it is usable (1..128 visible ASCII characters), else a new one. */
    public static String requestId(MultiMap headers) {
        String id = headers.get(REQUEST_ID);
        if (id != null && !id.isEmpty() && id.length() <= 128) {
            boolean ok = true;
            for (int i = 0; i < id.length() && ok; i++) {
                char c = id.charAt(i);
                ok = c > 0x20 && c < 0x7f;
            }
            if (ok) {
                return id;
            }
        }
        return UUID.randomUUID().toString();
    }

    /**
     * The upstream's status message. Vert.x 5.0.7 reads {@code grpc-message} from the response headers only
     * (where it is for trailers-only answers); after a message it travels in the trailers.
     */
    static String statusMessage(GrpcClientResponse<?, ?> r) {
        String m = r.statusMessage();
        if (m != null) {
            return m;
        }
        String raw = r.trailers().get("grpc-message");
        return raw == null ? null : QueryStringDecoder.decodeComponent(raw, StandardCharsets.UTF_8);
    }
}
