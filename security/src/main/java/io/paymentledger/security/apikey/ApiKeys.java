package io.paymentledger.security.apikey;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import io.paymentledger.security.identity.Principal;

/**
 * Merchant API keys. A key looks like {@code lk_<merchantId>_<keyId>_<secret>}:
 * <ul>
 *   <li>{@code merchantId}: {@link Principal#MERCHANT_ID} (no '_', so the key parses unambiguously); keys are generated
 *       only for a {@link Principal#requireMerchantId merchant id} (no reserved name)</li>
 *   <li>{@code keyId}: 16 random hex digits, not secret, used to find the stored hash</li>
 *   <li>{@code secret}: 32 random bytes (256 bits), base64url without padding (43 characters)</li>
 * </ul>
 * Only {@link ApiKeyHash} is stored: HMAC-SHA256 keyed with a server-side pepper (a secret from the
 * {@code SecretStore}, never in the database), so a stolen table does not allow offline guessing without the
 * pepper. Verification compares in constant time. Instances are thread-safe.
 */
public final class ApiKeys {

    /** Minimum pepper length in bytes. */
    public static final int MIN_PEPPER_BYTES = 32;

    private static final Pattern KEY = Pattern.compile("lk_([A-Za-z0-9][A-Za-z0-9-]{0,63})_([0-9a-f]{16})_([A-Za-z0-9_-]{43})");
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final HexFormat HEX = HexFormat.of();

    private final SecretKeySpec pepper;

    /** @param pepper at least {@link #MIN_PEPPER_BYTES} random bytes */
    public ApiKeys(byte[] pepper) {
        Objects.requireNonNull(pepper, "pepper");
        if (pepper.length < MIN_PEPPER_BYTES) {
            throw new IllegalArgumentException("pepper must have at least " + MIN_PEPPER_BYTES + " bytes");
        }
        this.pepper = new SecretKeySpec(pepper.clone(), "HmacSHA256");
    }

    /** From a pepper stored as text (base64url, as {@code SecretStore.random(32)} makes it). */
    public static ApiKeys fromBase64Pepper(String pepperBase64) {
        return new ApiKeys(Base64.getUrlDecoder().decode(pepperBase64.trim()));
    }

    /** A new key and its stored form. Show {@code key} to the merchant once; store only {@code hash}. */
    public record GeneratedKey(String key, ApiKeyHash hash) {
        @Override
        public String toString() {
            return "GeneratedKey[" + hash + "]";
        }
    }

    public GeneratedKey generate(String merchantId) {
        Principal.requireMerchantId(merchantId);
        byte[] id = new byte[8];
        byte[] secret = new byte[32];
        RANDOM.nextBytes(id);
        RANDOM.nextBytes(secret);
        String key = "lk_" + merchantId + "_" + HEX.formatHex(id) + "_" + Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
        return new GeneratedKey(key, hash(key));
    }

    /** The stored form of a well-formed key; {@link IllegalArgumentException} for a malformed one. */
    public ApiKeyHash hash(String key) {
        Matcher m = parse(key).orElseThrow(() -> new IllegalArgumentException("not an API key"));
        return new ApiKeyHash(m.group(1), m.group(2), HEX.formatHex(hmac(key)));
    }

    /**
     * True when {@code presentedKey} is the key {@code stored} was made from. Malformed keys, keys of another
     * merchant or key id, and wrong secrets give false. The HMAC comparison is constant-time.
     */
    public boolean verify(String presentedKey, ApiKeyHash stored) {
        Optional<Matcher> m = parse(presentedKey);
        if (m.isEmpty() || stored == null) {
            return false;
        }
        byte[] expected;
        try {
            expected = HEX.parseHex(stored.hmacHex());
        } catch (IllegalArgumentException e) {
            return false;
        }
        boolean macOk = MessageDigest.isEqual(hmac(presentedKey), expected);
        return macOk & m.get().group(1).equals(stored.merchantId()) & m.get().group(2).equals(stored.keyId());
    }

    /** The merchant id printed in a presented key, if it is well-formed. Not proof of anything until verified. */
    public static Optional<String> merchantIdOf(String presentedKey) {
        return parse(presentedKey).map(m -> m.group(1));
    }

    /** The key id printed in a presented key, if it is well-formed (look the stored hash up by it). */
    public static Optional<String> keyIdOf(String presentedKey) {
        return parse(presentedKey).map(m -> m.group(2));
    }

    private static Optional<Matcher> parse(String key) {
        if (key == null || key.length() > 200) {
            return Optional.empty();
        }
        Matcher m = KEY.matcher(key);
        return m.matches() ? Optional.of(m) : Optional.empty();
    }

    private byte[] hmac(String key) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(pepper);
            return mac.doFinal(key.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
