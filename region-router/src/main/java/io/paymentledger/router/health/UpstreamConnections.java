package io.paymentledger.router.health;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientOptions;
import io.vertx.grpc.client.impl.GrpcClientImpl;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

/**
 * Every HTTP/2 connection the router holds to a node (health checks and forwarded calls), so that those to a node
 * found unreachable can be closed.
 *
 * <p>Why: a cut that drops packets silently (a partition, a dead link) closes nothing. The router's connections to
 * that node stay open, with frames waiting for TCP retransmissions, which back off exponentially: after a 20 s cut
 * the next retransmission can come seconds after the path is back, after a 60 s cut tens of seconds. When that node
 * led again (a partition's "restart: a leads again"), the router kept using those connections: health checks timed
 * out and calls waited out their deadlines, while a fresh connection would have gone through at once. Closing them
 * when the node is found unreachable means the node is reached over new connections as soon as it answers again.
 * Closing costs nothing then: the calls on them were cut already, and nothing can arrive on them.
 */
public final class UpstreamConnections {

    private static final Logger LOG = Logger.getLogger(UpstreamConnections.class.getName());

    private final Set<HttpConnection> open = ConcurrentHashMap.newKeySet();

    /** A gRPC client whose connections are tracked here. */
    public GrpcClient client(Vertx vertx, GrpcClientOptions grpc, HttpClientOptions http) {
        HttpClient httpClient = vertx.httpClientBuilder().with(http).withConnectHandler(this::opened).build();
        return new Client(vertx, grpc, httpClient);
    }

    /** Vert.x 5.0.7 builds a gRPC client over a given HTTP client with options only through its implementation. */
    private static final class Client extends GrpcClientImpl {
        Client(Vertx vertx, GrpcClientOptions grpc, HttpClient http) {
            super(vertx, grpc, http, true);
        }
    }

    private void opened(HttpConnection c) {
        open.add(c);
        c.closeHandler(v -> open.remove(c));
    }

    /** Closes every connection to {@code address}; returns how many. Any thread. */
    public int closeTo(SocketAddress address, String why) {
        int n = 0;
        for (HttpConnection c : open) {
            SocketAddress remote = c.remoteAddress();
            if (remote != null && remote.port() == address.port() && sameHost(remote, address)) {
                open.remove(c);
                c.close();
                n++;
            }
        }
        if (n > 0) {
            int closed = n;
            LOG.info(() -> "closed " + closed + " connection(s) to " + address + ": " + why + " (new calls and checks open fresh ones)");
        }
        return n;
    }

    int size() {
        return open.size();
    }

    private static boolean sameHost(SocketAddress remote, SocketAddress upstream) {
        String host = upstream.host();
        return host == null || host.equals(remote.host()) || host.equals(remote.hostAddress()) || host.equals(remote.hostName());
    }
}
