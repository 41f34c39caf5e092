package io.paymentledger.ledger.webhooks;

import static io.paymentledger.db.Tables.WEBHOOK_DELIVERY;
import static io.paymentledger.db.Tables.WEBHOOK_ENDPOINT;
import static io.paymentledger.db.Tables.WEBHOOK_SECRET;

import io.paymentledger.ledger.events.EventType;
import io.paymentledger.ledger.events.Position;
import io.paymentledger.ledger.store.Database;
import io.paymentledger.ledger.write.BatchWriter;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.impl.DSL;

/**
 * Webhook endpoints, their sealed secrets, the dispatcher's progress and the delivery log, in the ledger's own
 * database (migration V9). Writes go through one session with bounded waits (the writer's limits) and commit like
 * the writer's: confirmed by the synchronous quorum, so an endpoint or a delivered cursor survives failover.
 */
public final class WebhookStore {

    /** Endpoints per owner at most. */
    public static final int ENDPOINTS_PER_OWNER_MAX = 100;
    /** Active secrets per endpoint at most (rotation). */
    public static final int SECRETS_ACTIVE_MAX = 5;
    /** Delivery attempts kept per endpoint (older ones are deleted as new ones are written). */
    public static final int LOG_ROWS_MAX = 100;

    public record Secret(int seq, byte[] sealed, Instant createdAt, Instant expiresAt) {
        boolean activeAt(Instant now) {
            return expiresAt == null || expiresAt.isAfter(now);
        }
    }

    public record Endpoint(String id, String owner, String url, Set<EventType> types, boolean enabled, String disabledReason,
            Position cursor, long generation, Instant failingSince, Instant createdAt, Instant updatedAt, List<Secret> secrets) {

        public List<Secret> activeSecrets(Instant now) {
            return secrets.stream().filter(s -> s.activeAt(now)).toList();
        }
    }

    public record Delivery(String eventId, String eventCursor, int attempt, String result, int httpStatus, long latencyMs,
            String error, Instant attemptedAt) {}

    private final Database database;
    private final String applicationName;
    private final Database.SessionLimits limits;
    private Connection connection;

    public WebhookStore(Database database, String region, Database.SessionLimits limits) {
        this.database = database;
        this.applicationName = "ledger-webhooks-" + region;
        this.limits = limits;
    }

    @FunctionalInterface
    interface Work<T> {
        T apply(DSLContext dsl) throws SQLException;
    }

    /** One transaction on the store's session, committed and confirmed by the quorum; a failed session is replaced. */
    private <T> T transaction(Work<T> work) throws SQLException {
        return transaction(work, true);
    }

    /**
     * The dispatcher's own records (delivery log, progress): committed without waiting for the second site. Losing
     * one in a failover only means an event is delivered again (at least once, same webhook-id); waiting for the
     * quorum twice per event cost more than the POST itself under load.
     */
    private <T> T progress(Work<T> work) throws SQLException {
        return transaction(work, false);
    }

    private synchronized <T> T transaction(Work<T> work, boolean quorum) throws SQLException {
        try {
            if (connection == null || connection.isClosed()) {
                connection = database.connect(applicationName, limits);
                connection.setAutoCommit(false);
            }
            DSLContext dsl = Database.dsl(connection);
            if (!quorum) {
                dsl.execute("set local synchronous_commit = local");
            }
            T result = work.apply(dsl);
            connection.clearWarnings();
            connection.commit();
            if (quorum) {
                BatchWriter.requireQuorumConfirmed(connection.getWarnings());
            }
            return result;
        } catch (SQLException | RuntimeException e) {
            closeQuietly();
            throw e;
        }
    }

    private void closeQuietly() {
        try {
            if (connection != null) {
                connection.close();
            }
        } catch (SQLException ignored) {
            // replaced on the next call
        }
        connection = null;
    }

    public synchronized void close() {
        closeQuietly();
    }

    static String newId() {
        byte[] b = new byte[8];
        new SecureRandom().nextBytes(b);
        return "ep_" + HexFormat.of().formatHex(b);
    }

    static String types(Set<EventType> types) {
        return types.stream().map(Enum::name).sorted().collect(Collectors.joining(","));
    }

    static Set<EventType> types(String s) {
        Set<EventType> out = EnumSet.noneOf(EventType.class);
        for (String t : s.split(",")) {
            if (!t.isEmpty()) {
                out.add(EventType.valueOf(t));
            }
        }
        return Set.copyOf(out);
    }

    private static Instant instant(OffsetDateTime t) {
        return t == null ? null : t.toInstant();
    }

    private static OffsetDateTime time(Instant t) {
        return t == null ? null : t.atOffset(ZoneOffset.UTC);
    }

    /** Refused because the owner has {@link #ENDPOINTS_PER_OWNER_MAX} endpoints. */
    public static final class TooMany extends Exception {
        TooMany() {
            super("at most " + ENDPOINTS_PER_OWNER_MAX + " endpoints per merchant", null, false, false);
        }
    }

    /**
     * A new endpoint with its first secret (sealed by {@code seal} for the endpoint's id), delivering events after
     * {@code from}.
     */
    public Endpoint create(String owner, String url, Set<EventType> types, Position from,
            java.util.function.Function<String, byte[]> seal) throws SQLException, TooMany {
        String id = newId();
        byte[] sealed = seal.apply(id);
        try {
            return transaction(dsl -> {
                // Serialises creations per owner, so the count holds under concurrent calls.
                dsl.execute("select pg_advisory_xact_lock(hashtext({0}))", "webhook-owner:" + owner);
                if (dsl.fetchCount(WEBHOOK_ENDPOINT, WEBHOOK_ENDPOINT.OWNER.eq(owner)) >= ENDPOINTS_PER_OWNER_MAX) {
                    throw new TooManyUnchecked();
                }
                dsl.insertInto(WEBHOOK_ENDPOINT).set(WEBHOOK_ENDPOINT.ID, id).set(WEBHOOK_ENDPOINT.OWNER, owner)
                        .set(WEBHOOK_ENDPOINT.URL, url).set(WEBHOOK_ENDPOINT.EVENT_TYPES, types(types))
                        .set(WEBHOOK_ENDPOINT.ENABLED, true).set(WEBHOOK_ENDPOINT.CURSOR_BATCH, from.batchSeq())
                        .set(WEBHOOK_ENDPOINT.CURSOR_TS, from.timestampNs()).execute();
                dsl.insertInto(WEBHOOK_SECRET).set(WEBHOOK_SECRET.ENDPOINT_ID, id).set(WEBHOOK_SECRET.SEQ, 1)
                        .set(WEBHOOK_SECRET.SEALED, sealed).execute();
                return load(dsl, id);
            });
        } catch (TooManyUnchecked e) {
            throw new TooMany();
        }
    }

    private static final class TooManyUnchecked extends RuntimeException {
        TooManyUnchecked() {
            super(null, null, false, false);
        }
    }

    public Endpoint find(String id) throws SQLException {
        return database.read(dsl -> load(dsl, id));
    }

    /** The owner's endpoints (null: everyone's), oldest first. */
    public List<Endpoint> list(String owner) throws SQLException {
        return database.read(dsl -> loadAll(dsl, owner == null ? DSL.trueCondition() : WEBHOOK_ENDPOINT.OWNER.eq(owner)));
    }

    /** The endpoints the dispatcher serves. */
    public List<Endpoint> enabled() throws SQLException {
        return database.read(dsl -> loadAll(dsl, WEBHOOK_ENDPOINT.ENABLED.isTrue()));
    }

    private static Endpoint load(DSLContext dsl, String id) {
        List<Endpoint> one = loadAll(dsl, WEBHOOK_ENDPOINT.ID.eq(id));
        return one.isEmpty() ? null : one.get(0);
    }

    private static List<Endpoint> loadAll(DSLContext dsl, org.jooq.Condition where) {
        Map<String, List<Secret>> secrets = new LinkedHashMap<>();
        for (Record r : dsl.select(WEBHOOK_SECRET.fields()).from(WEBHOOK_SECRET).join(WEBHOOK_ENDPOINT)
                .on(WEBHOOK_ENDPOINT.ID.eq(WEBHOOK_SECRET.ENDPOINT_ID)).where(where).orderBy(WEBHOOK_SECRET.SEQ).fetch()) {
            secrets.computeIfAbsent(r.get(WEBHOOK_SECRET.ENDPOINT_ID), k -> new ArrayList<>()).add(new Secret(r.get(WEBHOOK_SECRET.SEQ),
                    r.get(WEBHOOK_SECRET.SEALED), instant(r.get(WEBHOOK_SECRET.CREATED_AT)), instant(r.get(WEBHOOK_SECRET.EXPIRES_AT))));
        }
        List<Endpoint> out = new ArrayList<>();
        for (var r : dsl.selectFrom(WEBHOOK_ENDPOINT).where(where).orderBy(WEBHOOK_ENDPOINT.CREATED_AT, WEBHOOK_ENDPOINT.ID).fetch()) {
            out.add(new Endpoint(r.getId(), r.getOwner(), r.getUrl(), types(r.getEventTypes()), r.getEnabled(), r.getDisabledReason(),
                    new Position(r.getCursorBatch(), r.getCursorTs()), r.getGeneration(), instant(r.getFailingSince()),
                    instant(r.getCreatedAt()), instant(r.getUpdatedAt()), List.copyOf(secrets.getOrDefault(r.getId(), List.of()))));
        }
        return out;
    }

    /** Changes what is not null; enabling clears the reason it was disabled and its failure clock. */
    public Endpoint update(String id, String url, Set<EventType> types, Boolean enabled) throws SQLException {
        return transaction(dsl -> {
            var u = dsl.update(WEBHOOK_ENDPOINT).set(WEBHOOK_ENDPOINT.UPDATED_AT, DSL.currentOffsetDateTime());
            if (url != null) {
                u = u.set(WEBHOOK_ENDPOINT.URL, url);
            }
            if (types != null) {
                u = u.set(WEBHOOK_ENDPOINT.EVENT_TYPES, types(types));
            }
            if (enabled != null) {
                u = u.set(WEBHOOK_ENDPOINT.ENABLED, enabled);
                if (enabled) {
                    u = u.set(WEBHOOK_ENDPOINT.DISABLED_REASON, (String) null).set(WEBHOOK_ENDPOINT.FAILING_SINCE, (OffsetDateTime) null);
                }
            }
            u.where(WEBHOOK_ENDPOINT.ID.eq(id)).execute();
            return load(dsl, id);
        });
    }

    public boolean delete(String id) throws SQLException {
        return transaction(dsl -> dsl.deleteFrom(WEBHOOK_ENDPOINT).where(WEBHOOK_ENDPOINT.ID.eq(id)).execute() == 1);
    }

    /** Refused because the endpoint has {@link #SECRETS_ACTIVE_MAX} active secrets. */
    public static final class TooManySecrets extends Exception {
        TooManySecrets() {
            super("at most " + SECRETS_ACTIVE_MAX + " active secrets per endpoint; wait until the oldest expire", null, false, false);
        }
    }

    /** A new secret; the active ones expire at {@code keepUntil} at the latest; expired ones are deleted. */
    public Endpoint rotate(String id, byte[] sealed, Instant keepUntil) throws SQLException, TooManySecrets {
        try {
            return transaction(dsl -> {
                dsl.update(WEBHOOK_ENDPOINT).set(WEBHOOK_ENDPOINT.UPDATED_AT, DSL.currentOffsetDateTime())
                        .where(WEBHOOK_ENDPOINT.ID.eq(id)).execute();
                dsl.deleteFrom(WEBHOOK_SECRET).where(WEBHOOK_SECRET.ENDPOINT_ID.eq(id))
                        .and(WEBHOOK_SECRET.EXPIRES_AT.le(DSL.currentOffsetDateTime())).execute();
                if (dsl.fetchCount(WEBHOOK_SECRET, WEBHOOK_SECRET.ENDPOINT_ID.eq(id)) >= SECRETS_ACTIVE_MAX) {
                    throw new TooManyUnchecked();
                }
                dsl.update(WEBHOOK_SECRET).set(WEBHOOK_SECRET.EXPIRES_AT, time(keepUntil)).where(WEBHOOK_SECRET.ENDPOINT_ID.eq(id))
                        .and(WEBHOOK_SECRET.EXPIRES_AT.isNull().or(WEBHOOK_SECRET.EXPIRES_AT.gt(time(keepUntil)))).execute();
                Integer max = dsl.select(DSL.max(WEBHOOK_SECRET.SEQ)).from(WEBHOOK_SECRET).where(WEBHOOK_SECRET.ENDPOINT_ID.eq(id))
                        .fetchOne(0, Integer.class);
                dsl.insertInto(WEBHOOK_SECRET).set(WEBHOOK_SECRET.ENDPOINT_ID, id).set(WEBHOOK_SECRET.SEQ, (max == null ? 0 : max) + 1)
                        .set(WEBHOOK_SECRET.SEALED, sealed).execute();
                return load(dsl, id);
            });
        } catch (TooManyUnchecked e) {
            throw new TooManySecrets();
        }
    }

    /**
     * The endpoint delivered (or skipped) everything up to {@code to}: its cursor moves there, forward only and only
     * while its generation is {@code generation} (a RedeliverEvents meanwhile wins). False when it did not move.
     */
    public boolean advance(String id, long generation, Position to) throws SQLException {
        return progress(dsl -> advance(dsl, id, generation, to));
    }

    private static boolean advance(DSLContext dsl, String id, long generation, Position to) {
        return dsl.update(WEBHOOK_ENDPOINT).set(WEBHOOK_ENDPOINT.CURSOR_BATCH, to.batchSeq())
                .set(WEBHOOK_ENDPOINT.CURSOR_TS, to.timestampNs()).set(WEBHOOK_ENDPOINT.FAILING_SINCE, (OffsetDateTime) null)
                .where(WEBHOOK_ENDPOINT.ID.eq(id)).and(WEBHOOK_ENDPOINT.GENERATION.eq(generation))
                .and(WEBHOOK_ENDPOINT.CURSOR_TS.lt(to.timestampNs())).execute() == 1;
    }

    /** A delivery: logged, and the cursor moved to its event, in one transaction. */
    public boolean delivered(String id, long generation, Position to, Delivery d) throws SQLException {
        return progress(dsl -> log(dsl, id, d) && advance(dsl, id, generation, to));
    }

    /** A failed attempt: logged; returns when the event at the head first failed (set now if it had not). */
    public Instant failed(String id, long generation, Delivery d) throws SQLException {
        return progress(dsl -> {
            log(dsl, id, d);
            return failingSince(dsl, id, generation, d.attemptedAt());
        });
    }

    /** The head event's first failure, kept across failover so the retry window is the endpoint's, not a node's. */
    private static Instant failingSince(DSLContext dsl, String id, long generation, Instant now) {
        dsl.update(WEBHOOK_ENDPOINT).set(WEBHOOK_ENDPOINT.FAILING_SINCE, time(now)).where(WEBHOOK_ENDPOINT.ID.eq(id))
                .and(WEBHOOK_ENDPOINT.GENERATION.eq(generation)).and(WEBHOOK_ENDPOINT.FAILING_SINCE.isNull()).execute();
        return instant(dsl.select(WEBHOOK_ENDPOINT.FAILING_SINCE).from(WEBHOOK_ENDPOINT).where(WEBHOOK_ENDPOINT.ID.eq(id))
                .fetchOne(WEBHOOK_ENDPOINT.FAILING_SINCE));
    }

    public void disable(String id, long generation, String reason) throws SQLException {
        transaction(dsl -> dsl.update(WEBHOOK_ENDPOINT).set(WEBHOOK_ENDPOINT.ENABLED, false)
                .set(WEBHOOK_ENDPOINT.DISABLED_REASON, reason.length() > 1024 ? reason.substring(0, 1024) : reason)
                .set(WEBHOOK_ENDPOINT.UPDATED_AT, DSL.currentOffsetDateTime())
                .where(WEBHOOK_ENDPOINT.ID.eq(id)).and(WEBHOOK_ENDPOINT.GENERATION.eq(generation)).execute());
    }

    /** Moves the cursor back to {@code to} (a new generation: progress of deliveries in flight is dropped). */
    public Endpoint redeliver(String id, Position to) throws SQLException {
        return transaction(dsl -> {
            dsl.update(WEBHOOK_ENDPOINT).set(WEBHOOK_ENDPOINT.CURSOR_BATCH, to.batchSeq()).set(WEBHOOK_ENDPOINT.CURSOR_TS, to.timestampNs())
                    .set(WEBHOOK_ENDPOINT.GENERATION, WEBHOOK_ENDPOINT.GENERATION.plus(1))
                    .set(WEBHOOK_ENDPOINT.FAILING_SINCE, (OffsetDateTime) null)
                    .set(WEBHOOK_ENDPOINT.UPDATED_AT, DSL.currentOffsetDateTime()).where(WEBHOOK_ENDPOINT.ID.eq(id)).execute();
            return load(dsl, id);
        });
    }

    /** One attempt, written to the log; the endpoint's oldest rows beyond {@link #LOG_ROWS_MAX} go. */
    private static boolean log(DSLContext dsl, String endpointId, Delivery d) {
        // Deleted meanwhile (every write of the store goes through this one session, so this check holds).
        if (!dsl.fetchExists(WEBHOOK_ENDPOINT, WEBHOOK_ENDPOINT.ID.eq(endpointId))) {
            return false;
        }
        dsl.insertInto(WEBHOOK_DELIVERY).set(WEBHOOK_DELIVERY.ENDPOINT_ID, endpointId).set(WEBHOOK_DELIVERY.EVENT_ID, d.eventId())
                .set(WEBHOOK_DELIVERY.EVENT_CURSOR, d.eventCursor()).set(WEBHOOK_DELIVERY.ATTEMPT, d.attempt())
                .set(WEBHOOK_DELIVERY.RESULT, d.result()).set(WEBHOOK_DELIVERY.HTTP_STATUS, d.httpStatus())
                .set(WEBHOOK_DELIVERY.LATENCY_MS, d.latencyMs())
                .set(WEBHOOK_DELIVERY.ERROR, d.error() == null || d.error().length() <= 512 ? d.error() : d.error().substring(0, 512))
                .set(WEBHOOK_DELIVERY.ATTEMPTED_AT, time(d.attemptedAt())).execute();
        Long keepFrom = dsl.select(WEBHOOK_DELIVERY.ID).from(WEBHOOK_DELIVERY).where(WEBHOOK_DELIVERY.ENDPOINT_ID.eq(endpointId))
                .orderBy(WEBHOOK_DELIVERY.ID.desc()).offset(LOG_ROWS_MAX - 1).limit(1).fetchOne(WEBHOOK_DELIVERY.ID);
        if (keepFrom != null) {
            dsl.deleteFrom(WEBHOOK_DELIVERY).where(WEBHOOK_DELIVERY.ENDPOINT_ID.eq(endpointId)).and(WEBHOOK_DELIVERY.ID.lt(keepFrom)).execute();
        }
        return true;
    }

    /** The endpoint's last attempts, newest first. */
    public List<Delivery> deliveries(String endpointId, int limit) throws SQLException {
        return database.read(dsl -> dsl.selectFrom(WEBHOOK_DELIVERY).where(WEBHOOK_DELIVERY.ENDPOINT_ID.eq(endpointId))
                .orderBy(WEBHOOK_DELIVERY.ID.desc()).limit(limit).fetch(r -> new Delivery(r.getEventId(), r.getEventCursor(),
                        r.getAttempt(), r.getResult(), r.getHttpStatus(), r.getLatencyMs(), r.getError(), instant(r.getAttemptedAt()))));
    }
}
