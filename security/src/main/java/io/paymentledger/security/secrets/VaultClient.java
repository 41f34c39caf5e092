package io.paymentledger.security.secrets;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.github.jopenlibs.vault.SslConfig;
import io.github.jopenlibs.vault.Vault;
import io.github.jopenlibs.vault.VaultConfig;
import io.github.jopenlibs.vault.VaultException;
import io.github.jopenlibs.vault.response.AuthResponse;
import io.github.jopenlibs.vault.response.LookupResponse;
import io.paymentledger.security.logging.SecretRedactor;
import io.paymentledger.security.tls.SslContexts;

/**
 * A logged-in Vault session shared by {@link VaultSecretStore}, {@link VaultPki} and
 * {@link VaultDatabaseCredentials}, on vault-java-driver 6.2.0. It owns the token: logs in (token or
 * AppRole), renews it with {@code renew-self} when less than a third of its TTL remains, logs in again
 * (AppRole) when it cannot be renewed, and tracks whether Vault is reachable.
 * <p>
 * Maintenance (token renewal, lease renewal of the components, probing an unreachable Vault) runs in
 * {@link #maintainNow()}; {@link #startMaintenance(Duration)} calls it periodically on a daemon thread.
 * All calls block; thread-safe.
 * <p>
 * Driver facts this class relies on (STACK.md §6): with KV v2 every {@code logical()} path gets
 * {@code /data/} inserted, so non-KV paths go through a second client built with engine version 1;
 * {@code logical()} returns 4xx statuses without throwing; connection failures surface as
 * {@link VaultException} with status 0; EC client keys only work in KeyStore mode.
 */
public final class VaultClient implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(VaultClient.class.getName());

    /** A call to the driver. */
    @FunctionalInterface
    interface VaultCall<T> {
        T run() throws VaultException;
    }

    /** Vault could not be reached (connection failure, timeout, 5xx such as 503 sealed). */
    static final class Unreachable extends SecretStoreException {
        Unreachable(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private final VaultSettings settings;
    private final Clock clock;
    private final SslConfig ssl;
    private final List<Runnable> maintenance = new CopyOnWriteArrayList<>();

    private volatile Vault kv2;
    private volatile Vault v1;
    private volatile Instant tokenExpiresAt;     // null: does not expire, or unknown
    private volatile Duration tokenTtl;          // TTL granted at the last login/renewal
    private volatile Duration loginTtl;          // TTL granted at login
    private volatile boolean tokenRenewable;
    private volatile boolean tokenInfoKnown;

    private volatile Instant unreachableSince;
    private volatile String unreachableReason;
    private ScheduledExecutorService scheduler;

    private VaultClient(VaultSettings settings, Clock clock) {
        this.settings = settings;
        this.clock = clock;
        this.ssl = sslConfig(settings);
    }

    /** Connects and logs in. AppRole login failure (unreachable or refused) is a {@link SecretStoreException}. */
    public static VaultClient connect(VaultSettings settings) {
        return connect(settings, Clock.systemUTC());
    }

    /** As {@link #connect(VaultSettings)} with a clock for TTL and cache arithmetic (tests). */
    public static VaultClient connect(VaultSettings settings, Clock clock) {
        VaultClient c = new VaultClient(settings, clock);
        c.login();
        return c;
    }

    public String address() {
        return settings.address();
    }

    /** When the current token expires; null if it does not expire or is not known yet. */
    public Instant tokenExpiresAt() {
        return tokenExpiresAt;
    }

    /** Since when Vault has been unreachable (null if the last call reached it). */
    public Instant unreachableSince() {
        return unreachableSince;
    }

    /** Vault reachability and token state (the stores add what they serve from cache). */
    public Health health() {
        Instant since = unreachableSince;
        if (since != null) {
            return new Health(Health.State.DEGRADED, "vault unreachable since " + since + " (" + unreachableReason + ")", null);
        }
        Instant exp = tokenExpiresAt;
        return Health.live("vault " + settings.address() + " reachable, token "
                + (exp == null ? "without expiry" : "valid until " + exp));
    }

    /**
     * One maintenance round: probe Vault if it was unreachable, renew or replace the token if due, then run
     * the components' maintenance (lease renewal). Failures are logged, never thrown.
     */
    public void maintainNow() {
        // The components' tasks run without this client's lock: they take their own lock and then call back
        // into the client (lock order component -> client, never the reverse).
        synchronized (this) {
            try {
                if (unreachableSince != null || !tokenInfoKnown) {
                    probe();
                }
                renewTokenIfDue();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "vault token maintenance failed: " + e.getMessage());
            }
        }
        for (Runnable r : maintenance) {
            try {
                r.run();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "vault maintenance failed: " + e.getMessage());
            }
        }
    }

    /** Runs {@link #maintainNow()} every {@code period} on a daemon thread until {@link #close()}. */
    public synchronized VaultClient startMaintenance(Duration period) {
        if (scheduler == null) {
            scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "vault-maintenance");
                t.setDaemon(true);
                return t;
            });
            scheduler.scheduleWithFixedDelay(this::maintainNow, period.toMillis(), period.toMillis(), TimeUnit.MILLISECONDS);
        }
        return this;
    }

    @Override
    public synchronized void close() {
        if (scheduler != null) {
            scheduler.shutdownNow();
            scheduler = null;
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // for the components of this package

    Clock clock() {
        return clock;
    }

    Instant now() {
        return clock.instant();
    }

    /** The client for KV v2 paths. */
    Vault kv() {
        return kv2;
    }

    /** The client for non-KV paths (pki, database, sys): engine version 1, so no {@code /data/} is inserted. */
    Vault raw() {
        return v1;
    }

    void addMaintenance(Runnable task) {
        maintenance.add(task);
    }

    /**
     * Runs a driver call, tracking reachability. Connection failures and 5xx become {@link Unreachable};
     * other driver exceptions become {@link SecretStoreException}.
     */
    <T> T call(String what, VaultCall<T> call) {
        try {
            T result = call.run();
            markReachable();
            return result;
        } catch (VaultException e) {
            int status = e.getHttpStatusCode();
            if (status == 0 || status >= 500) {
                String reason = status == 0 ? rootCause(e) : "HTTP " + status + " " + errorsOf(e.getMessage());
                markUnreachable(reason);
                throw new Unreachable(what + ": vault unreachable (" + reason + ")", e);
            }
            markReachable();
            throw new SecretStoreException(what + ": vault refused (HTTP " + status + " " + errorsOf(e.getMessage()) + ")", e);
        }
    }

    /**
     * After a 403: logs in again if that is possible (AppRole). Returns true if there is a new token worth
     * retrying with.
     */
    synchronized boolean reauthenticate() {
        if (settings.auth() instanceof VaultAuth.AppRole) {
            login();
            return true;
        }
        return false;
    }

    /** The {@code errors} array of a Vault error body, for messages. */
    static String errorsOf(String textWithBody) {
        if (textWithBody == null) {
            return "";
        }
        int i = textWithBody.indexOf("{");
        return i < 0 ? "" : textWithBody.substring(i).replace('\n', ' ');
    }

    static String errorsOf(byte[] body) {
        return body == null ? "" : new String(body, StandardCharsets.UTF_8).replace('\n', ' ');
    }

    // ---------------------------------------------------------------------------------------------------

    private synchronized void login() {
        switch (settings.auth()) {
            case VaultAuth.AppRole a -> {
                Vault anonymous = build(2, null);
                AuthResponse r = call("AppRole login", () -> anonymous.auth().loginByAppRole(a.mount(), a.roleId(), a.secretId()));
                String token = r.getAuthClientToken();
                if (token == null || token.isEmpty()) {
                    throw new SecretStoreException("AppRole login returned no client token");
                }
                SecretRedactor.global().register("vault-token", token);
                useToken(token);
                tokenGranted(r.getAuthLeaseDuration(), r.isAuthRenewable());
                loginTtl = tokenTtl;
                LOG.info(() -> "logged in to vault " + settings.address() + " with AppRole " + a.roleId() + ", token "
                        + (tokenExpiresAt == null ? "without expiry" : "valid until " + tokenExpiresAt));
            }
            case VaultAuth.Token t -> {
                SecretRedactor.global().register("vault-token", t.token());
                useToken(t.token());
                try {
                    probe();
                } catch (Unreachable e) {
                    LOG.warning("vault " + settings.address() + " unreachable at start; token TTL unknown until it answers");
                }
            }
        }
    }

    /** lookup-self: learns the token's TTL, and marks Vault reachable when it answers. */
    private void probe() {
        LookupResponse r = call("token lookup", () -> kv2.auth().lookupSelf());
        tokenGranted(r.getTTL(), r.isRenewable());
        if (loginTtl == null) {
            loginTtl = tokenTtl;
        }
    }

    private void tokenGranted(long ttlSeconds, boolean renewable) {
        tokenInfoKnown = true;
        tokenRenewable = renewable;
        if (ttlSeconds <= 0) {
            tokenTtl = null;
            tokenExpiresAt = null;
        } else {
            tokenTtl = Duration.ofSeconds(ttlSeconds);
            tokenExpiresAt = now().plus(tokenTtl);
        }
    }

    private void renewTokenIfDue() {
        Instant exp = tokenExpiresAt;
        Duration ttl = tokenTtl;
        if (exp == null || ttl == null) {
            return;
        }
        Duration remaining = Duration.between(now(), exp);
        if (remaining.compareTo(ttl.dividedBy(3)) >= 0) {
            return;
        }
        if (tokenRenewable) {
            try {
                AuthResponse r = call("token renewal", () -> kv2.auth().renewSelf());
                tokenGranted(r.getAuthLeaseDuration(), r.isAuthRenewable());
                LOG.fine(() -> "vault token renewed until " + tokenExpiresAt);
                Duration full = loginTtl;
                boolean capped = full != null && tokenTtl != null && tokenTtl.compareTo(full.dividedBy(3)) < 0;
                if (capped && settings.auth() instanceof VaultAuth.AppRole) {
                    LOG.info("vault token near its max TTL; logging in again");
                    login();
                }
                return;
            } catch (Unreachable e) {
                throw e;
            } catch (SecretStoreException refused) {
                LOG.warning("vault token renewal refused: " + refused.getMessage());
            }
        }
        if (!reauthenticate()) {
            LOG.warning("vault token expires at " + exp + " and cannot be renewed (token auth); supply a new token");
        }
    }

    private void useToken(String token) {
        this.kv2 = build(2, token);
        this.v1 = build(1, token);
    }

    private Vault build(int engineVersion, String token) {
        try {
            VaultConfig cfg = new VaultConfig()
                    .address(settings.address())
                    .openTimeout(seconds(settings.openTimeout()))
                    .readTimeout(seconds(settings.readTimeout()))
                    .sslConfig(ssl);
            if (token != null) {
                cfg.token(token);
            }
            return Vault.create(cfg.build(), engineVersion);
        } catch (VaultException e) {
            throw new SecretStoreException("bad vault configuration: " + e.getMessage(), e);
        }
    }

    private static int seconds(Duration d) {
        return (int) Math.max(1, d.toSeconds());
    }

    private static SslConfig sslConfig(VaultSettings s) {
        try {
            SslConfig c = new SslConfig();
            if (s.caFile() != null) {
                c.trustStore(SslContexts.trustStore(s.caFile()));
            }
            if (s.clientCertFile() != null) {
                // KeyStore mode: the driver's PEM mode only takes RSA client keys (STACK.md §6.1, gotcha 6).
                char[] pw = "vault-client".toCharArray();
                c.keyStore(SslContexts.keyStore(s.clientCertFile(), s.clientKeyFile(), pw), new String(pw));
            }
            return c.build();
        } catch (VaultException e) {
            throw new SecretStoreException("bad vault TLS configuration: " + e.getMessage(), e);
        }
    }

    private void markReachable() {
        if (unreachableSince != null) {
            LOG.info("vault " + settings.address() + " reachable again (unreachable since " + unreachableSince + ")");
        }
        unreachableSince = null;
        unreachableReason = null;
    }

    private void markUnreachable(String reason) {
        if (unreachableSince == null) {
            unreachableSince = now();
            LOG.warning("vault " + settings.address() + " unreachable: " + reason);
        }
        unreachableReason = reason;
    }

    /** The first I/O exception of the chain (e.g. ConnectException, HttpConnectTimeoutException), else the root. */
    private static String rootCause(Throwable e) {
        Throwable pick = null;
        Throwable t = e;
        for (int depth = 0; t != null && depth < 20; depth++, t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof java.io.IOException) {
                pick = t;
                break;
            }
            pick = t;
        }
        String msg = pick.getMessage();
        return pick.getClass().getSimpleName() + (msg == null || msg.isBlank() ? "" : ": " + msg);
    }
}
