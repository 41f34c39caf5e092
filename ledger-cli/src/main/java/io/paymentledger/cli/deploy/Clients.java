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
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** gRPC clients the operator tools use to talk to the deployment's processes. */
public final class Clients implements AutoCloseable {

    /**
     * How long connecting to a process of the deployment may take: TCP connect, then the TLS handshake, each
     * bounded by this (loopback: a healthy process needs a few ms; a frozen one accepts TCP but never shakes hands).
     */
    public static final int CONNECT_BUDGET_MS = 1_500;
    /** How long the operator tools wait for one answer (connection included) where they only need yes or no. */
    public static final long ANSWER_WAIT_MS = 2_000;

    private final Vertx vertx;
    private final GrpcClient grpc;
    private final HttpClientOptions options;
    /** The deployment whose processes these clients talk to (where each port lives), or null: all on 127.0.0.1. */
    private Topology topology;

    /** Plaintext clients (only for servers without TLS, e.g. in tests of the engine alone). */
    public Clients() {
        this(new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2).setHttp2ClearTextUpgrade(false));
    }

    public Clients(HttpClientOptions options) {
        this.options = new HttpClientOptions(options);
        this.vertx = Vertx.vertx(new io.vertx.core.VertxOptions().setPreferNativeTransport(true));
        this.grpc = GrpcClient.client(vertx, new GrpcClientOptions().setMaxMessageSize(64 * 1024 * 1024),
                new HttpClientOptions(options).setConnectTimeout(CONNECT_BUDGET_MS)
                        .setSslHandshakeTimeout(CONNECT_BUDGET_MS).setSslHandshakeTimeoutUnit(TimeUnit.MILLISECONDS));
    }

    /** Mutual TLS with the given certificate of the deployment's PKI. */
    public static Clients tls(DeploymentSecurity security, io.paymentledger.security.pki.IssuedCert identity) {
        return new Clients(io.paymentledger.security.tls.Tls.clientOptions(identity.certFile(), identity.keyFile(), security.caFile()));
    }

    /** The operator's clients for a deployment (status, switchover, API keys). */
    public static Clients operator(Topology t) {
        DeploymentSecurity security = DeploymentSecurity.open(t);
        return tls(security, security.operator()).of(t);
    }

    /** These clients talk to {@code t}'s processes (each port at its site's address). */
    public Clients of(Topology t) {
        this.topology = t;
        return this;
    }

    /**
     * The operator's clients from the certificate files as they are: no PKI opened, nothing issued or renewed (the
     * other operator commands do that), so a read-only command such as {@code status} starts quickly. Falls back to
     * {@link #operator} when a file is missing.
     */
    public static Clients operatorAsIs(Topology t) {
        java.nio.file.Path pki = t.dir().resolve("pki");
        java.nio.file.Path crt = pki.resolve("operator.crt");
        java.nio.file.Path key = pki.resolve("operator.key");
        java.nio.file.Path ca = pki.resolve("ca.crt");
        if (!java.nio.file.Files.exists(crt) || !java.nio.file.Files.exists(key) || !java.nio.file.Files.exists(ca)) {
            return operator(t);
        }
        return new Clients(io.paymentledger.security.tls.Tls.clientOptions(crt, key, ca)).of(t);
    }

    /** The client certificate these clients present (null without one). */
    public io.vertx.core.net.KeyCertOptions keyCertOptions() {
        return options.getKeyCertOptions();
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

    /** Where the deployment's process on {@code port} is reached: its site's address (127.0.0.1 on loopback). */
    public SocketAddress address(int port) {
        return topology == null ? loopback(port) : SocketAddress.inetSocketAddress(port, topology.hostOfPort(port));
    }

    /** The status answers of the nodes of {@code regions} that answered (the silent ones left out). */
    public List<NodeStatus> nodeStatuses(Iterable<Topology.Region> regions) {
        List<NodeStatus> answers = new java.util.ArrayList<>();
        for (Topology.Region r : regions) {
            nodeStatus(r.grpcPort()).ifPresent(answers::add);
        }
        return answers;
    }

    /** The node's own account of itself, or empty when it does not answer within {@link #ANSWER_WAIT_MS}. */
    public Optional<NodeStatus> nodeStatus(int port) {
        try {
            return Optional.of(NodeServiceGrpcClient.create(grpc, address(port))
                    .getNodeStatus(GetNodeStatusRequest.getDefaultInstance()).await(ANSWER_WAIT_MS, TimeUnit.MILLISECONDS));
        } catch (Exception e) {
            // Not listening, not answering in time, or not a ledger node: all mean "no status".
            return Optional.empty();
        }
    }

    /** grpc.health.v1.Health/Check, called with the request API (its answer's headers carry the leader). */
    public static final io.vertx.grpc.common.ServiceMethod<io.vertx.grpc.health.v1.HealthCheckResponse,
            io.vertx.grpc.health.v1.HealthCheckRequest> HEALTH_CHECK = io.vertx.grpc.common.ServiceMethod.client(
            io.vertx.grpc.common.ServiceName.create("grpc.health.v1", "Health"), "Check",
            io.vertx.grpc.common.GrpcMessageEncoder.encoder(),
            io.vertx.grpc.common.GrpcMessageDecoder.decoder(io.vertx.grpc.health.v1.HealthCheckResponse.newBuilder()));

    /** Does the gRPC server on this port answer Health/Check with SERVING (within {@link #ANSWER_WAIT_MS})? */
    public boolean serving(int port) {
        try {
            return grpc.request(address(port), HEALTH_CHECK).compose(req -> {
                req.end(io.vertx.grpc.health.v1.HealthCheckRequest.getDefaultInstance());
                return req.response().compose(r -> r.last());
            }).await(ANSWER_WAIT_MS, TimeUnit.MILLISECONDS).getStatus() == io.vertx.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING;
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
