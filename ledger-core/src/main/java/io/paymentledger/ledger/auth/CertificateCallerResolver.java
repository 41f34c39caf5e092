package io.paymentledger.ledger.auth;

import io.paymentledger.ledger.Caller;
import io.paymentledger.ledger.grpc.CallerResolver;
import io.paymentledger.security.identity.Identities;
import io.paymentledger.security.identity.Principal;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.GrpcServerRequest;
import io.vertx.grpc.server.StatusException;
import java.util.Optional;

/**
 * Who a call to a ledger node comes from, decided by the mutual-TLS peer certificate only:
 * <ul>
 *   <li>the operator's certificate: the operator;</li>
 *   <li>a merchant's certificate (a merchant calling a node directly): that merchant;</li>
 *   <li>the region router's certificate: the merchant the router vouches for in {@value #MERCHANT_HEADER} (from the
 *       merchant's certificate at the router), or the owner of a valid API key in {@code authorization: Bearer};
 *       trusted only because the router's own certificate says it is the router;</li>
 *   <li>anything else (another service, no certificate of this deployment): refused.</li>
 * </ul>
 * Identity headers sent by anyone but the router are ignored.
 */
public final class CertificateCallerResolver implements CallerResolver {

    public static final String MERCHANT_HEADER = "x-merchant-id";
    public static final String ROUTER_OPERATOR = "operator";

    private final String trustDomain;
    private final ApiKeyStore apiKeys;

    public CertificateCallerResolver(String trustDomain, ApiKeyStore apiKeys) {
        this.trustDomain = Identities.requireTrustDomain(trustDomain);
        this.apiKeys = apiKeys;
    }

    @Override
    public Caller resolve(GrpcServerRequest<?, ?> request) throws StatusException {
        Optional<Principal> peer = Identities.fromPeer(request.connection(), trustDomain);
        if (peer.isEmpty()) {
            throw new StatusException(GrpcStatus.UNAUTHENTICATED, "no client certificate of trust domain " + trustDomain);
        }
        return switch (peer.get()) {
            case Principal.Operator o -> Caller.OPERATOR;
            case Principal.Merchant m -> Caller.merchant(m.id());
            case Principal.Service s when s.component().equals("router") -> viaRouter(request);
            case Principal.Service s -> throw new StatusException(GrpcStatus.PERMISSION_DENIED,
                    "service " + s.path() + " may not call the ledger API");
        };
    }

    private Caller viaRouter(GrpcServerRequest<?, ?> request) throws StatusException {
        String vouched = request.headers().get(MERCHANT_HEADER);
        String authorization = request.headers().get("authorization");
        if (authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            Optional<String> owner = authenticate(authorization.substring(7).trim());
            if (owner.isEmpty()) {
                throw new StatusException(GrpcStatus.UNAUTHENTICATED, "API key not valid (unknown, revoked or malformed)");
            }
            if (vouched != null && !vouched.equals(owner.get())) {
                throw new StatusException(GrpcStatus.UNAUTHENTICATED, "API key belongs to another merchant than the certificate");
            }
            return Caller.merchant(owner.get());
        }
        if (vouched == null || vouched.isEmpty() || vouched.startsWith("service:")) {
            throw new StatusException(GrpcStatus.UNAUTHENTICATED,
                    "no merchant identity: present a merchant certificate or an API key (authorization: Bearer ...)");
        }
        return vouched.equals(ROUTER_OPERATOR) ? Caller.OPERATOR : Caller.merchant(vouched);
    }

    private Optional<String> authenticate(String key) throws StatusException {
        try {
            return apiKeys.authenticate(key);
        } catch (java.sql.SQLException | org.jooq.exception.DataAccessException e) {
            throw new StatusException(GrpcStatus.UNAVAILABLE, "cannot check the API key now: database unavailable");
        }
    }
}
