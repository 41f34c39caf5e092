package io.paymentledger.ledger.auth;

import io.paymentledger.ledger.Caller;
import io.paymentledger.ledger.grpc.CallerResolver;
import io.paymentledger.security.identity.ForwardedCertificate;
import io.paymentledger.security.identity.Identities;
import io.paymentledger.security.identity.Principal;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.GrpcServerRequest;
import io.vertx.grpc.server.StatusException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Optional;

/**
 * Who a call to a ledger node comes from, decided by the mutual-TLS peer certificate only:
 * <ul>
 *   <li>the operator's certificate: the operator;</li>
 *   <li>a merchant's certificate (a merchant calling a node directly): that merchant;</li>
 *   <li>the region router's certificate: the operator when the router forwards the operator's own certificate in
 *       {@value ForwardedCertificate#OPERATOR_HEADER} (issued by this deployment's CA, valid now, naming the operator);
 *       else the merchant the router vouches for in {@value #MERCHANT_HEADER} (from the merchant's certificate at the
 *       router), or the owner of a valid API key in {@code authorization: Bearer}; trusted only because the router's
 *       own certificate says it is the router. {@value #MERCHANT_HEADER} only ever names a merchant
 *       ({@link Principal#isMerchantId}): no value of it makes the caller the operator;</li>
 *   <li>anything else (another service, no certificate of this deployment): refused.</li>
 * </ul>
 * Identity headers sent by anyone but the router are ignored. Nothing here blocks: certificates are read from the
 * TLS session, API keys are checked by {@link ApiKeyStore#authenticate} (memory, or a bounded lookup off the loop).
 */
public final class CertificateCallerResolver implements CallerResolver {

    public static final String MERCHANT_HEADER = "x-merchant-id";

    private final String trustDomain;
    private final ApiKeyStore apiKeys;
    private final X509Certificate ca;

    /**
     * @param ca the deployment's CA: an operator certificate forwarded by the router must be issued by it (null: the
     *           operator is believed only over its own connection, never through the router)
     */
    public CertificateCallerResolver(String trustDomain, ApiKeyStore apiKeys, X509Certificate ca) {
        this.trustDomain = Identities.requireTrustDomain(trustDomain);
        this.apiKeys = apiKeys;
        this.ca = ca;
    }

    @Override
    public Future<Caller> resolve(GrpcServerRequest<?, ?> request) {
        Optional<Principal> peer = Identities.fromPeer(request.connection(), trustDomain);
        if (peer.isEmpty()) {
            return refuse(GrpcStatus.UNAUTHENTICATED, "no client certificate of trust domain " + trustDomain);
        }
        return switch (peer.get()) {
            case Principal.Operator o -> Future.succeededFuture(Caller.OPERATOR);
            case Principal.Merchant m -> Future.succeededFuture(Caller.merchant(m.id()));
            case Principal.Service s when s.component().equals("router") -> viaRouter(request);
            case Principal.Service s -> refuse(GrpcStatus.PERMISSION_DENIED, "service " + s.path() + " may not call the ledger API");
            case Principal.Prometheus p -> refuse(GrpcStatus.PERMISSION_DENIED, "the metrics scraper may not call the ledger API");
        };
    }

    @Override
    public boolean mayReadMetrics(io.vertx.core.http.HttpServerRequest request) {
        return io.paymentledger.telemetry.metrics.ProcessMetrics.peerMayRead(request, trustDomain);
    }

    private Future<Caller> viaRouter(GrpcServerRequest<?, ?> request) {
        String operatorCertificate = request.headers().get(ForwardedCertificate.OPERATOR_HEADER);
        if (operatorCertificate != null) {
            return ForwardedCertificate.verify(operatorCertificate, ca, trustDomain, Instant.now())
                    .filter(p -> p instanceof Principal.Operator)
                    .map(p -> Future.succeededFuture(Caller.OPERATOR))
                    .orElseGet(() -> refuse(GrpcStatus.UNAUTHENTICATED, "the certificate the router forwarded in "
                            + ForwardedCertificate.OPERATOR_HEADER + " is not a valid operator certificate of this deployment"));
        }
        String vouched = request.headers().get(MERCHANT_HEADER);
        String authorization = request.headers().get("authorization");
        if (authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            Context context = Vertx.currentContext();
            return Future.fromCompletionStage(apiKeys.authenticate(authorization.substring(7).trim()), context).transform(ar -> {
                if (ar.failed()) {
                    Throwable e = ar.cause() instanceof java.util.concurrent.CompletionException ce && ce.getCause() != null
                            ? ce.getCause() : ar.cause();
                    return e instanceof ApiKeyStore.Busy busy ? refuse(GrpcStatus.RESOURCE_EXHAUSTED, busy.getMessage())
                            : refuse(GrpcStatus.UNAVAILABLE, "cannot check the API key now: database unavailable");
                }
                Optional<String> owner = ar.result().filter(Principal::isMerchantId);
                if (owner.isEmpty()) {
                    return refuse(GrpcStatus.UNAUTHENTICATED, "API key not valid (unknown, revoked or malformed)");
                }
                if (vouched != null && !vouched.equals(owner.get())) {
                    return refuse(GrpcStatus.UNAUTHENTICATED, "API key belongs to another merchant than the certificate");
                }
                return Future.succeededFuture(Caller.merchant(owner.get()));
            });
        }
        if (vouched == null || vouched.isEmpty() || vouched.startsWith("service:")) {
            return refuse(GrpcStatus.UNAUTHENTICATED,
                    "no merchant identity: present a merchant certificate or an API key (authorization: Bearer ...)");
        }
        if (!Principal.isMerchantId(vouched)) {
            // Never the operator: the operator is proved by its own certificate, not by a name the router forwards.
            return refuse(GrpcStatus.UNAUTHENTICATED, "the router vouched for '" + vouched + "' in " + MERCHANT_HEADER
                    + ", which is not a merchant id");
        }
        return Future.succeededFuture(Caller.merchant(vouched));
    }

    private static <T> Future<T> refuse(GrpcStatus status, String message) {
        return Future.failedFuture(new StatusException(status, message));
    }
}
