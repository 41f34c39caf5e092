package io.paymentledger.security.secrets;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import java.util.logging.Logger;

import io.github.jopenlibs.vault.api.WriteOptions;
import io.github.jopenlibs.vault.response.LogicalResponse;
import io.paymentledger.security.logging.SecretRedactor;

/**
 * Static secrets in Vault KV v2: secret {@code name} lives at {@code <mount>/data/<prefix>/<name>} as
 * {@code {"value": "..."}}.
 * <p>
 * Caching: a value read from Vault is served from memory for {@code refreshAfter}; after that the next read
 * goes to Vault. If Vault is unreachable (connection failure, timeout, 5xx, sealed), the cached value keeps
 * being served until {@code cacheTtl} after it was last read from Vault (or the secret's lease, if Vault gave
 * one), and {@link #health()} says {@code DEGRADED: vault unreachable since ..., serving cache until ...}.
 * After that, reads fail with a {@link SecretStoreException} naming the secret and since when Vault is
 * unreachable. Writes are never cached: they fail while Vault is unreachable.
 */
public final class VaultSecretStore implements SecretStore {

    public static final Duration DEFAULT_REFRESH_AFTER = Duration.ofMinutes(5);
    public static final Duration DEFAULT_CACHE_TTL = Duration.ofHours(1);
    private static final Logger LOG = Logger.getLogger(VaultSecretStore.class.getName());

    private record Cached(String value, Instant fetchedAt, Instant expiresAt) {}

    private final VaultClient client;
    private final String mount;
    private final String prefix;
    private final Duration refreshAfter;
    private final Duration cacheTtl;
    private final Map<String, Cached> cache = new ConcurrentHashMap<>();

    /** With {@link #DEFAULT_REFRESH_AFTER} and {@link #DEFAULT_CACHE_TTL}. */
    public VaultSecretStore(VaultClient client, String kvMount, String prefix) {
        this(client, kvMount, prefix, DEFAULT_REFRESH_AFTER, DEFAULT_CACHE_TTL);
    }

    /**
     * @param kvMount      KV v2 mount, e.g. {@code secret}
     * @param prefix       path under the mount, e.g. {@code ledger/eu}
     * @param refreshAfter how long a value is served from memory before the next read asks Vault
     * @param cacheTtl     how long after the last successful read a value may be served while Vault is unreachable
     */
    public VaultSecretStore(VaultClient client, String kvMount, String prefix, Duration refreshAfter, Duration cacheTtl) {
        this.client = Objects.requireNonNull(client, "client");
        this.mount = strip(Objects.requireNonNull(kvMount, "kvMount"));
        this.prefix = strip(Objects.requireNonNull(prefix, "prefix"));
        this.refreshAfter = refreshAfter;
        this.cacheTtl = cacheTtl;
        if (cacheTtl.compareTo(refreshAfter) < 0) {
            throw new IllegalArgumentException("cacheTtl must be at least refreshAfter");
        }
    }

    @Override
    public Optional<String> get(String name) {
        SecretStore.checkName(name);
        Instant now = client.now();
        Cached c = cache.get(name);
        if (c != null && now.isBefore(c.fetchedAt().plus(refreshAfter))) {
            return Optional.of(c.value());
        }
        try {
            LogicalResponse r = withReauth("read of secret '" + name + "'", () -> client.kv().logical().read(path(name)));
            int status = r.getRestResponse().getStatus();
            if (status == 404) {
                cache.remove(name);
                return Optional.empty();
            }
            if (status != 200) {
                throw refused("read of secret '" + name + "'", r);
            }
            String value = r.getData() == null ? null : r.getData().get("value");
            if (value == null) {
                throw new SecretStoreException("secret '" + name + "' at " + path(name) + " has no 'value' field");
            }
            long lease = r.getLeaseDuration() == null ? 0 : r.getLeaseDuration();
            Instant fetched = client.now();
            cache.put(name, new Cached(value, fetched, fetched.plus(lease > 0 ? Duration.ofSeconds(lease) : cacheTtl)));
            return Optional.of(SecretRedactor.global().register("secret:" + name, value));
        } catch (VaultClient.Unreachable e) {
            Cached stale = cache.get(name);
            Instant at = client.now();
            if (stale != null && at.isBefore(stale.expiresAt())) {
                LOG.fine(() -> "serving cached secret '" + name + "' until " + stale.expiresAt());
                return Optional.of(stale.value());
            }
            throw new SecretStoreException("secret '" + name + "' unavailable: vault unreachable since "
                    + client.unreachableSince() + " (" + e.getMessage() + ")"
                    + (stale == null ? ", and no cached value" : ", and the cached value expired at " + stale.expiresAt()), e);
        }
    }

    @Override
    public void put(String name, String value) {
        SecretStore.checkName(name);
        Objects.requireNonNull(value, "value");
        LogicalResponse r = withReauth("write of secret '" + name + "'",
                () -> client.kv().logical().write(path(name), Map.of("value", value)));
        int status = r.getRestResponse().getStatus();
        if (status != 200 && status != 204) {
            throw refused("write of secret '" + name + "'", r);
        }
        SecretRedactor.global().register("secret:" + name, value);
        Instant now = client.now();
        cache.put(name, new Cached(value, now, now.plus(cacheTtl)));
    }

    /** Creates with check-and-set {@code cas=0}, so concurrent creators on several nodes end up with one value. */
    @Override
    public String getOrCreate(String name, Supplier<String> generator) {
        Optional<String> existing = get(name);
        if (existing.isPresent()) {
            return existing.get();
        }
        String created = generator.get();
        LogicalResponse r = withReauth("create of secret '" + name + "'",
                () -> client.kv().logical().write(path(name), Map.of("value", created), null,
                        new WriteOptions().checkAndSet(0L).build()));
        int status = r.getRestResponse().getStatus();
        if (status == 200 || status == 204) {
            Instant now = client.now();
            cache.put(name, new Cached(created, now, now.plus(cacheTtl)));
            return SecretRedactor.global().register("secret:" + name, created);
        }
        if (status == 400) { // check-and-set mismatch: someone else created it first
            cache.remove(name);
            return require(name);
        }
        throw refused("create of secret '" + name + "'", r);
    }

    @Override
    public Health health() {
        Instant since = client.unreachableSince();
        if (since == null) {
            return Health.live("vault " + client.address() + " reachable, " + cache.size() + " secrets cached");
        }
        Instant now = client.now();
        Instant until = cache.values().stream().map(Cached::expiresAt).filter(now::isBefore).min(Instant::compareTo).orElse(null);
        String why = client.health().detail();
        if (until == null) {
            return new Health(Health.State.UNAVAILABLE, why + ", no usable cached secrets", null);
        }
        long n = cache.values().stream().filter(c -> now.isBefore(c.expiresAt())).count();
        return new Health(Health.State.DEGRADED, why + ", serving cache until " + until + " (" + n + " secrets)", until);
    }

    private String path(String name) {
        return mount + "/" + (prefix.isEmpty() ? "" : prefix + "/") + name;
    }

    private LogicalResponse withReauth(String what, VaultClient.VaultCall<LogicalResponse> call) {
        LogicalResponse r = client.call(what, call);
        if (r.getRestResponse().getStatus() == 403 && client.reauthenticate()) {
            r = client.call(what, call);
        }
        return r;
    }

    private static SecretStoreException refused(String what, LogicalResponse r) {
        return new SecretStoreException(what + " refused by vault: HTTP " + r.getRestResponse().getStatus() + " "
                + VaultClient.errorsOf(r.getRestResponse().getBody()));
    }

    private static String strip(String s) {
        String t = s;
        while (t.startsWith("/")) {
            t = t.substring(1);
        }
        while (t.endsWith("/")) {
            t = t.substring(0, t.length() - 1);
        }
        return t;
    }
}
