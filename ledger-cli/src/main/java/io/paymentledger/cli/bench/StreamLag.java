package io.paymentledger.cli.bench;

import io.paymentledger.api.v1.Event;
import io.paymentledger.api.v1.EventsServiceGrpcClient;
import io.paymentledger.api.v1.SubscribeEventsRequest;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientResponse;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A live event subscriber beside a benchmark run ({@code ./ledger bench --events}): {@code SubscribeEvents} from now,
 * as the load's merchant, through the same target as the load, for the measured window; each event's lag is when it
 * arrived here minus its ledger timestamp (the writer's clock, anchored to the wall clock: the processes share this
 * host's clock). What a merchant's consumer would see of the stream while the ledger writes at the bench's rate.
 */
public final class StreamLag implements AutoCloseable {

    /** At most this many lags are kept (every one up to it; then a uniform sample): bounded memory at any rate. */
    static final int SAMPLES_MAX = 1_000_000;
    /** The stream's deadline (the router cuts a server stream without one after 30 s). */
    static final long STREAM_DEADLINE_MINUTES = 60;

    /** What one window saw: events received, lag p50 / p99 / max in ms (NaN when none arrived), and why it ended early. */
    public record Result(long events, double p50Ms, double p99Ms, double maxMs, String problem) {
        public String line() {
            if (events == 0) {
                return "events: none received" + (problem.isEmpty() ? "" : " (" + problem + ")");
            }
            return String.format(Locale.ROOT, "events: %d received live, lag p50 %.1f ms / p99 %.1f ms / max %.1f ms%s", events,
                    p50Ms, p99Ms, maxMs, problem.isEmpty() ? "" : " (" + problem + ")");
        }

        public io.vertx.core.json.JsonObject toJson() {
            return new io.vertx.core.json.JsonObject().put("events", events).put("lagP50Ms", finite(p50Ms))
                    .put("lagP99Ms", finite(p99Ms)).put("lagMaxMs", finite(maxMs)).put("problem", problem);
        }

        private static Object finite(double v) {
            return Double.isFinite(v) ? Math.round(v * 10) / 10.0 : null;
        }
    }

    private final long[] lagsNanos = new long[SAMPLES_MAX];
    private final AtomicLong received = new AtomicLong();
    private final AtomicReference<String> problem = new AtomicReference<>("");
    private final AtomicReference<io.vertx.grpc.client.GrpcClientRequest<SubscribeEventsRequest, Event>> call = new AtomicReference<>();
    private volatile boolean closed;

    private StreamLag() {}

    /** Subscribes from now; the events arriving from here on are measured until {@link #close}. */
    public static StreamLag start(GrpcClient grpc, SocketAddress target) {
        StreamLag lag = new StreamLag();
        grpc.request(target, EventsServiceGrpcClient.SubscribeEvents).compose(req -> {
            lag.call.set(req);
            req.timeout(STREAM_DEADLINE_MINUTES, TimeUnit.MINUTES);
            req.end(SubscribeEventsRequest.newBuilder().setFromNow(true).build());
            return req.response();
        }).onComplete(ar -> {
            if (ar.failed()) {
                lag.problem.set("the subscription failed: " + ar.cause().getMessage());
                return;
            }
            GrpcClientResponse<SubscribeEventsRequest, Event> resp = ar.result();
            if (lag.closed) {
                lag.close();
                return;
            }
            resp.handler(lag::onEvent);
            resp.endHandler(v -> {
                if (!lag.closed) {
                    lag.problem.set("the stream ended early: " + resp.status() + " " + resp.statusMessage());
                }
            });
            resp.exceptionHandler(e -> {
                if (!lag.closed) {
                    lag.problem.set("the stream failed: " + e.getMessage());
                }
            });
        });
        return lag;
    }

    private void onEvent(Event e) {
        java.time.Instant now = java.time.Instant.now();
        long nowNanos = now.getEpochSecond() * 1_000_000_000L + now.getNano();
        long n = received.getAndIncrement();
        long lag = Math.max(0, nowNanos - e.getTimestampNs());
        if (n < SAMPLES_MAX) {
            lagsNanos[(int) n] = lag;
        } else {
            // Reservoir sampling keeps a uniform sample of every lag seen.
            long slot = java.util.concurrent.ThreadLocalRandom.current().nextLong(n + 1);
            if (slot < SAMPLES_MAX) {
                lagsNanos[(int) slot] = lag;
            }
        }
    }

    /** Events received so far. */
    public long received() {
        return received.get();
    }

    /** Ends the subscription and says what it saw. */
    public Result stop() {
        close();
        long n = received.get();
        int kept = (int) Math.min(n, SAMPLES_MAX);
        if (kept == 0) {
            return new Result(0, Double.NaN, Double.NaN, Double.NaN, problem.get());
        }
        long[] sorted = Arrays.copyOf(lagsNanos, kept);
        Arrays.sort(sorted);
        return new Result(n, quantileMs(sorted, 0.50), quantileMs(sorted, 0.99), sorted[kept - 1] / 1e6, problem.get());
    }

    static double quantileMs(long[] sorted, double q) {
        int i = (int) Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
        return sorted[i] / 1e6;
    }

    @Override
    public void close() {
        closed = true;
        io.vertx.grpc.client.GrpcClientRequest<SubscribeEventsRequest, Event> req = call.get();
        if (req != null) {
            try {
                req.cancel();
            } catch (RuntimeException alreadyEnded) {
                // nothing to cancel
            }
        }
    }
}
