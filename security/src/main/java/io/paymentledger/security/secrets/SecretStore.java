package io.paymentledger.security.secrets;

import java.security.SecureRandom;
import java.util.Base64;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Named static secrets (database passwords, the API-key pepper, ...). Implementations:
 * {@link FileSecretStore} (a 0600 JSON file in the deployment directory) and {@link VaultSecretStore}
 * (Vault KV v2, cached). Calls block (file or network I/O): from a Vert.x event loop, use
 * {@code executeBlocking}. Every value returned is registered with
 * {@link io.paymentledger.security.logging.SecretRedactor#global()}.
 */
public interface SecretStore extends AutoCloseable {

    /** Secret names: letters, digits, '.', '_', '-', 1-128 characters. */
    Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    /** The secret's value, or empty if it does not exist. {@link SecretStoreException} if it cannot be read. */
    Optional<String> get(String name);

    /** The secret's value; {@link SecretStoreException} if it does not exist or cannot be read. */
    default String require(String name) {
        return get(name).orElseThrow(() -> new SecretStoreException("secret '" + name + "' does not exist"));
    }

    /** Creates or replaces a secret. */
    void put(String name, String value);

    /**
     * The secret's value; if it does not exist, stores {@code generator.get()} and returns it. Implementations
     * make this safe against concurrent creators (file lock; Vault check-and-set), so every caller gets the
     * same value.
     */
    String getOrCreate(String name, Supplier<String> generator);

    /** Whether values come live from the source or from a cache, and until when. */
    Health health();

    @Override
    default void close() {}

    /** A generator of random secrets: {@code bytes} random bytes, base64url without padding. */
    static Supplier<String> random(int bytes) {
        if (bytes < 16) {
            throw new IllegalArgumentException("use at least 16 random bytes");
        }
        return () -> {
            byte[] b = new byte[bytes];
            new SecureRandom().nextBytes(b);
            return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
        };
    }

    /** Checks a secret name and returns it. */
    static String checkName(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("invalid secret name: " + name);
        }
        return name;
    }
}
