package io.paymentledger.security.secrets;

import java.time.Instant;

/**
 * Dynamic database credentials from Vault. {@code toString} hides the password.
 *
 * @param username   the generated role name
 * @param password   its password
 * @param leaseId    Vault lease id (for renewal/revocation)
 * @param expiresAt  when the lease ends (Vault drops the role then)
 * @param renewable  whether the lease can be renewed
 */
public record DbCredentials(String username, String password, String leaseId, Instant expiresAt, boolean renewable) {

    @Override
    public String toString() {
        return "DbCredentials[username=" + username + ", password=***, leaseId=" + leaseId + ", expiresAt=" + expiresAt
                + ", renewable=" + renewable + "]";
    }
}
