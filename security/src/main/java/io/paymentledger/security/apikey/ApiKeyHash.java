package io.paymentledger.security.apikey;

/**
 * The stored form of a merchant API key: what the ledger database keeps. Nothing here lets anyone rebuild
 * the key; {@code hmacHex} is HMAC-SHA256(pepper, key) in lower-case hex.
 *
 * @param merchantId the merchant the key belongs to
 * @param keyId      public key id (16 hex digits), printed in the key itself, for lookup and revocation
 * @param hmacHex    HMAC-SHA256(pepper, full key text), 64 hex digits
 */
public record ApiKeyHash(String merchantId, String keyId, String hmacHex) {}
