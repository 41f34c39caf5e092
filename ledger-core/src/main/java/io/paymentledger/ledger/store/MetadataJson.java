package io.paymentledger.ledger.store;

import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.Map;
import org.jooq.JSON;

/** Metadata maps as stored in jsonb columns (null when empty). */
public final class MetadataJson {

    private MetadataJson() {}

    public static String toText(Map<String, String> metadata) {
        if (metadata.isEmpty()) {
            return null;
        }
        return new JsonObject(new HashMap<>(metadata)).encode();
    }

    public static JSON toJson(Map<String, String> metadata) {
        String text = toText(metadata);
        return text == null ? null : JSON.json(text);
    }

    public static Map<String, String> fromJson(JSON json) {
        return json == null ? Map.of() : fromText(json.data());
    }

    public static Map<String, String> fromText(String text) {
        if (text == null || text.isEmpty()) {
            return Map.of();
        }
        Map<String, String> out = new HashMap<>();
        new JsonObject(text).forEach(e -> out.put(e.getKey(), String.valueOf(e.getValue())));
        return Map.copyOf(out);
    }
}
