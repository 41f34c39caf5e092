package io.paymentledger.ledger.webhooks;

import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import io.paymentledger.api.v1.Event;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.Locale;
import java.util.Map;

/**
 * A delivery's JSON body, the Standard Webhooks shape: {@code {"type": "payment.captured", "timestamp": "<ISO-8601>",
 * "data": <the event as SubscribeEvents sends it>}}. {@code data} uses the proto's JSON names (lowerCamelCase);
 * 64-bit integers are strings (as in proto3's JSON mapping: JavaScript numbers lose precision beyond 2^53).
 */
public final class WebhookPayload {

    private WebhookPayload() {}

    public static String json(Event e) {
        String type = e.getType().name().substring("EVENT_TYPE_".length()).toLowerCase(Locale.ROOT);
        int cut = type.indexOf('_');
        return new JsonObject().put("type", type.substring(0, cut) + "." + type.substring(cut + 1).replace('_', '.'))
                .put("timestamp", Instant.ofEpochSecond(0, e.getTimestampNs()).toString())
                .put("data", object(e)).encode();
    }

    static JsonObject object(Message m) {
        JsonObject o = new JsonObject();
        for (Map.Entry<FieldDescriptor, Object> f : m.getAllFields().entrySet()) {
            FieldDescriptor d = f.getKey();
            if (d.isMapField()) {
                JsonObject map = new JsonObject();
                for (Object entry : (java.util.List<?>) f.getValue()) {
                    Message kv = (Message) entry;
                    map.put(String.valueOf(kv.getField(kv.getDescriptorForType().findFieldByName("key"))),
                            value(kv.getDescriptorForType().findFieldByName("value"), kv.getField(kv.getDescriptorForType().findFieldByName("value"))));
                }
                o.put(d.getJsonName(), map);
            } else if (d.isRepeated()) {
                JsonArray a = new JsonArray();
                for (Object v : (java.util.List<?>) f.getValue()) {
                    a.add(value(d, v));
                }
                o.put(d.getJsonName(), a);
            } else {
                o.put(d.getJsonName(), value(d, f.getValue()));
            }
        }
        return o;
    }

    private static Object value(FieldDescriptor d, Object v) {
        return switch (d.getJavaType()) {
            case MESSAGE -> object((Message) v);
            case ENUM -> ((EnumValueDescriptor) v).getName();
            case LONG -> String.valueOf(v);
            case BYTE_STRING -> java.util.Base64.getEncoder().encodeToString(((com.google.protobuf.ByteString) v).toByteArray());
            default -> v;
        };
    }
}
