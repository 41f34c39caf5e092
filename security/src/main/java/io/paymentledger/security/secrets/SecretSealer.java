package io.paymentledger.security.secrets;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Seals secrets the ledger must read back later (webhook signing secrets) before they go into its database:
 * AES-256-GCM under a key that lives in the {@link SecretStore}, never in the database (like the API-key pepper).
 * A stolen database dump or backup holds no usable secret. The associated data binds a sealed value to its row (an
 * endpoint id), so a sealed value copied to another row does not open.
 */
public final class SecretSealer {

    private static final int NONCE_BYTES = 12;
    private static final int TAG_BITS = 128;
    public static final int KEY_BYTES = 32;

    private final SecretKeySpec key;
    private final SecureRandom random = new SecureRandom();

    public SecretSealer(byte[] key) {
        if (key.length != KEY_BYTES) {
            throw new IllegalArgumentException("a sealing key has " + KEY_BYTES + " bytes, got " + key.length);
        }
        this.key = new SecretKeySpec(key.clone(), "AES");
    }

    /** The key as the secret store keeps it (base64url, as {@link SecretStore#random} makes it). */
    public static SecretSealer fromBase64(String keyBase64) {
        return new SecretSealer(Base64.getUrlDecoder().decode(keyBase64.trim()));
    }

    /** nonce || ciphertext || tag. */
    public byte[] seal(byte[] plain, String boundTo) {
        byte[] nonce = new byte[NONCE_BYTES];
        random.nextBytes(nonce);
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, nonce));
            c.updateAAD(boundTo.getBytes(StandardCharsets.UTF_8));
            byte[] sealed = c.doFinal(plain);
            return ByteBuffer.allocate(NONCE_BYTES + sealed.length).put(nonce).put(sealed).array();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM failed: " + e.getMessage(), e);
        }
    }

    /** The plain value; IllegalStateException when it was sealed under another key or for another row. */
    public byte[] open(byte[] sealed, String boundTo) {
        if (sealed.length <= NONCE_BYTES) {
            throw new IllegalStateException("a sealed secret of " + sealed.length + " bytes is too short");
        }
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, Arrays.copyOf(sealed, NONCE_BYTES)));
            c.updateAAD(boundTo.getBytes(StandardCharsets.UTF_8));
            return c.doFinal(sealed, NONCE_BYTES, sealed.length - NONCE_BYTES);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("a sealed secret does not open with this key (another deployment's key, or"
                    + " the secret store's webhook key was replaced): " + e.getMessage(), e);
        }
    }
}
