package io.paymentledger.ledger.webhooks;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): a secret is {@code whsec_} + base64 of random bytes;
 * the HMAC-SHA256 key is the decoded bytes; a delivery's {@code webhook-signature} header is one {@code v1,<base64
 * HMAC(key, id + "." + timestamp + "." + body)>} per active secret, separated by spaces.
 */
public final class WebhookSigning {

    public static final String PREFIX = "whsec_";
    static final int SECRET_BYTES = 32;

    private WebhookSigning() {}

    public static String newSecret() {
        byte[] b = new byte[SECRET_BYTES];
        new SecureRandom().nextBytes(b);
        return PREFIX + Base64.getEncoder().encodeToString(b);
    }

    /** The HMAC key of a {@code whsec_} secret. */
    public static byte[] key(String secret) {
        if (!secret.startsWith(PREFIX)) {
            throw new IllegalArgumentException("a webhook secret starts with " + PREFIX);
        }
        return Base64.getDecoder().decode(secret.substring(PREFIX.length()));
    }

    /** {@code v1,<base64>} for one key. */
    public static String sign(byte[] key, String id, long timestampSeconds, String body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            byte[] sig = mac.doFinal((id + "." + timestampSeconds + "." + body).getBytes(StandardCharsets.UTF_8));
            return "v1," + Base64.getEncoder().encodeToString(sig);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available: " + e.getMessage(), e);
        }
    }

    /** The {@code webhook-signature} header: one entry per key, in the order given. */
    public static String header(List<byte[]> keys, String id, long timestampSeconds, String body) {
        StringBuilder b = new StringBuilder();
        for (byte[] k : keys) {
            if (!b.isEmpty()) {
                b.append(' ');
            }
            b.append(sign(k, id, timestampSeconds, body));
        }
        return b.toString();
    }
}
