package io.paymentledger.ledger.grpc;

import io.paymentledger.api.v1.GetNodeStatusRequest;
import io.paymentledger.api.v1.NodeServiceGrpcService;
import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.api.v1.SwitchoverRequest;
import io.paymentledger.api.v1.SwitchoverResponse;
import io.paymentledger.ledger.node.NodeControl;
import io.paymentledger.ledger.validation.Ids;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.health.HealthService;
import io.vertx.grpc.health.handler.GrpcHealthCheckV1Handler;
import io.vertx.grpc.health.v1.HealthCheckResponse;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.StatusException;
import java.util.Set;

/**
 * ledger.v1.NodeService (operator only) and grpc.health.v1.Health. A node is SERVING only while it leads and can
 * commit (not while its synchronous standby is gone under policy BLOCK);
 * every health answer carries the node's epoch, region and role in its headers
 * ({@code x-ledger-epoch}, {@code x-ledger-region}, {@code x-ledger-role}) so routers follow the highest epoch.
 */
public final class NodeApi {

    public static final String EPOCH_HEADER = "x-ledger-epoch";
    public static final String REGION_HEADER = "x-ledger-region";
    public static final String ROLE_HEADER = "x-ledger-role";
    /**
     * On health answers: how stale this node's data may be ({@link ReadGate#stalenessMs}), in ms, or "unknown". The
     * router sends a bounded-staleness read only to a standby whose report, aged by the time since, is within it.
     */
    public static final String STALENESS_HEADER = "x-ledger-staleness-ms";
    /** The service names health answers for ("" is the whole node). */
    public static final Set<String> SERVICES = Set.of("", "ledger.v1.LedgerService", "ledger.v1.PaymentsService");

    private final NodeControl control;
    private final io.paymentledger.ledger.auth.ApiKeyStore apiKeys;
    private final Blocking blocking;

    /** @param apiKeys the API key store, or null when this node has none (then the key RPCs fail FAILED_PRECONDITION) */
    public NodeApi(NodeControl control, io.paymentledger.ledger.auth.ApiKeyStore apiKeys, Blocking blocking) {
        this.control = control;
        this.apiKeys = apiKeys;
        this.blocking = blocking;
    }

    public void bind(Vertx vertx, GrpcServer server, Unary unary) {
        unary.bind(NodeServiceGrpcService.GetNodeStatus, this::status);
        unary.bind(NodeServiceGrpcService.Switchover, this::switchover);
        unary.bind(NodeServiceGrpcService.CreateApiKey, this::createApiKey);
        unary.bind(NodeServiceGrpcService.ListApiKeys, this::listApiKeys);
        unary.bind(NodeServiceGrpcService.RevokeApiKey, this::revokeApiKey);
        HealthService health = HealthService.create(vertx);
        for (String name : SERVICES) {
            health.register(name, () -> Future.succeededFuture(control.servesWrites()));
        }
        server.addService(health);
        // Check answers itself so it can add the epoch headers; Watch and List stay Vert.x's.
        // (The first handler registered for a method wins, so Vert.x's Check is removed first.)
        server.callHandler(GrpcHealthCheckV1Handler.SERVICE_METHOD, null);
        server.callHandler(GrpcHealthCheckV1Handler.SERVICE_METHOD, call -> call.last().onSuccess(req -> {
            NodeStatus st = control.status();
            call.response().headers().set(EPOCH_HEADER, Long.toString(st.getEpoch()))
                    .set(REGION_HEADER, st.getRegion()).set(ROLE_HEADER, st.getRole().name());
            long staleness = control.stalenessMs();
            call.response().headers().set(STALENESS_HEADER, staleness == Long.MAX_VALUE ? "unknown" : Long.toString(staleness));
            if (!SERVICES.contains(req.getService())) {
                call.response().status(GrpcStatus.NOT_FOUND).statusMessage("unknown service " + req.getService()).end();
                return;
            }
            call.response().end(HealthCheckResponse.newBuilder().setStatus(control.servesWrites()
                    ? HealthCheckResponse.ServingStatus.SERVING : HealthCheckResponse.ServingStatus.NOT_SERVING).build());
        }));
    }

    private static void requireOperator(CallContext ctx) throws StatusException {
        if (!ctx.caller().isOperator()) {
            throw new StatusException(GrpcStatus.PERMISSION_DENIED, "NodeService is for the operator role only");
        }
    }

    Future<NodeStatus> status(CallContext ctx, GetNodeStatusRequest req) throws StatusException {
        requireOperator(ctx);
        return Future.succeededFuture(control.status());
    }

    private io.paymentledger.ledger.auth.ApiKeyStore keys(boolean write) throws StatusException {
        if (apiKeys == null) {
            throw new StatusException(GrpcStatus.FAILED_PRECONDITION, "this node has no API key store (no pepper configured)");
        }
        if (write && !control.leads()) {
            throw new StatusException(GrpcStatus.UNAVAILABLE, "not the leader: API keys are written on the leader");
        }
        return apiKeys;
    }

    Future<io.paymentledger.api.v1.CreateApiKeyResponse> createApiKey(CallContext ctx, io.paymentledger.api.v1.CreateApiKeyRequest req)
            throws StatusException {
        requireOperator(ctx);
        try {
            io.paymentledger.security.identity.Principal.requireMerchantId(req.getMerchantId());
        } catch (IllegalArgumentException e) {
            throw Unary.invalid("merchant_id: " + e.getMessage());
        }
        var store = keys(true);
        return blocking.run(() -> {
            var k = store.create(req.getMerchantId());
            return io.paymentledger.api.v1.CreateApiKeyResponse.newBuilder().setKeyId(k.hash().keyId()).setApiKey(k.key()).build();
        });
    }

    Future<io.paymentledger.api.v1.ListApiKeysResponse> listApiKeys(CallContext ctx, io.paymentledger.api.v1.ListApiKeysRequest req)
            throws StatusException {
        requireOperator(ctx);
        var store = keys(false);
        return blocking.run(() -> {
            var out = io.paymentledger.api.v1.ListApiKeysResponse.newBuilder();
            for (var k : store.list(req.getMerchantId())) {
                out.addKeys(io.paymentledger.api.v1.ApiKeyInfo.newBuilder().setKeyId(k.keyId()).setMerchantId(k.merchantId())
                        .setCreatedAtMs(k.createdAtMs()).setRevokedAtMs(k.revokedAtMs()));
            }
            return out.build();
        });
    }

    Future<io.paymentledger.api.v1.RevokeApiKeyResponse> revokeApiKey(CallContext ctx, io.paymentledger.api.v1.RevokeApiKeyRequest req)
            throws StatusException {
        requireOperator(ctx);
        if (req.getKeyId().isEmpty() || req.getKeyId().length() > 16) {
            throw Unary.invalid("key_id: the 16 hex digits shown by ./ledger merchant keys");
        }
        var store = keys(true);
        return blocking.run(() -> io.paymentledger.api.v1.RevokeApiKeyResponse.newBuilder().setRevoked(store.revoke(req.getKeyId())).build());
    }

    Future<SwitchoverResponse> switchover(CallContext ctx, SwitchoverRequest req) throws StatusException {
        requireOperator(ctx);
        if (!Ids.isValid(req.getToRegion())) {
            throw Unary.invalid("to_region must name a region, e.g. \"b\"");
        }
        return control.switchover(req.getToRegion());
    }
}
