package io.paymentledger.ledger.auth;

import static io.paymentledger.db.Tables.API_KEY;

import io.paymentledger.ledger.store.Database;
import io.paymentledger.security.apikey.ApiKeyHash;
import io.paymentledger.security.apikey.ApiKeys;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.jooq.impl.DSL;

/**
 * Merchant API keys in the ledger database: only HMAC-SHA256(pepper, key) is stored, the pepper comes from the
 * secret store. Verified keys are remembered for {@link #CACHE_MS} (a revocation takes effect within that).
 */
public final class ApiKeyStore {

    /** How long a verification result is reused. */
    public static final long CACHE_MS = 5_000;

    public record Info(String keyId, String merchantId, long createdAtMs, long revokedAtMs) {}

    private record Cached(ApiKeyHash hash, boolean revoked, long atMs) {}

    private final Database db;
    private final ApiKeys keys;
    private final Map<String, Cached> cache = new ConcurrentHashMap<>();

    public ApiKeyStore(Database db, ApiKeys keys) {
        this.db = db;
        this.keys = keys;
    }

    /** Creates a key for {@code merchantId}; returns it (the only time it is ever seen). */
    public ApiKeys.GeneratedKey create(String merchantId) throws SQLException {
        ApiKeys.GeneratedKey k = keys.generate(merchantId);
        try (Connection c = db.connect("ledger-api-keys")) {
            Database.dsl(c).insertInto(API_KEY, API_KEY.KEY_ID, API_KEY.MERCHANT_ID, API_KEY.HMAC_HEX)
                    .values(k.hash().keyId(), merchantId, k.hash().hmacHex()).execute();
        }
        return k;
    }

    public List<Info> list(String merchantId) throws SQLException {
        return db.read(dsl -> dsl.selectFrom(API_KEY).where(merchantId.isEmpty() ? DSL.trueCondition() : API_KEY.MERCHANT_ID.eq(merchantId))
                .orderBy(API_KEY.CREATED_AT).fetch(r -> new Info(r.getKeyId(), r.getMerchantId(), ms(r.getCreatedAt()),
                        ms(r.getRevokedAt()))));
    }

    public boolean revoke(String keyId) throws SQLException {
        cache.remove(keyId);
        try (Connection c = db.connect("ledger-api-keys")) {
            return Database.dsl(c).update(API_KEY).set(API_KEY.REVOKED_AT, DSL.currentOffsetDateTime())
                    .where(API_KEY.KEY_ID.eq(keyId)).and(API_KEY.REVOKED_AT.isNull()).execute() == 1;
        }
    }

    /** The merchant a presented key belongs to, if it is a valid, unrevoked key. Blocking (JDBC). */
    public Optional<String> authenticate(String presented) throws SQLException {
        Optional<String> keyId = ApiKeys.keyIdOf(presented);
        if (keyId.isEmpty()) {
            return Optional.empty();
        }
        long now = System.currentTimeMillis();
        Cached c = cache.get(keyId.get());
        if (c == null || now - c.atMs() > CACHE_MS) {
            c = db.read(dsl -> Optional.ofNullable(dsl.selectFrom(API_KEY).where(API_KEY.KEY_ID.eq(keyId.get())).fetchOne())
                    .map(r -> new Cached(new ApiKeyHash(r.getMerchantId(), r.getKeyId(), r.getHmacHex()), r.getRevokedAt() != null, now))
                    .orElse(new Cached(null, true, now)));
            cache.put(keyId.get(), c);
        }
        if (c.hash() == null || c.revoked() || !keys.verify(presented, c.hash())) {
            return Optional.empty();
        }
        return Optional.of(c.hash().merchantId());
    }

    private static long ms(OffsetDateTime t) {
        return t == null ? 0 : t.toInstant().toEpochMilli();
    }
}
