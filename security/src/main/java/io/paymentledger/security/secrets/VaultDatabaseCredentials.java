package io.paymentledger.security.secrets;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.github.jopenlibs.vault.json.Json;
import io.github.jopenlibs.vault.json.JsonObject;
import io.github.jopenlibs.vault.response.DatabaseResponse;
import io.github.jopenlibs.vault.response.VaultResponse;
import io.paymentledger.security.logging.SecretRedactor;

/**
 * Dynamic PostgreSQL credentials from Vault's database secrets engine ({@code GET <mount>/creds/<role>}).
 * <p>
 * Lifecycle, driven by {@link VaultClient#maintainNow()} (registered at construction):
 * <ul>
 *   <li>when less than a third of the lease remains, the lease is renewed by
 *       its original duration ({@code POST sys/leases/renew/<lease_id>}); same username/password, no callback;</li>
 *   <li>when the lease cannot be extended (not renewable, max TTL reached, or Vault no longer knows it), new
 *       credentials are requested and {@code onNewCredentials} is called: swap the connection pool's
 *       credentials there (the old role stays valid until its own lease ends);</li>
 *   <li>when Vault is unreachable, the cached credentials stay usable until their lease ends; after that
 *       {@link #current()} throws {@link SecretStoreException}.</li>
 * </ul>
 */
public final class VaultDatabaseCredentials {

    private static final Logger LOG = Logger.getLogger(VaultDatabaseCredentials.class.getName());

    private final VaultClient client;
    private final String mount;
    private final String role;
    private final Consumer<DbCredentials> onNewCredentials;
    private DbCredentials creds;      // guarded by this
    private Duration leaseDuration;   // length of the lease as granted, guarded by this

    /**
     * @param mount            database secrets engine mount, e.g. {@code database}
     * @param role             the role whose credentials to request
     * @param onNewCredentials called (on the calling/maintenance thread) each time new credentials are issued,
     *                         including the first time
     */
    public VaultDatabaseCredentials(VaultClient client, String mount, String role, Consumer<DbCredentials> onNewCredentials) {
        this.client = Objects.requireNonNull(client, "client");
        this.mount = Objects.requireNonNull(mount, "mount");
        this.role = Objects.requireNonNull(role, "role");
        this.onNewCredentials = Objects.requireNonNull(onNewCredentials, "onNewCredentials");
        client.addMaintenance(this::maintain);
    }

    /**
     * The credentials to connect with: fetched on first use, then cached and kept alive by maintenance.
     * While Vault is unreachable, cached credentials are returned until their lease ends; then, or if there
     * never were any, this throws {@link SecretStoreException}.
     */
    public synchronized DbCredentials current() {
        Instant now = client.now();
        if (creds != null && now.isBefore(creds.expiresAt())) {
            return creds;
        }
        try {
            return fetchNew();
        } catch (VaultClient.Unreachable e) {
            throw new SecretStoreException("database credentials for role " + role + " unavailable: vault unreachable since "
                    + client.unreachableSince() + (creds == null ? ", none cached" : ", cached lease ended at " + creds.expiresAt()), e);
        }
    }

    /** Renews the lease or replaces the credentials if due (see the class comment). Called by the client's maintenance. */
    public synchronized void maintain() {
        if (creds == null) {
            return;
        }
        Instant now = client.now();
        Duration remaining = Duration.between(now, creds.expiresAt());
        if (remaining.compareTo(leaseDuration.dividedBy(3)) >= 0) {
            return;
        }
        try {
            if (creds.renewable() && renew(now)) {
                return;
            }
            fetchNew();
        } catch (VaultClient.Unreachable e) {
            LOG.warning("cannot renew database credentials (" + e.getMessage() + "); cached ones valid until " + creds.expiresAt());
        }
    }

    /** LIVE, or DEGRADED while Vault is unreachable and the cached lease is still running, or UNAVAILABLE. */
    public synchronized Health health() {
        Instant since = client.unreachableSince();
        if (since == null) {
            return Health.live("vault " + client.address() + " reachable"
                    + (creds == null ? "" : ", database lease " + creds.leaseId() + " until " + creds.expiresAt()));
        }
        String why = client.health().detail();
        if (creds != null && client.now().isBefore(creds.expiresAt())) {
            return new Health(Health.State.DEGRADED, why + ", serving cached database credentials until " + creds.expiresAt(),
                    creds.expiresAt());
        }
        return new Health(Health.State.UNAVAILABLE, why + ", no usable cached database credentials", null);
    }

    /** Renews the current lease; true if it was extended meaningfully. */
    private boolean renew(Instant now) {
        long increment = leaseDuration.toSeconds();
        VaultResponse r;
        try {
            r = client.call("renewal of lease " + creds.leaseId(), () -> client.raw().leases().renew(creds.leaseId(), increment));
        } catch (VaultClient.Unreachable e) {
            throw e;
        } catch (SecretStoreException refused) {
            LOG.info("lease " + creds.leaseId() + " not renewed (" + refused.getMessage() + "); requesting new credentials");
            return false;
        }
        long granted = leaseDurationOf(r.getRestResponse().getBody());
        Instant newExpiry = client.now().plusSeconds(granted);
        if (granted <= 0 || Duration.between(now, newExpiry).compareTo(leaseDuration.dividedBy(3)) < 0) {
            LOG.info("lease " + creds.leaseId() + " is at its max TTL; requesting new credentials");
            if (newExpiry.isAfter(creds.expiresAt())) {
                creds = new DbCredentials(creds.username(), creds.password(), creds.leaseId(), newExpiry, creds.renewable());
            }
            return false;
        }
        creds = new DbCredentials(creds.username(), creds.password(), creds.leaseId(), newExpiry, creds.renewable());
        LOG.fine(() -> "lease " + creds.leaseId() + " renewed until " + newExpiry);
        return true;
    }

    private DbCredentials fetchNew() {
        String what = "database credentials for role " + role;
        DatabaseResponse r = client.call(what, () -> client.raw().database(mount).creds(role));
        if (r.getRestResponse().getStatus() == 403 && client.reauthenticate()) {
            r = client.call(what, () -> client.raw().database(mount).creds(role));
        }
        int status = r.getRestResponse().getStatus();
        if (status != 200 || r.getCredential() == null) {
            throw new SecretStoreException(what + " refused by vault: HTTP " + status + " "
                    + VaultClient.errorsOf(r.getRestResponse().getBody()));
        }
        long lease = r.getLeaseDuration() == null ? 0 : r.getLeaseDuration();
        if (lease <= 0) {
            throw new SecretStoreException(what + ": vault returned no lease duration");
        }
        DbCredentials fresh = new DbCredentials(r.getCredential().getUsername(),
                SecretRedactor.global().register("db-password:" + role, r.getCredential().getPassword()),
                r.getLeaseId(), client.now().plusSeconds(lease), Boolean.TRUE.equals(r.getRenewable()));
        creds = fresh;
        leaseDuration = Duration.ofSeconds(lease);
        LOG.info("new database credentials " + fresh.username() + " (lease " + fresh.leaseId() + " until " + fresh.expiresAt() + ")");
        try {
            onNewCredentials.accept(fresh);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "onNewCredentials callback failed", e);
        }
        return fresh;
    }

    private static long leaseDurationOf(byte[] body) {
        try {
            JsonObject o = Json.parse(new String(body, StandardCharsets.UTF_8)).asObject();
            return o.getLong("lease_duration", 0);
        } catch (RuntimeException e) {
            return 0;
        }
    }
}
