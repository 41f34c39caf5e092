package io.paymentledger.cli.command;

import io.paymentledger.api.v1.Event;
import io.paymentledger.api.v1.EventFilter;
import io.paymentledger.api.v1.EventsServiceGrpcClient;
import io.paymentledger.api.v1.SubscribeEventsRequest;
import io.vertx.core.Vertx;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientRequest;
import io.vertx.grpc.client.GrpcClientResponse;
import io.vertx.grpc.common.GrpcStatus;
import java.io.PrintStream;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Follows the event stream as a consumer should: {@code SubscribeEvents} through a target (the router), and whenever
 * the stream ends — a failover, a switchover, its deadline, a dropped connection — a new one from the last cursor
 * received, after a pause that doubles from {@link #RESUME_DELAY_MS_MIN} to {@link #RESUME_DELAY_MS_MAX}. Flow
 * control: at most {@link #BUFFER_EVENTS_MAX} events wait for the sink before the stream is paused. The one resume
 * loop of the CLI: {@code ./ledger events tail} prints what it follows, the drills check it.
 */
public final class EventFollower {

    /** Events buffered before the stream is paused (flow control back to the server). */
    static final int BUFFER_EVENTS_MAX = 1_024;
    /** Each stream asks for this deadline; the follower goes on from its cursor when it passes. */
    static final long STREAM_DEADLINE_MINUTES = 10;
    /** Waits before resuming after a stream ended, doubling up to the max. */
    static final long RESUME_DELAY_MS_MIN = 200;
    static final long RESUME_DELAY_MS_MAX = 5_000;
    /** How often a follower with a stop condition looks at it while no event arrives. */
    private static final long STOP_CHECK_MS = 100;

    /** What the follower hands events to. */
    public interface Sink {
        void event(Event e);

        /** Nothing more has arrived for now (a printer flushes). */
        default void idle() {}
    }

    /** How following ended: {@link #STOPPED}, {@link #COUNTED} (the count was reached) or refused with a message. */
    public record Outcome(Kind kind, GrpcStatus status, String message) {
        public enum Kind { STOPPED, COUNTED, INVALID, DENIED }
    }

    /** What the stream handlers hand the following thread: an event, or the end of the stream. */
    private record Item(Event event, GrpcStatus status, String message) {}

    private final GrpcClient grpc;
    private final Vertx vertx;
    private final Supplier<SocketAddress> target;
    private final EventFilter filter;
    private volatile String cursor;
    private volatile boolean fromNow;
    private volatile int resumes;
    private volatile long received;

    /**
     * @param from a cursor to continue after, {@code "start"} for the first event, {@code "now"} for what is
     *             acknowledged from the first subscription on
     */
    public EventFollower(GrpcClient grpc, Vertx vertx, Supplier<SocketAddress> target, EventFilter filter, String from) {
        this.grpc = grpc;
        this.vertx = vertx;
        this.target = target;
        this.filter = filter;
        this.cursor = from.equals("start") || from.equals("now") ? "" : from;
        this.fromNow = from.equals("now");
    }

    /** New streams after the first (each a resumption from the last cursor). */
    public int resumes() {
        return resumes;
    }

    /** Events handed to the sink so far. */
    public long received() {
        return received;
    }

    /** The last cursor received ("" before the first event). */
    public String cursor() {
        return cursor;
    }

    /**
     * Follows until {@code count} events were received, {@code stop} says so (looked at every 100 ms while nothing
     * arrives; null: never), or the server refuses the request (a bad filter or cursor, or a caller it does not
     * know): those do not get better by resuming. Every other end of a stream is resumed, and said on {@code err}.
     */
    public Outcome follow(Sink sink, long count, BooleanSupplier stop, PrintStream err) throws InterruptedException {
        long delay = RESUME_DELAY_MS_MIN;
        boolean first = true;
        while (true) {
            if (!first) {
                resumes++;
            }
            first = false;
            LinkedBlockingQueue<Item> queue = new LinkedBlockingQueue<>();
            AtomicReference<GrpcClientResponse<?, Event>> stream = new AtomicReference<>();
            AtomicReference<GrpcClientRequest<SubscribeEventsRequest, Event>> call = new AtomicReference<>();
            SubscribeEventsRequest request = SubscribeEventsRequest.newBuilder().setAfterCursor(cursor).setFromNow(fromNow)
                    .setFilter(filter).build();
            grpc.request(target.get(), EventsServiceGrpcClient.SubscribeEvents).compose(req -> {
                call.set(req);
                req.timeout(STREAM_DEADLINE_MINUTES, TimeUnit.MINUTES);
                req.end(request);
                return req.response();
            }).onComplete(ar -> {
                if (ar.failed()) {
                    queue.add(new Item(null, GrpcStatus.UNAVAILABLE, ar.cause().getMessage()));
                    return;
                }
                GrpcClientResponse<?, Event> resp = ar.result();
                stream.set(resp);
                resp.handler(e -> {
                    queue.add(new Item(e, null, null));
                    if (queue.size() >= BUFFER_EVENTS_MAX) {
                        resp.pause();
                    }
                });
                resp.endHandler(v -> queue.add(new Item(null, resp.status(), resp.statusMessage())));
                resp.exceptionHandler(e -> queue.add(new Item(null, GrpcStatus.UNAVAILABLE, String.valueOf(e.getMessage()))));
            });
            Item item;
            while ((item = next(queue, sink, stop)) != null && item.event() != null) {
                Event e = item.event();
                sink.event(e);
                cursor = e.getCursor();
                fromNow = false;
                delay = RESUME_DELAY_MS_MIN;
                if (++received >= count) {
                    cancel(call.get());
                    return new Outcome(Outcome.Kind.COUNTED, null, null);
                }
                GrpcClientResponse<?, Event> resp = stream.get();
                if (resp != null && queue.size() < BUFFER_EVENTS_MAX / 4) {
                    vertx.runOnContext(v -> resp.resume());
                }
            }
            if (item == null) {
                cancel(call.get());
                return new Outcome(Outcome.Kind.STOPPED, null, null);
            }
            sink.idle();
            GrpcStatus status = item.status();
            if (status == GrpcStatus.INVALID_ARGUMENT) {
                return new Outcome(Outcome.Kind.INVALID, status, item.message());
            }
            if (status == GrpcStatus.PERMISSION_DENIED || status == GrpcStatus.UNAUTHENTICATED) {
                return new Outcome(Outcome.Kind.DENIED, status, item.message());
            }
            // Failover, switchover, the stream's deadline, a dropped connection: go on from the last cursor.
            if (status != GrpcStatus.DEADLINE_EXCEEDED) {
                err.println("events tail: the stream ended (" + status + (item.message() == null ? "" : ": " + item.message())
                        + "); resuming " + (cursor.isEmpty() ? (fromNow ? "from now" : "from the start") : "after " + cursor)
                        + " in " + delay + " ms");
            }
            long until = System.nanoTime() + delay * 1_000_000L;
            while (System.nanoTime() < until) {
                if (stop != null && stop.getAsBoolean()) {
                    return new Outcome(Outcome.Kind.STOPPED, null, null);
                }
                Thread.sleep(Math.min(STOP_CHECK_MS, Math.max(1, (until - System.nanoTime()) / 1_000_000)));
            }
            delay = Math.min(delay * 2, RESUME_DELAY_MS_MAX);
        }
    }

    /** The next item, or null once {@code stop} says so. */
    private static Item next(LinkedBlockingQueue<Item> queue, Sink sink, BooleanSupplier stop) throws InterruptedException {
        Item item = queue.poll();
        if (item != null) {
            return item;
        }
        sink.idle();
        if (stop == null) {
            // A tail follows for as long as the operator lets it: no deadline of its own. It cannot hang: the stream's
            // end or failure is an item too, and every stream ends by its STREAM_DEADLINE_MINUTES deadline at the latest,
            // so this wakes for that (and Ctrl-C interrupts it).
            return queue.take();
        }
        while (!stop.getAsBoolean()) {
            item = queue.poll(STOP_CHECK_MS, TimeUnit.MILLISECONDS);
            if (item != null) {
                return item;
            }
        }
        return null;
    }

    /** Ends the stream this side (the server stops reading pages for it). */
    private void cancel(GrpcClientRequest<SubscribeEventsRequest, Event> req) {
        if (req != null) {
            vertx.runOnContext(v -> req.cancel());
        }
    }
}
