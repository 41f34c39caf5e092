package io.paymentledger.router.limits;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.paymentledger.security.identity.Identities;
import io.paymentledger.security.identity.Principal;
import io.vertx.core.MultiMap;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.GrpcServerRequest;
import io.vertx.grpc.server.StatusException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;

/**
 * The per-merchant limit's key for merchants that use an API key. The router cannot check a key (it has neither
 * the database nor the pepper); the node does, and says whose key it was in {@link Identities#CALLER_HEADER} on
 * its answer. Only then does the router remember that exact key (by its SHA-256: the key itself is never kept) as
 * that merchant's. Before, a key counts as {@link MerchantResolver#UNVERIFIED}, one small budget for all such
 * keys: a made-up key, or one naming a real merchant in its printed prefix, never spends a real merchant's budget.
 * A node's UNAUTHENTICATED (revoked key) makes the router forget it. Bounded: {@link #KEYS_MAX} keys, each for
 * {@link #KEY_TTL_MS}.
 */
public final class VerifiedApiKeys implements MerchantResolver {

    /** API keys remembered at most. */
    public static final int KEYS_MAX = 100_000;
    /** How long a verified key keeps its merchant's budget without a node confirming it again. */
    public static final long KEY_TTL_MS = 60_000;

    private final MerchantResolver certificates;
    private final Cache<String, String> merchantByKeyDigest = Caffeine.newBuilder().maximumSize(KEYS_MAX)
            .expireAfterWrite(Duration.ofMillis(KEY_TTL_MS)).build();

    VerifiedApiKeys(MerchantResolver certificates) {
        this.certificates = certificates;
    }

    @Override
    public String resolve(GrpcServerRequest<?, ?> call) throws StatusException {
        String fromCertificate = certificates.resolve(call);
        if (!ANONYMOUS.equals(fromCertificate)) {
            return fromCertificate;
        }
        String key = bearer(call);
        if (key == null) {
            return ANONYMOUS;
        }
        String merchant = merchantByKeyDigest.getIfPresent(digest(key));
        return merchant != null ? merchant : UNVERIFIED;
    }

    @Override
    public void learn(GrpcServerRequest<?, ?> call, GrpcStatus status, MultiMap upstreamHeaders) {
        String key = bearer(call);
        if (key == null || !ANONYMOUS.equals(certificatesQuietly(call))) {
            return;
        }
        if (status == GrpcStatus.UNAUTHENTICATED) {
            merchantByKeyDigest.invalidate(digest(key));
            return;
        }
        String merchant = upstreamHeaders.get(Identities.CALLER_HEADER);
        if (Principal.isMerchantId(merchant)) {
            merchantByKeyDigest.put(digest(key), merchant);
        }
    }

    /** Keys remembered now. */
    public long size() {
        merchantByKeyDigest.cleanUp();
        return merchantByKeyDigest.estimatedSize();
    }

    private String certificatesQuietly(GrpcServerRequest<?, ?> call) {
        try {
            return certificates.resolve(call);
        } catch (StatusException e) {
            return ANONYMOUS;
        }
    }

    private static String bearer(GrpcServerRequest<?, ?> call) {
        String authorization = call.headers().get("authorization");
        if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return null;
        }
        String key = authorization.substring(7).trim();
        return key.isEmpty() ? null : key;
    }

    private static String digest(String key) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }
}
