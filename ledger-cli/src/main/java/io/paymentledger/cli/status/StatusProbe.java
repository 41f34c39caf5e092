package io.paymentledger.cli.status;

import io.paymentledger.api.v1.GetNodeStatusRequest;
import io.paymentledger.api.v1.NodeServiceGrpcClient;
import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.cli.deploy.Clients;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.Processes;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.router.health.LeaderTracker;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.grpc.client.GrpcClientRequest;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.health.v1.HealthCheckRequest;
import io.vertx.grpc.health.v1.HealthCheckResponse;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Asks every process of the local deployment (both nodes, the router, the witness) at once, each within its own
 * budget. The clients, their TLS material and their event loop are built once, before any clock starts (by
 * {@link #open}), so the CLI's own start-up, TLS context set-up and class loading never eat a process's budget;
 * {@code --watch} reuses one probe for every round.
 *
 * <p>Budgets per process: {@link Clients#CONNECT_BUDGET_MS} to connect (TCP, then the TLS handshake, each bounded by
 * the client's options), then {@link #ANSWER_BUDGET_MS} from the moment the call is sent to its answer.
 */
public final class StatusProbe implements AutoCloseable {

    /** How long a process may take to answer once the call is on its way (the connection is up). */
    public static final long ANSWER_BUDGET_MS = 1_500;
    /**
     * What the CLI may spend on its own side of a first connection before the connect budget starts (building the TLS
     * context from the PEM files, loading classes): not the process's time, so not in its budget.
     */
    static final long SETUP_ALLOWANCE_MS = 5_000;
    /**
     * The last-resort bound of one question, connection set-up included (a peer that accepts TCP, finishes TLS, then
     * never completes HTTP/2's set-up would otherwise hang the command).
     */
    static final long QUESTION_MAX_MS = SETUP_ALLOWANCE_MS + 2 * Clients.CONNECT_BUDGET_MS + ANSWER_BUDGET_MS;

    /** Longest the warm-up may take (it is skipped beyond that). */
    static final long WARM_UP_MAX_MS = 3_000;

    private final Topology topology;
    private final Clients clients;
    private final NetClient tcp;

    private StatusProbe(Topology topology, Clients clients) {
        this.topology = topology;
        this.clients = clients;
        this.tcp = clients.vertx().createNetClient(new NetClientOptions().setConnectTimeout(Clients.CONNECT_BUDGET_MS));
    }

    /** Builds the operator's TLS clients for the deployment and warms them up (before any budget starts). */
    public static StatusProbe open(Topology t) {
        StatusProbe probe = new StatusProbe(t, Clients.operatorAsIs(t));
        probe.warmUp();
        return probe;
    }

    /**
     * Makes the client build its TLS context and run one TLS handshake before any process is timed: a cold JVM on a
     * busy machine can spend more than a second on its first handshake, which a process's budget must not pay.
     * The handshake is with a throw-away server in this JVM that shows the client's own certificate (a client
     * certificate, so the client refuses it: only the work is wanted, never the connection).
     */
    private void warmUp() {
        if (clients.keyCertOptions() == null) {
            return;
        }
        Vertx vertx = clients.vertx();
        io.vertx.core.http.HttpServer server = vertx.createHttpServer(new io.vertx.core.http.HttpServerOptions()
                .setHost("127.0.0.1").setPort(0).setSsl(true).setUseAlpn(true).setKeyCertOptions(clients.keyCertOptions())
                .setSslEngineOptions(io.paymentledger.security.tls.Tls.engine()))
                .requestHandler(req -> req.response().setStatusCode(404).end());
        try {
            int port = server.listen().await(WARM_UP_MAX_MS, TimeUnit.MILLISECONDS).actualPort();
            clients.grpc().request(clients.address(port), Clients.HEALTH_CHECK)
                    .transform(ignored -> Future.succeededFuture()).await(WARM_UP_MAX_MS, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            // Only a warm-up: the questions that follow work (slower) without it.
        } finally {
            server.close();
        }
    }

    /** What every process answered, asked in parallel, and how long the whole round took. */
    public record Snapshot(List<Verdict.Node> nodes, Optional<Long> routerPid, Reply<Verdict.RouterView> router,
            Optional<Long> witnessPid, Reply<Long> witnessCpPort, long roundMs) {

        public Verdict verdict() {
            return Verdict.decide(nodes, router);
        }

        public Map<String, Verdict.Node> byRegion() {
            Map<String, Verdict.Node> m = new LinkedHashMap<>();
            nodes.forEach(n -> m.put(n.region(), n));
            return m;
        }
    }

    public Snapshot ask() {
        long t0 = System.nanoTime();
        Map<String, Future<Reply<NodeStatus>>> nodeReplies = new LinkedHashMap<>();
        for (Topology.Region r : topology.regions().values()) {
            nodeReplies.put(r.name(), nodeStatus(r.grpcPort()));
        }
        Future<Reply<Verdict.RouterView>> router = routerHealth(topology.routerPort());
        Future<Reply<Long>> witness = tcpConnect(topology.witnessHazelcastPort());
        List<Verdict.Node> nodes = new ArrayList<>();
        nodeReplies.forEach((region, f) -> nodes.add(new Verdict.Node(region, pid(LocalDeployment.nodeName(region)), await(f))));
        Reply<Verdict.RouterView> routerReply = await(router);
        Reply<Long> witnessReply = await(witness);
        return new Snapshot(List.copyOf(nodes), pid(LocalDeployment.ROUTER), routerReply, pid(LocalDeployment.WITNESS),
                witnessReply, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
    }

    private Optional<Long> pid(String process) {
        return Processes.running(topology, process).map(ProcessHandle::pid);
    }

    private static <T> Reply<T> await(Future<Reply<T>> f) {
        // Every question completes by itself within QUESTION_MAX_MS (its own timer); this only guards against a bug.
        try {
            return f.await(QUESTION_MAX_MS + 1_000, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            return new Reply.NoAnswer<>("the CLI's own wait", QUESTION_MAX_MS);
        }
    }

    /** GetNodeStatus of the node on {@code port}. */
    public Future<Reply<NodeStatus>> nodeStatus(int port) {
        return ask(port, NodeServiceGrpcClient.GetNodeStatus, GetNodeStatusRequest.getDefaultInstance(),
                (resp, msg) -> msg);
    }

    /** The router's Health/Check with the leader it routes to (its x-ledger-region / x-ledger-epoch headers). */
    public Future<Reply<Verdict.RouterView>> routerHealth(int port) {
        return ask(port, Clients.HEALTH_CHECK, HealthCheckRequest.getDefaultInstance(), (resp, msg) -> {
            String epoch = resp.headers().get(LeaderTracker.EPOCH_HEADER);
            return new Verdict.RouterView(msg.getStatus() == HealthCheckResponse.ServingStatus.SERVING,
                    Optional.ofNullable(resp.headers().get(LeaderTracker.REGION_HEADER)).orElse(""),
                    epoch == null ? 0 : Long.parseLong(epoch));
        });
    }

    private interface Reader<Resp, T> {
        T read(io.vertx.grpc.client.GrpcClientResponse<?, Resp> response, Resp message);
    }

    private <Req, Resp, T> Future<Reply<T>> ask(int port, io.vertx.grpc.common.ServiceMethod<Resp, Req> method, Req request,
            Reader<Resp, T> reader) {
        Vertx vertx = clients.vertx();
        String address = topology.hostOfPort(port) + ":" + port;
        Promise<Reply<T>> result = Promise.promise();
        long started = System.nanoTime();
        long guard = vertx.setTimer(QUESTION_MAX_MS, id -> result.tryComplete(new Reply.NoAnswer<>("connection set-up", QUESTION_MAX_MS)));
        clients.grpc().request(clients.address(port), method).onComplete(ready -> {
            if (ready.failed()) {
                result.tryComplete(Reply.of(ready.cause(), address, "TCP connect", Clients.CONNECT_BUDGET_MS));
                return;
            }
            GrpcClientRequest<Req, Resp> call = ready.result();
            long connectMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            // The answer's budget starts now: the connection (TCP + TLS) is up and the call goes out.
            long answerTimer = vertx.setTimer(ANSWER_BUDGET_MS, id -> {
                result.tryComplete(new Reply.NoAnswer<>("connected and asked; no reply", ANSWER_BUDGET_MS));
                call.cancel();
            });
            call.end(request);
            call.response().compose(resp -> resp.last().<Reply<T>>map(msg -> new Reply.Answered<>(reader.read(resp, msg),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started), connectMs)).recover(err -> Future.succeededFuture(
                    resp.status() != null && resp.status() != GrpcStatus.OK
                            ? new Reply.Failed<>(resp.status() + " " + Optional.ofNullable(resp.statusMessage())
                                    .orElse(Optional.ofNullable(resp.trailers().get("grpc-message")).orElse("")))
                            : Reply.of(err, address, "reply", ANSWER_BUDGET_MS))))
                    .recover(err -> Future.succeededFuture(Reply.of(err, address, "reply", ANSWER_BUDGET_MS)))
                    .onSuccess(reply -> {
                        vertx.cancelTimer(answerTimer);
                        result.tryComplete(reply);
                    });
        });
        return result.future().onComplete(done -> vertx.cancelTimer(guard));
    }

    /** Does anything accept TCP connections on {@code port} (the witness's CP member: Hazelcast, not gRPC)? */
    private Future<Reply<Long>> tcpConnect(int port) {
        long started = System.nanoTime();
        String host = topology.hostOfPort(port);
        String address = host + ":" + port;
        return tcp.connect(port, host).<Reply<Long>>map(socket -> {
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            socket.close();
            return new Reply.Answered<>(ms, ms, ms);
        }).recover(err -> Future.succeededFuture(Reply.of(err, address, "TCP connect", Clients.CONNECT_BUDGET_MS)));
    }

    @Override
    public void close() {
        tcp.close().await();
        clients.close();
    }
}
