package io.paymentledger.ledger.auth;

import static io.paymentledger.db.Tables.API_KEY;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.paymentledger.ledger.store.Database;
import io.paymentledger.security.apikey.ApiKeyHash;
import io.paymentledger.security.apikey.ApiKeys;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.logging.Logger;
import org.jooq.impl.DSL;

/**
 * Merchant API keys in the ledger database: only HMAC-SHA256(pepper, key) is stored, the pepper comes from the
 * secret store.
 *
 * <p>{@link #authenticate} never blocks its caller (it is called on a node's event loop, the one that also answers
 * health checks): a malformed key is refused by its format alone; a key id seen lately is answered from a bounded
 * in-memory cache; anything else is looked up on a virtual thread, at most {@link #LOOKUPS_CONCURRENT_MAX} at a time
 * (so a flood of random keys holds at most that many of the read pool's connections), with concurrent lookups of
 * one key id shared. Over that bound a lookup is refused at once ({@link Busy}) rather than queued. Known keys are
 * re-read in the background before they expire, with permits of their own, so a merchant whose key is in use
 * keeps being answered from memory while a flood of unknown keys runs. Key ids without a valid key are remembered
 * in a second bounded cache, so a flood cannot push the real merchants' keys out. A revocation takes effect
 * within {@link #CACHE_MS}.
 */
public final class ApiKeyStore implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(ApiKeyStore.class.getName());

    /** How long a lookup's result is used (a revocation takes effect within that). */
    public static final long CACHE_MS = 5_000;
    /** A known key's entry this old is re-read in the background while the cached one is still used. */
    public static final long REFRESH_AFTER_MS = 3_000;
    /** Key ids with a valid key remembered at most. */
    public static final int KNOWN_KEYS_MAX = 100_000;
    /** Key ids without one (unknown or revoked) remembered at most. */
    public static final int UNKNOWN_KEYS_MAX = 10_000;
    /** Database lookups of keys not in memory, in flight at most (the read pool must stay free for reads). */
    public static final int LOOKUPS_CONCURRENT_MAX = 2;
    /** Background re-reads of known keys in flight at most (separate, so a flood cannot starve them). */
    public static final int REFRESHES_CONCURRENT_MAX = 1;

    public record Info(String keyId, String merchantId, long createdAtMs, long revokedAtMs) {}

    /** Too many lookups in flight: refused without queueing (the caller answers RESOURCE_EXHAUSTED). */
    public static final class Busy extends RuntimeException {
        Busy() {
            super("API key checks at capacity (" + LOOKUPS_CONCURRENT_MAX + " in flight); retry after a short pause",
                    null, false, false);
        }
    }

    /** What the database says of a key id: its stored hash when valid, or null (unknown or revoked). */
    private record Stored(ApiKeyHash hash, long loadedAtNanos) {}

    private final Database db;
    private final ApiKeys keys;
    private final Cache<String, Stored> known = Caffeine.newBuilder().maximumSize(KNOWN_KEYS_MAX)
            .expireAfterWrite(Duration.ofMillis(CACHE_MS)).build();
    private final Cache<String, Boolean> unknown = Caffeine.newBuilder().maximumSize(UNKNOWN_KEYS_MAX)
            .expireAfterWrite(Duration.ofMillis(CACHE_MS)).build();
    /** Lookups in flight by key id (at most the permits of both kinds). */
    private final ConcurrentHashMap<String, CompletableFuture<Stored>> inFlight = new ConcurrentHashMap<>();
    private final Semaphore lookups = new Semaphore(LOOKUPS_CONCURRENT_MAX);
    private final Semaphore refreshes = new Semaphore(REFRESHES_CONCURRENT_MAX);
    private final ExecutorService executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("api-key-lookup-", 0).factory());

    public ApiKeyStore(Database db, ApiKeys keys) {
        this.db = db;
        this.keys = keys;
    }

    /** Creates a key for {@code merchantId}; returns it (the only time it is ever seen). Blocking (JDBC). */
    public ApiKeys.GeneratedKey create(String merchantId) throws SQLException {
        ApiKeys.GeneratedKey k = keys.generate(merchantId);
        try (Connection c = db.connect("ledger-api-keys")) {
            Database.dsl(c).insertInto(API_KEY, API_KEY.KEY_ID, API_KEY.MERCHANT_ID, API_KEY.HMAC_HEX)
                    .values(k.hash().keyId(), merchantId, k.hash().hmacHex()).execute();
        }
        unknown.invalidate(k.hash().keyId());
        return k;
    }

    public List<Info> list(String merchantId) throws SQLException {
        return db.read(dsl -> dsl.selectFrom(API_KEY).where(merchantId.isEmpty() ? DSL.trueCondition() : API_KEY.MERCHANT_ID.eq(merchantId))
                .orderBy(API_KEY.CREATED_AT).fetch(r -> new Info(r.getKeyId(), r.getMerchantId(), ms(r.getCreatedAt()),
                        ms(r.getRevokedAt()))));
    }

    /** Revokes a key. Blocking (JDBC). This node forgets it at once; the others within {@link #CACHE_MS}. */
    public boolean revoke(String keyId) throws SQLException {
        try (Connection c = db.connect("ledger-api-keys")) {
            boolean revoked = Database.dsl(c).update(API_KEY).set(API_KEY.REVOKED_AT, DSL.currentOffsetDateTime())
                    .where(API_KEY.KEY_ID.eq(keyId)).and(API_KEY.REVOKED_AT.isNull()).execute() == 1;
            known.invalidate(keyId);
            return revoked;
        }
    }

    /**
     * The merchant a presented key belongs to, if it is a valid, unrevoked key. Never blocks: completes at once
     * from memory, or later from a virtual thread. Fails with {@link Busy} when the lookup bound is reached, or
     * with the database's {@link SQLException} / jOOQ exception when it cannot be read.
     */
    public CompletableFuture<Optional<String>> authenticate(String presented) {
        Optional<String> keyId = ApiKeys.keyIdOf(presented);
        if (keyId.isEmpty()) {
            // Cheap checks first: a key that cannot be one of ours costs no lookup.
            return CompletableFuture.completedFuture(Optional.empty());
        }
        String id = keyId.get();
        Stored cached = known.getIfPresent(id);
        if (cached != null) {
            if (System.nanoTime() - cached.loadedAtNanos() > REFRESH_AFTER_MS * 1_000_000L) {
                refresh(id);
            }
            return CompletableFuture.completedFuture(verify(presented, cached));
        }
        if (unknown.getIfPresent(id) != null) {
            return CompletableFuture.completedFuture(Optional.empty());
        }
        return load(id, lookups).thenApply(s -> verify(presented, s));
    }

    private Optional<String> verify(String presented, Stored s) {
        return s.hash() != null && keys.verify(presented, s.hash()) ? Optional.of(s.hash().merchantId()) : Optional.empty();
    }

    /** Re-reads a known key in the background; skipped when a refresh or lookup of it runs or none is free. */
    private void refresh(String keyId) {
        if (inFlight.containsKey(keyId)) {
            return;
        }
        load(keyId, refreshes).exceptionally(e -> {
            LOG.fine(() -> "API key " + keyId + " not refreshed now: " + e);
            return null;
        });
    }

    private CompletableFuture<Stored> load(String keyId, Semaphore permits) {
        CompletableFuture<Stored> running = inFlight.get(keyId);
        if (running != null) {
            return running;
        }
        if (!permits.tryAcquire()) {
            return CompletableFuture.failedFuture(new Busy());
        }
        CompletableFuture<Stored> mine = new CompletableFuture<>();
        running = inFlight.putIfAbsent(keyId, mine);
        if (running != null) {
            permits.release();
            return running;
        }
        try {
            executor.execute(() -> {
                try {
                    Stored s = read(keyId);
                    if (s.hash() != null) {
                        known.put(keyId, s);
                        unknown.invalidate(keyId);
                    } else {
                        known.invalidate(keyId);
                        unknown.put(keyId, Boolean.TRUE);
                    }
                    mine.complete(s);
                } catch (Throwable t) {
                    mine.completeExceptionally(t);
                } finally {
                    inFlight.remove(keyId, mine);
                    permits.release();
                }
            });
        } catch (RuntimeException rejected) {
            inFlight.remove(keyId, mine);
            permits.release();
            mine.completeExceptionally(rejected);
        }
        return mine;
    }

    private Stored read(String keyId) throws SQLException {
        long now = System.nanoTime();
        return db.read(dsl -> Optional.ofNullable(dsl.selectFrom(API_KEY).where(API_KEY.KEY_ID.eq(keyId)).fetchOne())
                .filter(r -> r.getRevokedAt() == null)
                .map(r -> new Stored(new ApiKeyHash(r.getMerchantId(), r.getKeyId(), r.getHmacHex()), now))
                .orElse(new Stored(null, now)));
    }

    /** Key ids in memory now (valid ones, and ones without a valid key): both bounded. */
    public long cachedKnown() {
        known.cleanUp();
        return known.estimatedSize();
    }

    public long cachedUnknown() {
        unknown.cleanUp();
        return unknown.estimatedSize();
    }

    private static long ms(OffsetDateTime t) {
        return t == null ? 0 : t.toInstant().toEpochMilli();
    }

    @Override
    public void close() {
        executor.shutdownNow();
    }
}
