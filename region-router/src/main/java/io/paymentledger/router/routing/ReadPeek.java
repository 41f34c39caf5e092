package io.paymentledger.router.routing;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import io.paymentledger.api.v1.ReadConsistency;
import io.paymentledger.api.v1.ReadOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.grpc.common.GrpcMessage;
import io.vertx.grpc.common.WireFormat;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.zip.GZIPInputStream;

/**
 * The router's one look inside a request. It walks the top level of the message's wire format (every request,
 * so bytes that are not protobuf at all are rejected with INVALID_ARGUMENT here instead of reaching a node),
 * skipping every field without decoding it, except a read's {@code ReadOptions}, which it parses with the
 * generated class to tell whether the read asks for bounded staleness. Nested messages are not looked into.
 */
final class ReadPeek {

    private ReadPeek() {}

    /** {@link #stalenessBoundMs} of a request that does not ask for bounded staleness. */
    static final long NOT_BOUNDED = -1;

    /**
     * Checks the wire format and returns the request's {@code max_staleness_ms} when it asks for bounded staleness
     * (0 when it names none: the node refuses that), {@link #NOT_BOUNDED} otherwise. {@code field} is the number of
     * the request's ReadOptions field, 0 for requests without one.
     */
    static long stalenessBoundMs(GrpcMessage msg, int field, int maxBytes) throws IOException {
        ReadOptions o = options(msg, field, maxBytes);
        return o.getConsistency() == ReadConsistency.READ_CONSISTENCY_BOUNDED_STALENESS
                ? Integer.toUnsignedLong(o.getMaxStalenessMs()) : NOT_BOUNDED;
    }

    static ReadOptions options(GrpcMessage msg, int field, int maxBytes) throws IOException {
        if (msg.format() == WireFormat.JSON && field == 0) {
            return ReadOptions.getDefaultInstance();
        }
        byte[] bytes = msg.payload().getBytes();
        if (msg.format() == WireFormat.JSON) {
            return json(bytes, maxBytes);
        }
        CodedInputStream in;
        switch (msg.encoding()) {
            case "identity" -> in = CodedInputStream.newInstance(bytes);
            case "gzip" -> in = CodedInputStream.newInstance(new GZIPInputStream(new ByteArrayInputStream(bytes)));
            default -> throw new IOException("unsupported message encoding " + msg.encoding());
        }
        in.setSizeLimit(maxBytes);
        ReadOptions.Builder read = null;
        while (true) {
            int tag = in.readTag();
            if (tag == 0) {
                break;
            }
            if (field > 0 && com.google.protobuf.WireFormat.getTagFieldNumber(tag) == field
                    && com.google.protobuf.WireFormat.getTagWireType(tag) == com.google.protobuf.WireFormat.WIRETYPE_LENGTH_DELIMITED) {
                ByteString b = in.readBytes();
                // Repeated occurrences of an embedded message merge (protobuf rule).
                (read == null ? read = ReadOptions.newBuilder() : read).mergeFrom(b);
            } else if (!in.skipField(tag)) {
                throw new IOException("unexpected end-group tag");
            }
        }
        return read == null ? ReadOptions.getDefaultInstance() : read.build();
    }

    private static ReadOptions json(byte[] bytes, int maxBytes) throws IOException {
        if (bytes.length > maxBytes) {
            throw new IOException("message too large");
        }
        try {
            JsonObject o = new JsonObject(io.vertx.core.buffer.Buffer.buffer(bytes));
            JsonObject read = o.getJsonObject("read");
            if (read == null) {
                return ReadOptions.getDefaultInstance();
            }
            Object c = read.getValue("consistency");
            boolean bounded = "READ_CONSISTENCY_BOUNDED_STALENESS".equals(c)
                    || (c instanceof Number n && n.intValue() == ReadConsistency.READ_CONSISTENCY_BOUNDED_STALENESS_VALUE);
            if (!bounded) {
                return ReadOptions.getDefaultInstance();
            }
            Object max = read.containsKey("maxStalenessMs") ? read.getValue("maxStalenessMs") : read.getValue("max_staleness_ms");
            long bound = max instanceof Number n ? n.longValue() : max instanceof String text ? parseBound(text) : 0;
            return ReadOptions.newBuilder().setConsistency(ReadConsistency.READ_CONSISTENCY_BOUNDED_STALENESS)
                    .setMaxStalenessMs((int) Math.max(0, Math.min(bound, Integer.MAX_VALUE))).build();
        } catch (RuntimeException e) {
            throw new IOException("not a JSON request: " + e.getMessage(), e);
        }
    }

    /** A uint32 in proto3 JSON may be a string; one that is not a number is left to the node to refuse (0). */
    private static long parseBound(String text) {
        try {
            return Long.parseLong(text.trim());
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
