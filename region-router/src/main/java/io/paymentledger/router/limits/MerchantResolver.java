package io.paymentledger.router.limits;

import io.paymentledger.security.identity.Identities;
import io.paymentledger.security.identity.Principal;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.GrpcServerRequest;
import io.vertx.grpc.server.StatusException;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Who a call comes from, as the key of the per-merchant concurrency limit. The router forwards the key to the
 * node in {@value #HEADER} (overwriting what the client sent; removed for {@value #ANONYMOUS}).
 */
@FunctionalInterface
public interface MerchantResolver {

    /** The header a merchant id travels in (set by the security layer or, for now, by the client). */
    String HEADER = "x-merchant-id";
    /** The key of calls that name no merchant. */
    String ANONYMOUS = "anonymous";
    /** What a merchant key may look like (the ledger's id alphabet). */
    Pattern KEY = Pattern.compile("[A-Za-z0-9._:-]{1,64}");

    /** The merchant key of the call; INVALID_ARGUMENT / UNAUTHENTICATED when it cannot be told. */
    String resolve(GrpcServerRequest<?, ?> call) throws StatusException;

    /** The {@value #HEADER} header as sent by the client; {@value #ANONYMOUS} when absent. Not an authentication. */
    static MerchantResolver header() {
        return call -> {
            String v = call.headers().get(HEADER);
            if (v == null || v.isEmpty()) {
                return ANONYMOUS;
            }
            if (!KEY.matcher(v).matches()) {
                throw new StatusException(GrpcStatus.INVALID_ARGUMENT,
                        HEADER + " must be 1..64 characters of [A-Za-z0-9._:-]");
            }
            return v;
        };
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
                case Principal.Operator o -> "operator";
                case Principal.Service s -> "service:" + s.region() + "/" + s.component();
            };
        };
    }
}
