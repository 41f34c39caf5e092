package io.paymentledger.security.apikey;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Base64;
import java.util.HashSet;
import java.util.Set;

import org.junit.jupiter.api.Test;

import io.paymentledger.security.secrets.SecretStore;

class ApiKeysTest {

    private final ApiKeys keys = ApiKeys.fromBase64Pepper(SecretStore.random(32).get());

    @Test
    void noKeyIsGeneratedForAReservedMerchantId() {
        for (String reserved : new String[] {"operator", "Operator", "OPERATOR", "anonymous"}) {
            assertThatThrownBy(() -> keys.generate(reserved)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("invalid merchant id '" + reserved + "': reserved");
        }
    }

    @Test
    void generatedKeyHasTheDocumentedShapeAndAtLeast128RandomBits() {
        ApiKeys.GeneratedKey g = keys.generate("acme-1");
        assertThat(g.key()).matches("lk_acme-1_[0-9a-f]{16}_[A-Za-z0-9_-]{43}");
        byte[] secret = Base64.getUrlDecoder().decode(g.key().substring(g.key().length() - 43));
        assertThat(secret.length * 8).isGreaterThanOrEqualTo(128);
        assertThat(g.hash().merchantId()).isEqualTo("acme-1");
        assertThat(g.key()).contains("_" + g.hash().keyId() + "_");
        assertThat(g.hash().hmacHex()).matches("[0-9a-f]{64}");
        assertThat(g.hash().hmacHex()).doesNotContain(g.key());
        assertThat(g.toString()).doesNotContain(g.key());

        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 200; i++) {
            assertThat(seen.add(keys.generate("acme-1").key())).isTrue();
        }
    }

    @Test
    void verifyAcceptsTheKeyAndNothingElse() {
        ApiKeys.GeneratedKey g = keys.generate("acme-1");
        assertThat(keys.verify(g.key(), g.hash())).isTrue();
        assertThat(keys.hash(g.key())).isEqualTo(g.hash());

        String k = g.key();
        char last = k.charAt(k.length() - 1);
        String tampered = k.substring(0, k.length() - 1) + (last == 'A' ? 'B' : 'A');
        assertThat(keys.verify(tampered, g.hash())).isFalse();
        assertThat(keys.verify(keys.generate("acme-1").key(), g.hash())).as("another key of the same merchant").isFalse();
        assertThat(keys.verify(k.replace("lk_acme-1_", "lk_acme-2_"), g.hash())).isFalse();
        assertThat(keys.verify("garbage", g.hash())).isFalse();
        assertThat(keys.verify(null, g.hash())).isFalse();
        assertThat(keys.verify(k, new ApiKeyHash("acme-1", g.hash().keyId(), "zz"))).isFalse();

        ApiKeys otherPepper = ApiKeys.fromBase64Pepper(SecretStore.random(32).get());
        assertThat(otherPepper.verify(k, g.hash())).as("the pepper is part of the hash").isFalse();
    }

    @Test
    void merchantAndKeyIdAreParsedFromAPresentedKey() {
        ApiKeys.GeneratedKey g = keys.generate("m-99");
        assertThat(ApiKeys.merchantIdOf(g.key())).contains("m-99");
        assertThat(ApiKeys.keyIdOf(g.key())).contains(g.hash().keyId());
        assertThat(ApiKeys.merchantIdOf("lk_m-99_short")).isEmpty();
        assertThat(ApiKeys.merchantIdOf("Bearer xyz")).isEmpty();
        assertThatThrownBy(() -> keys.generate("bad_merchant")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ApiKeys(new byte[16])).hasMessageContaining("at least 32");
    }
}
