package io.paymentledger.ledger.validation;

import io.paymentledger.ledger.Limits;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/** Bounded string maps attached to accounts, transfers and payments. */
public final class Metadata {

    private Metadata() {}

    public static boolean isValid(Map<String, String> metadata) {
        if (metadata.size() > Limits.METADATA_ENTRIES_MAX) {
            return false;
        }
        int bytes = 0;
        for (var e : metadata.entrySet()) {
            String k = e.getKey();
            String v = e.getValue();
            if (k.isEmpty() || k.length() > Limits.METADATA_KEY_LENGTH_MAX || v.length() > Limits.METADATA_VALUE_LENGTH_MAX) {
                return false;
            }
            bytes += k.getBytes(StandardCharsets.UTF_8).length + v.getBytes(StandardCharsets.UTF_8).length;
            if (k.indexOf('\u0000') >= 0 || v.indexOf('\u0000') >= 0) {
                // PostgreSQL text and jsonb cannot hold NUL.
                return false;
            }
        }
        return bytes <= Limits.METADATA_BYTES_MAX;
    }
}
