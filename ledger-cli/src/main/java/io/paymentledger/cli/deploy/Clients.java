package io.paymentledger.cli.deploy;

import io.paymentledger.api.v1.GetNodeStatusRequest;
import io.paymentledger.api.v1.NodeServiceGrpcClient;
import io.paymentledger.api.v1.NodeStatus;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientOptions;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** gRPC clients the operator tools use to talk to the deployment's processes. */
public final class Clients implements AutoCloseable {

    private final Vertx vertx;
    private final GrpcClient grpc;

    /** Plaintext clients (only for servers without TLS, e.g. in tests of the engine alone). */
    public Clients() {
        this(new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2).setHttp2ClearTextUpgrade(false));
    }

    public Clients(HttpClientOptions options) {
        this.vertx = Vertx.vertx(new io.vertx.core.VertxOptions().setPreferNativeTransport(true));
        this.grpc = GrpcClient.client(vertx, new GrpcClientOptions().setMaxMessageSize(64 * 1024 * 1024),
                new HttpClientOptions(options).setConnectTimeout(2000));
    }

    /** Mutual TLS with the given certificate of the deployment's PKI. */
    public static Clients tls(DeploymentSecurity security, io.paymentledger.security.pki.IssuedCert identity) {
        return new Clients(io.paymentledger.security.tls.Tls.clientOptions(identity.certFile(), identity.keyFile(), security.caFile()));
    }

    /** The operator's clients for a deployment (status, switchover, API keys). */
    public static Clients operator(Topology t) {
        DeploymentSecurity security = DeploymentSecurity.open(t);
        return tls(security, security.operator());
    }

    public GrpcClient grpc() {
        return grpc;
    }

    public Vertx vertx() {
        return vertx;
    }

    public static SocketAddress loopback(int port) {
        return SocketAddress.inetSocketAddress(port, "127.0.0.1");
    }

    /** The node's own account of itself, or empty when it does not answer within 2 s. */
    public Optional<NodeStatus> nodeStatus(int port) {
        try {
            return Optional.of(NodeServiceGrpcClient.create(grpc, loopback(port))
                    .getNodeStatus(GetNodeStatusRequest.getDefaultInstance()).await(2, TimeUnit.SECONDS));
        } catch (Exception e) {
            // Not listening, not answering in time, or not a ledger node: all mean "no status".
            return Optional.empty();
        }
    }

    private static final io.vertx.grpc.common.ServiceMethod<io.vertx.grpc.health.v1.HealthCheckResponse,
            io.vertx.grpc.health.v1.HealthCheckRequest> HEALTH_CHECK = io.vertx.grpc.common.ServiceMethod.client(
            io.vertx.grpc.common.ServiceName.create("grpc.health.v1", "Health"), "Check",
            io.vertx.grpc.common.GrpcMessageEncoder.encoder(),
            io.vertx.grpc.common.GrpcMessageDecoder.decoder(io.vertx.grpc.health.v1.HealthCheckResponse.newBuilder()));

    /** Does the gRPC server on this port answer Health/Check with SERVING (within 2 s)? */
    public boolean serving(int port) {
        try {
            return grpc.request(loopback(port), HEALTH_CHECK).compose(req -> {
                req.end(io.vertx.grpc.health.v1.HealthCheckRequest.getDefaultInstance());
                return req.response().compose(r -> r.last());
            }).await(2, TimeUnit.SECONDS).getStatus() == io.vertx.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING;
        } catch (Exception e) {
            return false;
        }
    }

    @Override
    public void close() {
        grpc.close().await();
        vertx.close().await();
    }
}
