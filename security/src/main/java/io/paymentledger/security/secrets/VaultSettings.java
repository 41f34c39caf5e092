package io.paymentledger.security.secrets;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Where Vault is and how to reach it.
 *
 * @param address        e.g. {@code https://vault.internal:8200}
 * @param auth           token or AppRole
 * @param caFile         PEM trust anchor(s) for Vault's server certificate ({@code null}: the JDK's trust store)
 * @param clientCertFile optional client certificate for mTLS to Vault (EC keys work: passed in KeyStore mode)
 * @param clientKeyFile  its key
 * @param openTimeout    connect timeout
 * @param readTimeout    read timeout
 */
public record VaultSettings(String address, VaultAuth auth, Path caFile, Path clientCertFile, Path clientKeyFile,
                            Duration openTimeout, Duration readTimeout) {

    public VaultSettings {
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(auth, "auth");
        if (address.endsWith("/")) {
            address = address.substring(0, address.length() - 1);
        }
        if ((clientCertFile == null) != (clientKeyFile == null)) {
            throw new IllegalArgumentException("clientCertFile and clientKeyFile go together");
        }
        openTimeout = openTimeout == null ? Duration.ofSeconds(3) : openTimeout;
        readTimeout = readTimeout == null ? Duration.ofSeconds(10) : readTimeout;
    }

    public static VaultSettings of(String address, VaultAuth auth) {
        return new VaultSettings(address, auth, null, null, null, null, null);
    }

    public VaultSettings withCaFile(Path ca) {
        return new VaultSettings(address, auth, ca, clientCertFile, clientKeyFile, openTimeout, readTimeout);
    }

    public VaultSettings withClientCertificate(Path cert, Path key) {
        return new VaultSettings(address, auth, caFile, cert, key, openTimeout, readTimeout);
    }

    public VaultSettings withTimeouts(Duration open, Duration read) {
        return new VaultSettings(address, auth, caFile, clientCertFile, clientKeyFile, open, read);
    }
}
