package io.paymentledger.security.secrets;

import java.util.Objects;

/** How {@link VaultClient} logs in. {@code toString} never shows the credential. */
public sealed interface VaultAuth permits VaultAuth.Token, VaultAuth.AppRole {

    /** A ready token (e.g. from a Vault agent). Renewed with renew-self if renewable; cannot log in again. */
    record Token(String token) implements VaultAuth {
        public Token {
            Objects.requireNonNull(token, "token");
        }

        @Override
        public String toString() {
            return "Token[***]";
        }
    }

    /** AppRole login ({@code POST /v1/auth/<mount>/login}); the client logs in again when the token cannot be renewed. */
    record AppRole(String mount, String roleId, String secretId) implements VaultAuth {
        public AppRole {
            Objects.requireNonNull(mount, "mount");
            Objects.requireNonNull(roleId, "roleId");
            Objects.requireNonNull(secretId, "secretId");
        }

        @Override
        public String toString() {
            return "AppRole[mount=" + mount + ", roleId=" + roleId + ", secretId=***]";
        }
    }

    static VaultAuth token(String token) {
        return new Token(token);
    }

    /** AppRole on the default mount {@code approle}. */
    static VaultAuth appRole(String roleId, String secretId) {
        return new AppRole("approle", roleId, secretId);
    }
}
