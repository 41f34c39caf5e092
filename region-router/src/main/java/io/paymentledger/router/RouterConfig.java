package io.paymentledger.router;

import com.google.protobuf.Descriptors.FileDescriptor;
import io.paymentledger.api.v1.LedgerProto;
import io.paymentledger.api.v1.NodeProto;
import io.paymentledger.api.v1.PaymentsProto;
import io.paymentledger.router.limits.MerchantResolver;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpServerOptions;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Everything the router needs, validated once when the record is built: every limit is named with its unit
 * and checked for range, so a bad setting fails at start with one message listing every problem.
 *
 * <p>TLS is not the router's business: the merchant side listens with {@link #serverOptions()} (plain, TLS or
 * mTLS) and the upstream side connects with {@link #upstreamClientOptions()} (plain or mTLS). Both are plain
 * Vert.x options, so switching mTLS on later changes only the caller.
 *
 * @param upstreams                  the ledger nodes (one per region) the router follows
 * @param serverOptions              where merchants connect: host, port (0 = any free port), TLS
 * @param upstreamClientOptions      how the router reaches the nodes (TLS/mTLS); HTTP/2 is forced
 * @param healthCheckIntervalMs      active health checks of every upstream, this often (10..5000)
 * @param healthCheckTimeoutMs       a check that takes longer has failed (also its connect timeout)
 * @param healthCheckFailures        consecutive failed checks after which an upstream is unreachable
 * @param maxMessageBytes            largest request or response message the router passes
 * @param holdQueueCalls             calls that may wait in the router at once (for a leader, or a retry)
 * @param holdQueueBytes             request bytes those waiting calls may buffer in all
 * @param holdTimeMs                 longest a call waits for a leader (also bounded by its own deadline)
 * @param retryAfterMs               the retry hint sent with the router's own UNAVAILABLE answers
 * @param retryBackoffInitialMs      first retry delay (doubles per attempt, with jitter)
 * @param retryBackoffMaxMs          largest retry delay
 * @param retryAttempts              attempts per call at most (first one included)
 * @param merchantConcurrentCalls    calls one merchant may have in the router at once
 * @param unverifiedConcurrentCalls  calls with an API key that no node has verified yet, all such keys together
 *                                   (they are not a merchant's until a node says so, so they may not spend one's budget)
 * @param upstreamConnectTimeoutMs   connecting to an upstream takes at most this
 * @param upstreamCallTimeoutMs      deadline of a call whose client sent none
 * @param outlierFailures            consecutive failed calls that eject an upstream
 * @param outlierEjectionMs          first ejection period (doubles per repeated ejection)
 * @param outlierEjectionMaxMs       longest ejection period
 * @param upstreamInFlightCalls      calls in flight to one upstream at most (circuit breaker)
 * @param merchantResolver           who a call comes from (the key of the per-merchant limit); the default,
 *                                   {@link MerchantResolver#anonymous()}, vouches for nobody
 * @param services                   the proto files whose services are forwarded
 * @param nonIdempotentMethods       full method names ("pkg.Service/Method") that are never replayed once sent
 * @param metricsReaders             who may read {@code GET /metrics} on the merchant port; the default lets only
 *                                   plain-HTTP (test) callers read, a TLS deployment names its Prometheus and operator
 */
public record RouterConfig(
        List<UpstreamConfig> upstreams,
        HttpServerOptions serverOptions,
        HttpClientOptions upstreamClientOptions,
        long healthCheckIntervalMs,
        long healthCheckTimeoutMs,
        int healthCheckFailures,
        int maxMessageBytes,
        int holdQueueCalls,
        long holdQueueBytes,
        long holdTimeMs,
        long retryAfterMs,
        long retryBackoffInitialMs,
        long retryBackoffMaxMs,
        int retryAttempts,
        int merchantConcurrentCalls,
        int unverifiedConcurrentCalls,
        long upstreamConnectTimeoutMs,
        long upstreamCallTimeoutMs,
        int outlierFailures,
        long outlierEjectionMs,
        long outlierEjectionMaxMs,
        int upstreamInFlightCalls,
        MerchantResolver merchantResolver,
        List<FileDescriptor> services,
        Set<String> nonIdempotentMethods,
        java.util.function.Predicate<io.vertx.core.http.HttpServerRequest> metricsReaders) {

    /**
     * The ledger.v1 methods that are not idempotent by a client-chosen id, so never replayed once they may have reached
     * a node. Every other ledger.v1 method is: LedgerService and PaymentsService writes carry their own ids (a repeat
     * returns the first outcome), lookups, GetNodeStatus and ListApiKeys only read, and RevokeApiKey names its key (a
     * repeat revokes nothing more). Not so {@code Switchover} (a repeat starts a second handover) and
     * {@code CreateApiKey} (it has no id: a repeat mints a second live key whose secret only the repeat's answer holds),
     * and for the same reason {@code CreateWebhookEndpoint} and {@code RotateWebhookSecret} (a second endpoint, a second
     * new secret).
     */
    public static final Set<String> LEDGER_NON_IDEMPOTENT_METHODS =
            Set.of("ledger.v1.NodeService/Switchover", "ledger.v1.NodeService/CreateApiKey",
                    "ledger.v1.EventsService/CreateWebhookEndpoint", "ledger.v1.EventsService/RotateWebhookSecret");

    private static final Pattern REGION = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    /** One ledger node, as the router reaches it. */
    public record UpstreamConfig(String region, String host, int port) {
        public UpstreamConfig {
            Objects.requireNonNull(region, "region");
            Objects.requireNonNull(host, "host");
        }

        public String address() {
            return host + ":" + port;
        }
    }

    public RouterConfig {
        upstreams = List.copyOf(Objects.requireNonNull(upstreams, "upstreams"));
        services = List.copyOf(Objects.requireNonNull(services, "services"));
        nonIdempotentMethods = Set.copyOf(Objects.requireNonNull(nonIdempotentMethods, "nonIdempotentMethods"));
        Objects.requireNonNull(serverOptions, "serverOptions");
        Objects.requireNonNull(upstreamClientOptions, "upstreamClientOptions");
        Objects.requireNonNull(merchantResolver, "merchantResolver");
        Objects.requireNonNull(metricsReaders, "metricsReaders");
        List<String> problems = new ArrayList<>();
        if (upstreams.isEmpty()) {
            problems.add("upstreams: at least one ledger node is needed");
        }
        Set<String> regions = new HashSet<>();
        for (UpstreamConfig u : upstreams) {
            if (!REGION.matcher(u.region()).matches()) {
                problems.add("upstream region '" + u.region() + "': 1..64 of [A-Za-z0-9._-]");
            }
            if (!regions.add(u.region())) {
                problems.add("upstream region '" + u.region() + "' is configured twice");
            }
            if (u.host().isBlank()) {
                problems.add("upstream " + u.region() + ": host is empty");
            }
            if (u.port() < 1 || u.port() > 65535) {
                problems.add("upstream " + u.region() + ": port " + u.port() + " is not 1..65535");
            }
        }
        range(problems, "healthCheckIntervalMs", healthCheckIntervalMs, 10, 5_000);
        range(problems, "healthCheckTimeoutMs", healthCheckTimeoutMs, 10, 10_000);
        range(problems, "healthCheckFailures", healthCheckFailures, 1, 100);
        range(problems, "maxMessageBytes", maxMessageBytes, 1024, 256L * 1024 * 1024);
        range(problems, "holdQueueCalls", holdQueueCalls, 0, 1_000_000);
        range(problems, "holdQueueBytes", holdQueueBytes, 0, 64L * 1024 * 1024 * 1024);
        range(problems, "holdTimeMs", holdTimeMs, 0, 600_000);
        range(problems, "retryAfterMs", retryAfterMs, 1, 600_000);
        range(problems, "retryBackoffInitialMs", retryBackoffInitialMs, 1, 60_000);
        range(problems, "retryBackoffMaxMs", retryBackoffMaxMs, retryBackoffInitialMs, 60_000);
        range(problems, "retryAttempts", retryAttempts, 1, 1000);
        range(problems, "merchantConcurrentCalls", merchantConcurrentCalls, 1, 1_000_000);
        range(problems, "unverifiedConcurrentCalls", unverifiedConcurrentCalls, 1, 1_000_000);
        range(problems, "upstreamConnectTimeoutMs", upstreamConnectTimeoutMs, 10, 600_000);
        range(problems, "upstreamCallTimeoutMs", upstreamCallTimeoutMs, 10, 3_600_000);
        range(problems, "outlierFailures", outlierFailures, 1, 1000);
        range(problems, "outlierEjectionMs", outlierEjectionMs, 1, 3_600_000);
        range(problems, "outlierEjectionMaxMs", outlierEjectionMaxMs, outlierEjectionMs, 3_600_000);
        range(problems, "upstreamInFlightCalls", upstreamInFlightCalls, 1, 10_000_000);
        if (holdQueueBytes > 0 && holdQueueBytes < maxMessageBytes) {
            problems.add("holdQueueBytes (" + holdQueueBytes + ") must hold at least one message of maxMessageBytes ("
                    + maxMessageBytes + "), or be 0 to hold nothing");
        }
        if (services.isEmpty()) {
            problems.add("services: at least one proto file is needed");
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("invalid router configuration: " + String.join("; ", problems));
        }
    }

    private static void range(List<String> problems, String name, long value, long min, long max) {
        if (value < min || value > max) {
            problems.add(name + " = " + value + " is not in " + min + ".." + max);
        }
    }

    /** The ledger's own services: ledger.v1 LedgerService, PaymentsService, EventsService and NodeService. */
    public static List<FileDescriptor> ledgerServices() {
        return List.of(LedgerProto.getDescriptor(), PaymentsProto.getDescriptor(), io.paymentledger.api.v1.EventsProto.getDescriptor(),
                NodeProto.getDescriptor());
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.upstreams = new ArrayList<>(upstreams);
        b.serverOptions = serverOptions;
        b.upstreamClientOptions = upstreamClientOptions;
        b.healthCheckIntervalMs = healthCheckIntervalMs;
        b.healthCheckTimeoutMs = healthCheckTimeoutMs;
        b.healthCheckFailures = healthCheckFailures;
        b.maxMessageBytes = maxMessageBytes;
        b.holdQueueCalls = holdQueueCalls;
        b.holdQueueBytes = holdQueueBytes;
        b.holdTimeMs = holdTimeMs;
        b.retryAfterMs = retryAfterMs;
        b.retryBackoffInitialMs = retryBackoffInitialMs;
        b.retryBackoffMaxMs = retryBackoffMaxMs;
        b.retryAttempts = retryAttempts;
        b.merchantConcurrentCalls = merchantConcurrentCalls;
        b.unverifiedConcurrentCalls = unverifiedConcurrentCalls;
        b.upstreamConnectTimeoutMs = upstreamConnectTimeoutMs;
        b.upstreamCallTimeoutMs = upstreamCallTimeoutMs;
        b.outlierFailures = outlierFailures;
        b.outlierEjectionMs = outlierEjectionMs;
        b.outlierEjectionMaxMs = outlierEjectionMaxMs;
        b.upstreamInFlightCalls = upstreamInFlightCalls;
        b.merchantResolver = merchantResolver;
        b.services = new ArrayList<>(services);
        b.nonIdempotentMethods = new HashSet<>(nonIdempotentMethods);
        b.metricsReaders = metricsReaders;
        return b;
    }

    /** Defaults for everything; only the upstreams must be given. */
    public static final class Builder {
        private List<UpstreamConfig> upstreams = new ArrayList<>();
        private HttpServerOptions serverOptions = new HttpServerOptions().setHost("127.0.0.1").setPort(0);
        private HttpClientOptions upstreamClientOptions = new HttpClientOptions();
        private long healthCheckIntervalMs = 250;
        private long healthCheckTimeoutMs = 500;
        private int healthCheckFailures = 2;
        private int maxMessageBytes = 32 * 1024 * 1024;
        private int holdQueueCalls = 4096;
        private long holdQueueBytes = 256L * 1024 * 1024;
        private long holdTimeMs = 15_000;
        private long retryAfterMs = 1_000;
        private long retryBackoffInitialMs = 20;
        private long retryBackoffMaxMs = 1_000;
        private int retryAttempts = 20;
        private int merchantConcurrentCalls = 256;
        private int unverifiedConcurrentCalls = 32;
        private long upstreamConnectTimeoutMs = 1_000;
        private long upstreamCallTimeoutMs = 30_000;
        private int outlierFailures = 5;
        private long outlierEjectionMs = 2_000;
        private long outlierEjectionMaxMs = 30_000;
        private int upstreamInFlightCalls = 8192;
        private MerchantResolver merchantResolver = MerchantResolver.anonymous();
        private java.util.function.Predicate<io.vertx.core.http.HttpServerRequest> metricsReaders = req -> !req.isSSL();
        private List<FileDescriptor> services = new ArrayList<>(ledgerServices());
        private Set<String> nonIdempotentMethods = new HashSet<>(LEDGER_NON_IDEMPOTENT_METHODS);

        private Builder() {}

        public Builder upstream(String region, String host, int port) {
            upstreams.add(new UpstreamConfig(region, host, port));
            return this;
        }

        public Builder upstreams(List<UpstreamConfig> all) {
            upstreams = new ArrayList<>(all);
            return this;
        }

        public Builder serverOptions(HttpServerOptions v) { serverOptions = v; return this; }
        public Builder upstreamClientOptions(HttpClientOptions v) { upstreamClientOptions = v; return this; }
        public Builder healthCheckIntervalMs(long v) { healthCheckIntervalMs = v; return this; }
        public Builder healthCheckTimeoutMs(long v) { healthCheckTimeoutMs = v; return this; }
        public Builder healthCheckFailures(int v) { healthCheckFailures = v; return this; }
        public Builder maxMessageBytes(int v) { maxMessageBytes = v; return this; }
        public Builder holdQueueCalls(int v) { holdQueueCalls = v; return this; }
        public Builder holdQueueBytes(long v) { holdQueueBytes = v; return this; }
        public Builder holdTimeMs(long v) { holdTimeMs = v; return this; }
        public Builder retryAfterMs(long v) { retryAfterMs = v; return this; }
        public Builder retryBackoffInitialMs(long v) { retryBackoffInitialMs = v; return this; }
        public Builder retryBackoffMaxMs(long v) { retryBackoffMaxMs = v; return this; }
        public Builder retryAttempts(int v) { retryAttempts = v; return this; }
        public Builder merchantConcurrentCalls(int v) { merchantConcurrentCalls = v; return this; }
        public Builder unverifiedConcurrentCalls(int v) { unverifiedConcurrentCalls = v; return this; }
        public Builder upstreamConnectTimeoutMs(long v) { upstreamConnectTimeoutMs = v; return this; }
        public Builder upstreamCallTimeoutMs(long v) { upstreamCallTimeoutMs = v; return this; }
        public Builder outlierFailures(int v) { outlierFailures = v; return this; }
        public Builder outlierEjectionMs(long v) { outlierEjectionMs = v; return this; }
        public Builder outlierEjectionMaxMs(long v) { outlierEjectionMaxMs = v; return this; }
        public Builder upstreamInFlightCalls(int v) { upstreamInFlightCalls = v; return this; }
        public Builder merchantResolver(MerchantResolver v) { merchantResolver = v; return this; }
        public Builder metricsReaders(java.util.function.Predicate<io.vertx.core.http.HttpServerRequest> v) { metricsReaders = v; return this; }

        /** Forwards the services of these proto files too (besides the ledger's). */
        public Builder addServices(FileDescriptor file) {
            services.add(file);
            return this;
        }

        public Builder nonIdempotentMethod(String fullMethodName) {
            nonIdempotentMethods.add(fullMethodName);
            return this;
        }

        public RouterConfig build() {
            return new RouterConfig(upstreams, serverOptions, upstreamClientOptions, healthCheckIntervalMs,
                    healthCheckTimeoutMs, healthCheckFailures, maxMessageBytes, holdQueueCalls, holdQueueBytes, holdTimeMs,
                    retryAfterMs, retryBackoffInitialMs, retryBackoffMaxMs, retryAttempts, merchantConcurrentCalls,
                    unverifiedConcurrentCalls,
                    upstreamConnectTimeoutMs, upstreamCallTimeoutMs, outlierFailures, outlierEjectionMs,
                    outlierEjectionMaxMs, upstreamInFlightCalls, merchantResolver, services, nonIdempotentMethods,
                    metricsReaders);
        }
    }
}
