package io.paymentledger.ledger.store;

import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.Map;
import org.jooq.JSON;

/** Metadata maps and the debit grant's merchant lists as stored in jsonb columns (null when empty). */
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

    /** A list of strings (an account's granted merchants) as a JSON array; null when empty. */
    public static JSON listToJson(java.util.List<String> values) {
        return values.isEmpty() ? null : JSON.json(new io.vertx.core.json.JsonArray(new java.util.ArrayList<>(values)).encode());
    }

    public static java.util.List<String> listFromJson(JSON json) {
        if (json == null || json.data().isEmpty()) {
            return java.util.List.of();
        }
        java.util.List<String> out = new java.util.ArrayList<>();
        new io.vertx.core.json.JsonArray(json.data()).forEach(v -> out.add(String.valueOf(v)));
        return java.util.List.copyOf(out);
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
