package io.paymentledger.security.secrets;

/** A secret could not be read or written; the message says why (never the secret value). */
public class SecretStoreException extends RuntimeException {

    public SecretStoreException(String message) {
        super(message);
    }

    public SecretStoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
