package io.paymentledger.telemetry.metrics;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.vertx.grpc.common.GrpcStatus;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Per-method, per-status gRPC call latency as one Prometheus histogram, {@code <name>_seconds_bucket{method,status,le}}
 * (its {@code _count} is the per-method/status request counter). Labels come from closed sets only: the method names
 * a process serves (bound in code, or {@link #UNKNOWN_METHOD}) and the gRPC status codes.
 *
 * <p>On the hot path: the timer of a (method, status) pair is looked up in an array by the status's ordinal, created
 * once; a record is a bucket search plus a few atomic adds (no allocation).
 */
public final class RequestMetrics {

    /** The method label of calls to a method the process does not serve (never the name the client sent). */
    public static final String UNKNOWN_METHOD = "unknown";
    /**
     * Histogram bucket bounds: 1 ms to 15 s (the router's hold time), about two per decade; a commit waits for a
     * second site, so nothing useful is under 1 ms.
     */
    static final Duration[] BUCKETS = {
            Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(20),
            Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(200), Duration.ofMillis(500), Duration.ofSeconds(1),
            Duration.ofSeconds(2), Duration.ofSeconds(5), Duration.ofSeconds(15)};

    private final MeterRegistry registry;
    private final String name;
    private final String description;
    private final ConcurrentHashMap<String, Method> methods = new ConcurrentHashMap<>();

    /** @param name the meter's name without unit, e.g. {@code ledger_request} (exported as {@code ledger_request_seconds}) */
    public RequestMetrics(MeterRegistry registry, String name, String description) {
        this.registry = registry;
        this.name = name;
        this.description = description;
    }

    /** The timers of one method; look it up once per bound method (or per route), not per call. */
    public Method method(String fullMethodName) {
        return methods.computeIfAbsent(fullMethodName, Method::new);
    }

    /** One method's timers, by status. */
    public final class Method {
        private final String method;
        private final AtomicReferenceArray<Timer> byStatus = new AtomicReferenceArray<>(GrpcStatus.values().length);

        private Method(String method) {
            this.method = method;
        }

        /** Records one finished call: its status and how long it took since {@code startNanos} (System.nanoTime). */
        public void record(GrpcStatus status, long startNanos) {
            // The time is taken first: creating a pair's timer (once) must not count as the call's latency.
            long elapsedNanos = System.nanoTime() - startNanos;
            timer(status).record(elapsedNanos, TimeUnit.NANOSECONDS);
        }

        private Timer timer(GrpcStatus status) {
            Timer t = byStatus.get(status.ordinal());
            if (t == null) {
                // The registry returns the same timer to racing threads: whichever is stored, counts are not lost.
                t = Timer.builder(name).description(description).tag("method", method).tag("status", status.name())
                        .serviceLevelObjectives(BUCKETS).register(registry);
                byStatus.set(status.ordinal(), t);
            }
            return t;
        }
    }
}
