package io.paymentledger.ledger.grpc;

import io.paymentledger.api.v1.CreateWebhookEndpointRequest;
import io.paymentledger.api.v1.CreateWebhookEndpointResponse;
import io.paymentledger.api.v1.DeleteWebhookEndpointRequest;
import io.paymentledger.api.v1.DeleteWebhookEndpointResponse;
import io.paymentledger.api.v1.EventsServiceGrpcService;
import io.paymentledger.api.v1.ListWebhookDeliveriesRequest;
import io.paymentledger.api.v1.ListWebhookDeliveriesResponse;
import io.paymentledger.api.v1.ListWebhookEndpointsRequest;
import io.paymentledger.api.v1.ListWebhookEndpointsResponse;
import io.paymentledger.api.v1.ReadOptions;
import io.paymentledger.api.v1.RedeliverEventsRequest;
import io.paymentledger.api.v1.RedeliverEventsResponse;
import io.paymentledger.api.v1.RotateWebhookSecretRequest;
import io.paymentledger.api.v1.RotateWebhookSecretResponse;
import io.paymentledger.api.v1.UpdateWebhookEndpointRequest;
import io.paymentledger.api.v1.WebhookDelivery;
import io.paymentledger.api.v1.WebhookDeliveryResult;
import io.paymentledger.api.v1.WebhookEndpoint;
import io.paymentledger.api.v1.WebhookSecretInfo;
import io.paymentledger.api.v1.WebhooksError;
import io.paymentledger.ledger.Caller;
import io.paymentledger.ledger.access.Access;
import io.paymentledger.ledger.events.Cursors;
import io.paymentledger.ledger.events.EventSource;
import io.paymentledger.ledger.events.EventType;
import io.paymentledger.ledger.events.Position;
import io.paymentledger.ledger.webhooks.WebhookSigning;
import io.paymentledger.ledger.webhooks.WebhookStore;
import io.paymentledger.ledger.webhooks.WebhookUrls;
import io.paymentledger.ledger.webhooks.Webhooks;
import io.vertx.core.Future;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;

/**
 * The webhook methods of ledger.v1.EventsService (docs/decisions/0007-webhooks.md): endpoints, secrets, the delivery
 * log and replays. Served by the leader (its database is the one written). A caller manages an endpoint when
 * {@link Access#mayRead} its owner — the merchant that made it, or the operator; any other endpoint is answered
 * NOT_FOUND exactly like one that does not exist.
 */
public final class WebhooksApi {

    /** How long the secrets active at a rotation keep signing when the request does not say. */
    public static final Duration KEEP_OLD_DEFAULT = Duration.ofHours(24);
    public static final Duration KEEP_OLD_MAX = Duration.ofDays(7);
    public static final int DELIVERIES_LIMIT_MAX = 100;
    public static final int DELIVERIES_LIMIT_DEFAULT = 20;
    private static final Pattern ENDPOINT_ID = Pattern.compile("ep_[0-9a-f]{16}");

    private final Webhooks webhooks;
    private final EventSource source;
    private final ReadGate gate;
    private final Blocking blocking;

    public WebhooksApi(Webhooks webhooks, EventSource source, ReadGate gate, Blocking blocking) {
        this.webhooks = webhooks;
        this.source = source;
        this.gate = gate;
        this.blocking = blocking;
    }

    public void bind(Unary unary) {
        unary.bind(EventsServiceGrpcService.CreateWebhookEndpoint, this::create);
        unary.bind(EventsServiceGrpcService.ListWebhookEndpoints, this::list);
        unary.bind(EventsServiceGrpcService.UpdateWebhookEndpoint, this::update);
        unary.bind(EventsServiceGrpcService.DeleteWebhookEndpoint, this::delete);
        unary.bind(EventsServiceGrpcService.RotateWebhookSecret, this::rotate);
        unary.bind(EventsServiceGrpcService.ListWebhookDeliveries, this::deliveries);
        unary.bind(EventsServiceGrpcService.RedeliverEvents, this::redeliver);
    }

    private static StatusException invalid(WebhooksError code, String message) {
        return Unary.invalid(code.name() + ": " + message);
    }

    private static StatusException notFound(String id) {
        return new StatusException(GrpcStatus.NOT_FOUND, "webhook endpoint " + id + " not found");
    }

    /** Leader only; then the work off the event loop, confirmed still leading after it. */
    private <T> Future<T> onLeader(Callable<T> work) throws StatusException {
        if (!webhooks.configured()) {
            throw new StatusException(GrpcStatus.FAILED_PRECONDITION, "this node has no webhook sealing key (the secret store's"
                    + " webhook-secret-key): webhooks are not available");
        }
        gate.check(ReadOptions.getDefaultInstance());
        return gate.confirm(ReadOptions.getDefaultInstance(), blocking.run(work));
    }

    static Set<EventType> types(List<io.paymentledger.api.v1.EventType> types, String field) throws StatusException {
        Set<EventType> out = EnumSet.noneOf(EventType.class);
        for (int i = 0; i < types.size(); i++) {
            io.paymentledger.api.v1.EventType t = types.get(i);
            if (t == io.paymentledger.api.v1.EventType.UNRECOGNIZED || t == io.paymentledger.api.v1.EventType.EVENT_TYPE_UNSPECIFIED) {
                throw invalid(WebhooksError.WEBHOOKS_ERROR_INVALID_TYPE, field + "[" + i + "]: unknown event type");
            }
            out.add(EventType.valueOf(t.name().substring("EVENT_TYPE_".length())));
        }
        return Set.copyOf(out);
    }

    private static String checkId(String id) throws StatusException {
        if (!ENDPOINT_ID.matcher(id).matches()) {
            throw invalid(WebhooksError.WEBHOOKS_ERROR_INVALID_ENDPOINT_ID, "endpoint_id must be ep_ and 16 hex digits");
        }
        return id;
    }

    private String checkUrl(String url) throws StatusException {
        try {
            return WebhookUrls.check(url, webhooks.settings().allowPrivate()).toString();
        } catch (WebhookUrls.Refused r) {
            throw invalid(r.code, r.getMessage());
        }
    }

    /** The endpoint, if the caller may manage it; NOT_FOUND otherwise, the same as for one that does not exist. */
    private WebhookStore.Endpoint mine(Caller caller, String id) throws StatusException, SQLException {
        WebhookStore.Endpoint e = webhooks.store().find(id);
        if (e == null || !Access.mayRead(caller, e.owner())) {
            throw notFound(id);
        }
        return e;
    }

    private static String owner(Caller caller) {
        return caller.isOperator() ? "" : caller.merchantId();
    }

    private byte[] seal(String secret, String endpointId) {
        return webhooks.settings().sealer().seal(secret.getBytes(StandardCharsets.UTF_8), endpointId);
    }

    /** Tells this node's dispatcher at once (it runs here: the API is served by the leader too). */
    private void changed(String id, WebhookStore.Endpoint e) {
        if (webhooks.dispatcher() != null) {
            webhooks.dispatcher().changed(id, e);
        }
    }

    Future<CreateWebhookEndpointResponse> create(CallContext ctx, CreateWebhookEndpointRequest req) throws StatusException {
        Set<EventType> types = types(req.getTypesList(), "types");
        return onLeader(() -> {
            String url = checkUrl(req.getUrl());
            Position from = req.getFromStart() ? Position.START : source.horizon();
            String secret = WebhookSigning.newSecret();
            WebhookStore.Endpoint e;
            try {
                e = webhooks.store().create(owner(ctx.caller()), url, types, from, id -> seal(secret, id));
            } catch (WebhookStore.TooMany t) {
                throw invalid(WebhooksError.WEBHOOKS_ERROR_TOO_MANY_ENDPOINTS, t.getMessage());
            }
            changed(e.id(), e);
            return CreateWebhookEndpointResponse.newBuilder().setEndpoint(proto(e)).setSecret(secret).build();
        });
    }

    Future<ListWebhookEndpointsResponse> list(CallContext ctx, ListWebhookEndpointsRequest req) throws StatusException {
        return onLeader(() -> {
            ListWebhookEndpointsResponse.Builder b = ListWebhookEndpointsResponse.newBuilder();
            for (WebhookStore.Endpoint e : webhooks.store().list(ctx.caller().isOperator() ? null : ctx.caller().merchantId())) {
                b.addEndpoints(proto(e));
            }
            return b.build();
        });
    }

    Future<WebhookEndpoint> update(CallContext ctx, UpdateWebhookEndpointRequest req) throws StatusException {
        String id = checkId(req.getEndpointId());
        Set<EventType> types = req.getReplaceTypes() ? types(req.getTypesList(), "types") : null;
        if (!req.getReplaceTypes() && req.getTypesCount() > 0) {
            throw invalid(WebhooksError.WEBHOOKS_ERROR_INVALID_TYPE, "types are replaced only with replace_types = true");
        }
        return onLeader(() -> {
            String url = req.hasUrl() ? checkUrl(req.getUrl()) : null;
            mine(ctx.caller(), id);
            WebhookStore.Endpoint e = webhooks.store().update(id, url, types, req.hasEnabled() ? req.getEnabled() : null);
            changed(id, e);
            return proto(e);
        });
    }

    Future<DeleteWebhookEndpointResponse> delete(CallContext ctx, DeleteWebhookEndpointRequest req) throws StatusException {
        String id = checkId(req.getEndpointId());
        return onLeader(() -> {
            mine(ctx.caller(), id);
            webhooks.store().delete(id);
            changed(id, null);
            return DeleteWebhookEndpointResponse.getDefaultInstance();
        });
    }

    Future<RotateWebhookSecretResponse> rotate(CallContext ctx, RotateWebhookSecretRequest req) throws StatusException {
        String id = checkId(req.getEndpointId());
        if (req.getKeepOldSeconds() > KEEP_OLD_MAX.toSeconds()) {
            throw invalid(WebhooksError.WEBHOOKS_ERROR_INVALID_KEEP, "keep_old_seconds must be 0.." + KEEP_OLD_MAX.toSeconds()
                    + " (0: " + KEEP_OLD_DEFAULT.toSeconds() + ")");
        }
        Duration keep = req.getKeepOldSeconds() == 0 ? KEEP_OLD_DEFAULT : Duration.ofSeconds(req.getKeepOldSeconds());
        return onLeader(() -> {
            mine(ctx.caller(), id);
            String secret = WebhookSigning.newSecret();
            WebhookStore.Endpoint e;
            try {
                e = webhooks.store().rotate(id, seal(secret, id), Instant.now().plus(keep));
            } catch (WebhookStore.TooManySecrets t) {
                throw invalid(WebhooksError.WEBHOOKS_ERROR_TOO_MANY_SECRETS, t.getMessage());
            }
            changed(id, e);
            return RotateWebhookSecretResponse.newBuilder().setEndpoint(proto(e)).setSecret(secret).build();
        });
    }

    Future<ListWebhookDeliveriesResponse> deliveries(CallContext ctx, ListWebhookDeliveriesRequest req) throws StatusException {
        String id = checkId(req.getEndpointId());
        if (req.getLimit() > DELIVERIES_LIMIT_MAX) {
            throw invalid(WebhooksError.WEBHOOKS_ERROR_INVALID_LIMIT, "limit must be 1.." + DELIVERIES_LIMIT_MAX + " (0: "
                    + DELIVERIES_LIMIT_DEFAULT + ")");
        }
        int limit = req.getLimit() == 0 ? DELIVERIES_LIMIT_DEFAULT : req.getLimit();
        return onLeader(() -> {
            mine(ctx.caller(), id);
            ListWebhookDeliveriesResponse.Builder b = ListWebhookDeliveriesResponse.newBuilder();
            for (WebhookStore.Delivery d : webhooks.store().deliveries(id, limit)) {
                b.addDeliveries(WebhookDelivery.newBuilder().setEventId(d.eventId()).setEventCursor(d.eventCursor())
                        .setAttempt(d.attempt()).setResult(WebhookDeliveryResult.valueOf("WEBHOOK_DELIVERY_RESULT_" + d.result()))
                        .setHttpStatus(d.httpStatus()).setLatencyMs(d.latencyMs()).setError(d.error() == null ? "" : d.error())
                        .setAttemptedAtMs(d.attemptedAt().toEpochMilli()));
            }
            return b.build();
        });
    }

    Future<RedeliverEventsResponse> redeliver(CallContext ctx, RedeliverEventsRequest req) throws StatusException {
        String id = checkId(req.getEndpointId());
        return onLeader(() -> {
            mine(ctx.caller(), id);
            Position from = EventsApi.position(source, req.getAfterCursor());
            WebhookStore.Endpoint e = webhooks.store().redeliver(id, from);
            changed(id, e);
            return RedeliverEventsResponse.newBuilder().setEndpoint(proto(e)).build();
        });
    }

    private WebhookEndpoint proto(WebhookStore.Endpoint e) throws SQLException {
        Cursors cursors = source.cursors();
        WebhookEndpoint.Builder b = WebhookEndpoint.newBuilder().setId(e.id()).setOwner(e.owner()).setUrl(e.url())
                .setEnabled(e.enabled()).setDisabledReason(e.disabledReason() == null ? "" : e.disabledReason())
                .setDeliveredCursor(e.cursor().equals(Position.START) ? "" : cursors.encode(e.cursor()))
                .setCreatedAtMs(e.createdAt().toEpochMilli());
        e.types().stream().sorted().forEach(t -> b.addTypes(io.paymentledger.api.v1.EventType.valueOf("EVENT_TYPE_" + t.name())));
        Instant now = Instant.now();
        for (WebhookStore.Secret s : e.activeSecrets(now)) {
            String secret = new String(webhooks.settings().sealer().open(s.sealed(), e.id()), StandardCharsets.UTF_8);
            b.addSecrets(WebhookSecretInfo.newBuilder().setSeq(s.seq()).setPrefix(secret.substring(0, WebhookSigning.PREFIX.length() + 4) + "...")
                    .setCreatedAtMs(s.createdAt().toEpochMilli()).setExpiresAtMs(s.expiresAt() == null ? 0 : s.expiresAt().toEpochMilli()));
        }
        return b.build();
    }
}
