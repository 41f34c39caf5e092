package io.paymentledger.router.limits;

import io.paymentledger.security.identity.Identities;
import io.paymentledger.security.identity.Principal;
import io.vertx.core.MultiMap;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.GrpcServerRequest;
import io.vertx.grpc.server.StatusException;
import java.util.Optional;

/**
 * Who a call comes from, as the key of the per-merchant concurrency limit, and whether the router vouches for it:
 * a key for which {@link #vouches(String)} holds travels to the node in {@value #HEADER} (overwriting what the client
 * sent, which is never trusted); any other key sends none, and the node decides on its own (e.g. checks the API key).
 * Only identities the router verified itself (the mutual-TLS peer certificate) are vouched for.
 */
@FunctionalInterface
public interface MerchantResolver {

    /** The header a verified merchant id travels in, router to node (a client's own is removed). */
    String HEADER = "x-merchant-id";
    /**
     * The key of the operator's certificate. Not sent as {@value #HEADER}: the router forwards the operator's own
     * certificate instead ({@link io.paymentledger.security.identity.ForwardedCertificate#OPERATOR_HEADER}), and the
     * node believes the operator on that alone. No merchant has this key: it is a reserved merchant id.
     */
    String OPERATOR = "operator";
    /** The key of calls that name no merchant. */
    String ANONYMOUS = "anonymous";
    /**
     * The one key of every call with an API key that no node has verified yet (':' cannot be in a merchant id, so no
     * certificate maps to it). Its budget is {@code unverifiedConcurrentCalls}, shared by all such calls.
     */
    String UNVERIFIED = "unverified:api-key";

    /** The merchant key of the call; INVALID_ARGUMENT / UNAUTHENTICATED when it cannot be told. Never blocks. */
    String resolve(GrpcServerRequest<?, ?> call) throws StatusException;

    /**
     * Told the upstream's answer to a call this resolver keyed (on the call's context, before the client gets it):
     * how a node's verdict on the call's identity can be learnt. Does nothing by default.
     */
    default void learn(GrpcServerRequest<?, ?> call, GrpcStatus status, MultiMap upstreamHeaders) {
    }

    /** Does the router vouch for this key, i.e. send it to the node in {@value #HEADER} as the caller's identity? */
    static boolean vouches(String key) {
        return !ANONYMOUS.equals(key) && !UNVERIFIED.equals(key) && !OPERATOR.equals(key);
    }

    /** Every call is {@value #ANONYMOUS}: the router vouches for nobody (the safe default). */
    static MerchantResolver anonymous() {
        return call -> ANONYMOUS;
    }

    /**
     * The SPIFFE identity of the TLS peer certificate (mTLS): a merchant's id, "operator", or
     * "service:&lt;region&gt;/&lt;component&gt;"; {@value #ANONYMOUS} without a certificate of {@code trustDomain}.
     * The client's own {@value #HEADER} header is ignored (and overwritten upstream).
     */
    static MerchantResolver peerCertificate(String trustDomain) {
        Identities.requireTrustDomain(trustDomain);
        return call -> {
            Optional<Principal> p = Identities.fromPeer(call.connection(), trustDomain);
            if (p.isEmpty()) {
                return ANONYMOUS;
            }
            return switch (p.get()) {
                case Principal.Merchant m -> m.id();
                case Principal.Operator o -> OPERATOR;
                case Principal.Service s -> "service:" + s.region() + "/" + s.component();
                // Not a merchant: the node refuses it (only /metrics is its business, answered by the router itself).
                case Principal.Prometheus scraper -> "service:prometheus";
            };
        };
    }

    /**
     * The peer certificate when there is one; else the merchant of an API key ({@code authorization: Bearer}) once
     * a node verified that exact key, {@value #UNVERIFIED} before. See {@link VerifiedApiKeys}.
     */
    static MerchantResolver certificateOrApiKey(String trustDomain) {
        return new VerifiedApiKeys(peerCertificate(trustDomain));
    }
}
