package io.paymentledger.security.secrets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Sealed webhook secrets open only with the same key, for the same row, and hold nothing of the secret in clear. */
class SecretSealerTest {

    private final SecretSealer sealer = SecretSealer.fromBase64(SecretStore.random(32).get());

    @Test
    void aSealedSecretOpensWithItsKeyForItsRowOnly() {
        byte[] secret = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==".getBytes(StandardCharsets.UTF_8);
        byte[] sealed = sealer.seal(secret, "ep_0000000000000001");
        assertThat(new String(sealed, StandardCharsets.ISO_8859_1)).doesNotContain("whsec_").doesNotContain("c2VjcmV0");
        assertThat(sealer.open(sealed, "ep_0000000000000001")).isEqualTo(secret);
        assertThat(sealer.seal(secret, "ep_0000000000000001")).as("a fresh nonce each time").isNotEqualTo(sealed);
        assertThatThrownBy(() -> sealer.open(sealed, "ep_0000000000000002")).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> SecretSealer.fromBase64(SecretStore.random(32).get()).open(sealed, "ep_0000000000000001"))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("does not open");
        sealed[20] ^= 1;
        assertThatThrownBy(() -> sealer.open(sealed, "ep_0000000000000001")).isInstanceOf(IllegalStateException.class);
    }
}
