package io.paymentledger.router.support;

import io.paymentledger.router.limits.MerchantResolver;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import java.util.regex.Pattern;

/**
 * Tests only: the merchant key as the client writes it in {@code x-merchant-id}. It is no identity (anyone can
 * write any header), which is why the router's default vouches for nobody; the tests of limits and pass-through
 * use it to name their callers on plaintext loopback.
 */
public final class ClientHeader {

    private static final Pattern KEY = Pattern.compile("[A-Za-z0-9._:-]{1,64}");

    private ClientHeader() {}

    public static MerchantResolver resolver() {
        return call -> {
            String v = call.headers().get(MerchantResolver.HEADER);
            if (v == null || v.isEmpty()) {
                return MerchantResolver.ANONYMOUS;
            }
            if (!KEY.matcher(v).matches()) {
                throw new StatusException(GrpcStatus.INVALID_ARGUMENT, MerchantResolver.HEADER + " must be 1..64 characters of [A-Za-z0-9._:-]");
            }
            return v;
        };
    }
}
