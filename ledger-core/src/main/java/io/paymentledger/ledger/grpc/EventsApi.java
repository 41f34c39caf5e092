package io.paymentledger.ledger.grpc;

import io.paymentledger.api.v1.Event;
import io.paymentledger.api.v1.EventBalance;
import io.paymentledger.api.v1.EventFilter;
import io.paymentledger.api.v1.EventPayment;
import io.paymentledger.api.v1.EventsError;
import io.paymentledger.api.v1.EventsServiceGrpcService;
import io.paymentledger.api.v1.ListEventsRequest;
import io.paymentledger.api.v1.ListEventsResponse;
import io.paymentledger.api.v1.ReadOptions;
import io.paymentledger.api.v1.SubscribeEventsRequest;
import io.paymentledger.ledger.Caller;
import io.paymentledger.ledger.Limits;
import io.paymentledger.ledger.access.Access;
import io.paymentledger.ledger.account.Balance;
import io.paymentledger.ledger.events.Cursors;
import io.paymentledger.ledger.events.EventSource;
import io.paymentledger.ledger.events.EventType;
import io.paymentledger.ledger.events.LedgerEvent;
import io.paymentledger.ledger.events.Position;
import io.paymentledger.ledger.validation.Ids;
import io.paymentledger.security.identity.Identities;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.GrpcServerRequest;
import io.vertx.grpc.server.GrpcServerResponse;
import io.vertx.grpc.server.StatusException;
import java.sql.SQLException;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.logging.Logger;

/**
 * ledger.v1.EventsService: the event stream (docs/decisions/0006-events.md). Served by the leader only (like a
 * linearizable read), from {@link EventSource}; what a caller sees is decided by {@link Access} per event.
 *
 * <p>A subscription holds at most one page ({@link #STREAM_PAGE_EVENTS}) in memory: the next page is read only once
 * the previous one was taken by the transport (the response's write queue drained), so a slow consumer slows its
 * own stream and grows nothing on the server. Caught up, it waits for the writer's next acknowledged batch.
 */
public final class EventsApi {

    private static final Logger LOG = Logger.getLogger(EventsApi.class.getName());

    /** Events read per page of a stream. */
    public static final int STREAM_PAGE_EVENTS = 256;
    /** Accounts a filter may name. */
    public static final int FILTER_ACCOUNTS_MAX = 256;
    /** Open streams per node; beyond, RESOURCE_EXHAUSTED. */
    public static final int SUBSCRIPTIONS_MAX = 1_024;
    /** A caught-up stream looks again this often without a commit (leadership lost, a term began). */
    static final long IDLE_RECHECK_MS = 1_000;

    private final EventSource source;
    private final ReadGate gate;
    private final Blocking blocking;
    private final CallerResolver callers;
    private final Subscriptions subscriptions;

    /** The node's open streams: their count, wake-ups on each acknowledged batch, lag. One per node. */
    public static final class Subscriptions {
        final java.util.Set<Stream> open = java.util.concurrent.ConcurrentHashMap.newKeySet();
        final ConcurrentLinkedQueue<Runnable> waiting = new ConcurrentLinkedQueue<>();
        final java.util.concurrent.atomic.AtomicLong sent = new java.util.concurrent.atomic.AtomicLong();
        private volatile long horizonTsNs;

        /** Called on each acknowledged batch (the writer's committing thread): wakes the caught-up streams. */
        public void acknowledged(long lastTimestampNs) {
            horizonTsNs = lastTimestampNs;
            Runnable r;
            while ((r = waiting.poll()) != null) {
                r.run();
            }
        }

        public int open() {
            return open.size();
        }

        public long sent() {
            return sent.get();
        }

        /** Ledger time between the newest acknowledged change and the slowest open stream's position, in seconds. */
        public double lagSeconds() {
            long h = horizonTsNs;
            long lag = 0;
            for (Stream s : open) {
                if (s.cursor.timestampNs() > 0 && h > s.cursor.timestampNs()) {
                    lag = Math.max(lag, h - s.cursor.timestampNs());
                }
            }
            return lag / 1e9;
        }

        public void register(io.micrometer.core.instrument.MeterRegistry meters) {
            io.micrometer.core.instrument.Gauge.builder("ledger_events_subscribers", this, Subscriptions::open)
                    .description("event streams (SubscribeEvents) open on this node").register(meters);
            io.micrometer.core.instrument.Gauge.builder("ledger_events_lag_seconds", this, Subscriptions::lagSeconds)
                    .description("ledger time from the newest acknowledged change back to the slowest open event stream's position")
                    .register(meters);
            io.micrometer.core.instrument.FunctionCounter.builder("ledger_events_sent", this, Subscriptions::sent)
                    .description("events sent on event streams").register(meters);
        }
    }

    public EventsApi(EventSource source, ReadGate gate, Blocking blocking, CallerResolver callers, Subscriptions subscriptions) {
        this.source = source;
        this.gate = gate;
        this.blocking = blocking;
        this.callers = callers;
        this.subscriptions = subscriptions;
    }

    public void bind(GrpcServer server, Unary unary) {
        unary.bind(EventsServiceGrpcService.ListEvents, this::listEvents);
        server.callHandler(EventsServiceGrpcService.SubscribeEvents, this::subscribe);
    }

    // ---------------------------------------------------------------- requests

    private static StatusException invalid(EventsError code, String message) {
        return Unary.invalid(code.name() + ": " + message);
    }

    public static EventSource.Filter filter(EventFilter f) throws StatusException {
        Set<EventType> types = EnumSet.noneOf(EventType.class);
        for (int i = 0; i < f.getTypesCount(); i++) {
            io.paymentledger.api.v1.EventType t = f.getTypes(i);
            if (t == io.paymentledger.api.v1.EventType.UNRECOGNIZED || t == io.paymentledger.api.v1.EventType.EVENT_TYPE_UNSPECIFIED) {
                throw invalid(EventsError.EVENTS_ERROR_INVALID_TYPE, "filter.types[" + i + "]: unknown event type " + f.getTypesValue(i));
            }
            types.add(EventType.valueOf(t.name().substring("EVENT_TYPE_".length())));
        }
        if (f.getAccountIdsCount() > FILTER_ACCOUNTS_MAX) {
            throw invalid(EventsError.EVENTS_ERROR_TOO_MANY_ACCOUNTS, f.getAccountIdsCount() + " account ids in filter.account_ids; at most "
                    + FILTER_ACCOUNTS_MAX);
        }
        Set<String> accounts = new HashSet<>();
        for (int i = 0; i < f.getAccountIdsCount(); i++) {
            String id = f.getAccountIds(i);
            if (!Ids.isValid(id)) {
                throw invalid(EventsError.EVENTS_ERROR_INVALID_ACCOUNT_ID, "filter.account_ids[" + i + "] must be 1.."
                        + Limits.ID_LENGTH_MAX + " characters of [A-Za-z0-9._:-]");
            }
            accounts.add(id);
        }
        return new EventSource.Filter(Set.copyOf(types), Set.copyOf(accounts));
    }

    /** The position of a caller's cursor (leader, off the event loop): decoded, and a place in this journal. */
    private Position position(String cursor) throws StatusException, SQLException {
        return position(source, cursor);
    }

    /** As above, for other services that take a cursor (RedeliverEvents). */
    public static Position position(EventSource source, String cursor) throws StatusException, SQLException {
        Position p;
        try {
            p = source.cursors().decode(cursor);
        } catch (Cursors.Invalid e) {
            throw invalid(e.otherCell ? EventsError.EVENTS_ERROR_CURSOR_OF_ANOTHER_CELL : EventsError.EVENTS_ERROR_INVALID_CURSOR, e.getMessage());
        }
        if (!source.exists(p)) {
            throw invalid(EventsError.EVENTS_ERROR_INVALID_CURSOR, "after_cursor is not a cursor this ledger issued");
        }
        return p;
    }

    private void checkLeader() throws StatusException {
        gate.check(ReadOptions.getDefaultInstance());
    }

    Future<ListEventsResponse> listEvents(CallContext ctx, ListEventsRequest req) throws StatusException {
        if (req.getLimit() > Limits.PAGE_SIZE_MAX) {
            throw invalid(EventsError.EVENTS_ERROR_INVALID_LIMIT, "limit must be 1.." + Limits.PAGE_SIZE_MAX + " (0: "
                    + Limits.PAGE_SIZE_DEFAULT + ")");
        }
        int limit = req.getLimit() == 0 ? Limits.PAGE_SIZE_DEFAULT : req.getLimit();
        EventSource.Filter filter = filter(req.getFilter());
        checkLeader();
        return gate.confirm(ReadOptions.getDefaultInstance(), blocking.run(() -> {
            Position after = position(req.getAfterCursor());
            Position horizon = source.horizon();
            EventSource.Page page = source.page(ctx.caller(), after, horizon, filter, limit);
            Cursors cursors = source.cursors();
            ListEventsResponse.Builder b = ListEventsResponse.newBuilder();
            for (LedgerEvent e : page.events()) {
                b.addEvents(proto(ctx.caller(), cursors, e));
            }
            return b.setNextCursor(page.next().equals(Position.START) ? "" : cursors.encode(page.next())).build();
        }));
    }

    // ---------------------------------------------------------------- streams

    private void subscribe(GrpcServerRequest<SubscribeEventsRequest, Event> call) {
        // Registered first: a client that goes away (a reset, CANCELLED) at any point closes the stream here too.
        // Without it a stream kept reading pages for a consumer that was gone.
        Stream s = new Stream(call, blocking.context());
        call.errorHandler(error -> s.close());
        call.exceptionHandler(err -> s.close());
        call.response().exceptionHandler(err -> s.close());
        call.handler(req -> callers.resolve(call).onComplete(who -> {
            if (who.failed()) {
                end(call, who.cause());
                return;
            }
            Caller caller = who.result();
            if (!caller.isOperator()) {
                call.response().headers().set(Identities.CALLER_HEADER, caller.merchantId());
            }
            EventSource.Filter filter;
            try {
                if (req.getFromNow() && !req.getAfterCursor().isEmpty()) {
                    throw invalid(EventsError.EVENTS_ERROR_CONFLICTING_START, "give after_cursor or from_now, not both");
                }
                filter = filter(req.getFilter());
                checkLeader();
            } catch (StatusException e) {
                end(call, e);
                return;
            }
            if (subscriptions.open.size() >= SUBSCRIPTIONS_MAX) {
                end(call, new StatusException(GrpcStatus.RESOURCE_EXHAUSTED, SUBSCRIPTIONS_MAX
                        + " event streams are open on this node, its limit; retry later"));
                return;
            }
            blocking.run(() -> req.getFromNow() ? source.horizon() : position(req.getAfterCursor())).onComplete(start -> {
                if (start.failed()) {
                    end(call, start.cause());
                    return;
                }
                if (s.closed) {
                    return;
                }
                s.start(caller, filter, start.result());
                subscriptions.open.add(s);
                // Headers now: a stream that starts caught up may send its first event much later.
                if (call.response() instanceof io.vertx.grpc.common.impl.GrpcWriteStreamBase<?, ?> base) {
                    base.writeHead();
                }
                s.pump();
            });
        }));
    }

    private static void end(GrpcServerRequest<?, ?> call, Throwable cause) {
        GrpcStatus status;
        String message;
        if (cause instanceof StatusException se) {
            status = se.status();
            message = se.message();
        } else {
            status = GrpcStatus.INTERNAL;
            message = "internal error";
            LOG.log(java.util.logging.Level.SEVERE, "event stream failed", cause);
        }
        try {
            call.response().status(status).statusMessage(message).end();
        } catch (IllegalStateException alreadyEnded) {
            // the client went away or the deadline ended the call
        }
    }

    /** One open SubscribeEvents call. Its fields are used on its Vert.x context only (cursor is read by the lag gauge). */
    final class Stream {
        final GrpcServerRequest<SubscribeEventsRequest, Event> call;
        final GrpcServerResponse<SubscribeEventsRequest, Event> response;
        final Context ctx;
        Caller caller;
        EventSource.Filter filter;
        volatile Position cursor = Position.START;
        boolean closed;
        boolean reading;
        long idleTimer = -1;
        /**
         * Rows of each kind the next page reads: a page's worth to begin with, doubled (up to EventSource.SCAN_ROWS_MAX)
         * after a page that found fewer events than it could take while more rows were there, halved back after a full
         * one. Measured: a merchant seeing every row read 1,000 rows of each kind per 256-event page.
         */
        int scan = STREAM_PAGE_EVENTS;

        Stream(GrpcServerRequest<SubscribeEventsRequest, Event> call, Context ctx) {
            this.call = call;
            this.response = call.response();
            this.ctx = ctx;
        }

        void start(Caller caller, EventSource.Filter filter, Position from) {
            this.caller = caller;
            this.filter = filter;
            this.cursor = from;
        }

        void close() {
            closed = true;
            subscriptions.open.remove(this);
            if (idleTimer >= 0) {
                ctx.owner().cancelTimer(idleTimer);
                idleTimer = -1;
            }
        }

        /** Reads and sends the next page, unless a page is being read or the transport has not taken the last one. */
        void pump() {
            if (closed || reading) {
                return;
            }
            if (idleTimer >= 0) {
                ctx.owner().cancelTimer(idleTimer);
                idleTimer = -1;
            }
            if (response.writeQueueFull()) {
                response.drainHandler(v -> pump());
                return;
            }
            reading = true;
            Position from = cursor;
            int rows = EventSource.seesEverything(caller, filter) ? STREAM_PAGE_EVENTS : scan;
            blocking.run(() -> {
                checkLeader();
                Position horizon = source.horizon();
                EventSource.Page page = source.page(caller, from, horizon, filter, STREAM_PAGE_EVENTS, rows);
                Cursors cursors = source.cursors();
                List<Event> events = page.events().stream().map(e -> proto(caller, cursors, e)).toList();
                return new Sent(events, page.next(), !horizon.isAfter(page.next()));
            }).onComplete(ar -> {
                reading = false;
                if (closed) {
                    return;
                }
                if (ar.failed()) {
                    close();
                    end(call, ar.cause());
                    return;
                }
                Sent s = ar.result();
                if (s.events().size() == STREAM_PAGE_EVENTS) {
                    scan = Math.max(STREAM_PAGE_EVENTS, scan / 2);
                } else if (!s.caughtUp()) {
                    scan = Math.min(EventSource.SCAN_ROWS_MAX, scan * 2);
                }
                for (Event e : s.events()) {
                    response.write(e).onFailure(err -> close());
                }
                subscriptions.sent.addAndGet(s.events().size());
                cursor = s.next();
                if (s.caughtUp()) {
                    awaitCommit();
                } else {
                    pump();
                }
            });
        }

        /** Caught up: wait for the writer's next acknowledged batch, or look again after a while regardless. */
        private void awaitCommit() {
            subscriptions.waiting.add(() -> ctx.runOnContext(v -> pump()));
            idleTimer = ctx.owner().setTimer(IDLE_RECHECK_MS, t -> {
                idleTimer = -1;
                pump();
            });
        }
    }

    private record Sent(List<Event> events, Position next, boolean caughtUp) {}

    // ---------------------------------------------------------------- messages

    /**
     * The event as {@code caller} may see it (balances of its accounts only): webhooks send the same; the Kafka relay
     * shows it to the operator, who sees everything.
     */
    public static Event proto(Caller caller, Cursors cursors, LedgerEvent e) {
        Event.Builder b = Event.newBuilder().setId(e.id(cursors.cell())).setCursor(cursors.encode(e.position()))
                .setType(io.paymentledger.api.v1.EventType.valueOf("EVENT_TYPE_" + e.type().name()))
                .setTimestampNs(e.timestampNs()).setCell(cursors.cell());
        if (e.account() != null) {
            var a = e.account();
            b.setAccount(io.paymentledger.api.v1.Account.newBuilder().setId(a.id()).setCurrency(a.currency()).setCode((int) a.code())
                    .setOwner(a.owner()).setFlags(Protos.accountFlags(a.flags())).putAllMetadata(a.metadata())
                    .setBalance(Protos.proto(LedgerEvent.CREATED_BALANCE)).addAllGrantedMerchants(a.grantedMerchants())
                    .setTimestampNs(a.createdNs()));
            b.addBalances(balance(a.id(), LedgerEvent.CREATED_BALANCE));
            return b.build();
        }
        var t = e.transfer();
        b.setTransfer(Protos.proto(t));
        if (Access.mayRead(caller, e.debitOwner())) {
            b.addBalances(balance(t.debitAccountId(), t.debitBalance()));
        }
        if (Access.mayRead(caller, e.creditOwner())) {
            b.addBalances(balance(t.creditAccountId(), t.creditBalance()));
        }
        if (e.type().isPayment()) {
            b.setPayment(EventPayment.newBuilder().setPaymentId(t.paymentId()).setPayerAccountId(e.payerAccountId())
                    .setMerchantAccountId(e.merchantAccountId()).setCurrency(t.currency()).setAmount(t.amount()));
        }
        return b.build();
    }

    private static EventBalance balance(String accountId, Balance b) {
        return EventBalance.newBuilder().setAccountId(accountId).setBalance(Protos.proto(b)).build();
    }
}
