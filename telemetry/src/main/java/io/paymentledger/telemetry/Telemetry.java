package io.paymentledger.telemetry;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.context.propagation.TextMapSetter;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import io.vertx.core.MultiMap;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Tracing for one process: W3C {@code traceparent} in and out of gRPC metadata, spans exported over OTLP/HTTP when
 * an endpoint is configured ({@value #ENDPOINT_PROPERTY} system property, else the standard
 * {@code OTEL_EXPORTER_OTLP_ENDPOINT} environment variable, e.g. {@code http://127.0.0.1:4318}). Without one, every
 * method is a no-op that costs a field read: no span is created, nothing is recorded.
 *
 * <p>Sampling follows the caller: a {@code traceparent} marked sampled is always traced; a call without one is
 * traced at {@value #ROOT_SAMPLE_RATIO_DEFAULT} unless {@value #RATIO_PROPERTY} says otherwise.
 */
public final class Telemetry implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(Telemetry.class.getName());

    public static final String ENDPOINT_PROPERTY = "otel.exporter.otlp.endpoint";
    public static final String ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT";
    public static final String RATIO_PROPERTY = "ledger.trace.sample.ratio";
    /** Calls that arrive without a trace: one in a hundred starts one (the sampled ones of callers are all kept). */
    public static final double ROOT_SAMPLE_RATIO_DEFAULT = 0.01;
    /** Spans wait at most this long in memory before they are sent. */
    private static final long EXPORT_DELAY_MS = 500;
    /** Spans kept in memory while the collector is slow; past it new ones are dropped, never the calls. */
    private static final int EXPORT_QUEUE_MAX = 8_192;
    private static final long EXPORT_TIMEOUT_MS = 5_000;
    private static final long SHUTDOWN_FLUSH_MS = 2_000;

    public static final AttributeKey<String> REQUEST_ID = AttributeKey.stringKey("ledger.request_id");
    public static final AttributeKey<Long> GRPC_STATUS = AttributeKey.longKey("rpc.grpc.status_code");

    private static final TextMapPropagator W3C = W3CTraceContextPropagator.getInstance();
    private static final TextMapGetter<MultiMap> GETTER = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(MultiMap carrier) {
            return carrier.names();
        }

        @Override
        public String get(MultiMap carrier, String key) {
            return carrier == null ? null : carrier.get(key);
        }
    };
    private static final TextMapSetter<MultiMap> SETTER = (carrier, key, value) -> {
        if (carrier != null) {
            carrier.set(key, value);
        }
    };

    private final OpenTelemetrySdk sdk;
    private final Tracer tracer;
    private final String endpoint;
    /** System.nanoTime() and the wall clock at one instant: stage times measured with nanoTime become span times. */
    private final long anchorNanoTime;
    private final long anchorEpochNanos;

    private Telemetry(String serviceName, String endpoint, double rootRatio) {
        this.endpoint = endpoint;
        this.anchorEpochNanos = TimeUnit.MILLISECONDS.toNanos(System.currentTimeMillis());
        this.anchorNanoTime = System.nanoTime();
        if (endpoint == null) {
            this.sdk = null;
            this.tracer = OpenTelemetry.noop().getTracer("io.paymentledger");
            return;
        }
        String url = endpoint.endsWith("/v1/traces") ? endpoint : endpoint.replaceAll("/+$", "") + "/v1/traces";
        OtlpHttpSpanExporter exporter = OtlpHttpSpanExporter.builder().setEndpoint(url)
                .setTimeout(Duration.ofMillis(EXPORT_TIMEOUT_MS)).build();
        SdkTracerProvider provider = SdkTracerProvider.builder()
                .setResource(Resource.getDefault().merge(Resource.create(
                        Attributes.of(AttributeKey.stringKey("service.name"), serviceName))))
                .setSampler(Sampler.parentBased(Sampler.traceIdRatioBased(rootRatio)))
                .addSpanProcessor(BatchSpanProcessor.builder(exporter).setScheduleDelay(Duration.ofMillis(EXPORT_DELAY_MS))
                        .setMaxQueueSize(EXPORT_QUEUE_MAX).build())
                .build();
        this.sdk = OpenTelemetrySdk.builder().setTracerProvider(provider).build();
        this.tracer = sdk.getTracer("io.paymentledger");
        LOG.info(() -> "tracing: " + serviceName + " exports spans over OTLP to " + url + " (calls without a traceparent"
                + " sampled at " + rootRatio + ")");
    }

    /** Tracing as configured for this process (see the class comment). */
    public static Telemetry fromEnvironment(String serviceName) {
        String endpoint = System.getProperty(ENDPOINT_PROPERTY);
        if (endpoint == null || endpoint.isBlank()) {
            endpoint = System.getenv(ENDPOINT_ENV);
        }
        double ratio = ROOT_SAMPLE_RATIO_DEFAULT;
        String r = System.getProperty(RATIO_PROPERTY);
        if (r != null) {
            ratio = Double.parseDouble(r);
            if (!(ratio >= 0 && ratio <= 1)) {
                throw new IllegalArgumentException(RATIO_PROPERTY + " must be within 0..1, got " + r);
            }
        }
        return new Telemetry(serviceName, endpoint == null || endpoint.isBlank() ? null : endpoint.trim(), ratio);
    }

    /** No tracing at all. */
    public static Telemetry disabled() {
        return new Telemetry("none", null, 0);
    }

    public boolean enabled() {
        return sdk != null;
    }

    /** Where spans go, or null. */
    public String endpoint() {
        return endpoint;
    }

    /** The caller's trace context from gRPC metadata ({@code traceparent}, {@code tracestate}); root when none. */
    public Context extract(MultiMap headers) {
        if (sdk == null) {
            return Context.root();
        }
        return W3C.extract(Context.root(), headers, GETTER);
    }

    /** Writes {@code context}'s span as the {@code traceparent} of an outgoing call (replacing the caller's). */
    public void inject(Context context, MultiMap headers) {
        if (sdk != null) {
            W3C.inject(context, headers, SETTER);
        }
    }

    /** A span for a call this process serves, child of the caller's context. Call {@link #end} when answered. */
    public Span serverSpan(String name, Context parent, String requestId) {
        if (sdk == null) {
            return Span.getInvalid();
        }
        return tracer.spanBuilder(name).setParent(parent).setSpanKind(SpanKind.SERVER)
                .setAttribute(REQUEST_ID, requestId).startSpan();
    }

    /** Ends a call's span with its gRPC status code (0 = OK). */
    public static void end(Span span, int grpcStatus, String message) {
        if (!span.isRecording()) {
            return;
        }
        span.setAttribute(GRPC_STATUS, (long) grpcStatus);
        if (grpcStatus != 0) {
            span.setStatus(StatusCode.ERROR, message == null ? "" : message);
        }
        span.end();
    }

    /**
     * A finished child span of {@code parent} whose start and end were measured on the {@link System#nanoTime()}
     * scale (the writer's stages: queue wait, apply, commit).
     */
    public void stage(Span parent, String name, long startNanoTime, long endNanoTime, Attributes attributes) {
        if (sdk == null || !parent.isRecording()) {
            return;
        }
        tracer.spanBuilder(name).setParent(Context.root().with(parent)).setSpanKind(SpanKind.INTERNAL)
                .setStartTimestamp(epochNanos(startNanoTime), TimeUnit.NANOSECONDS).setAllAttributes(attributes)
                .startSpan().end(epochNanos(endNanoTime), TimeUnit.NANOSECONDS);
    }

    private long epochNanos(long nanoTime) {
        return anchorEpochNanos + (nanoTime - anchorNanoTime);
    }

    /** For log lines: "trace <id>" of a recording span, else "". */
    public static String logTag(Span span) {
        SpanContext c = span.getSpanContext();
        return c.isValid() ? " trace " + c.getTraceId() : "";
    }

    /** Sends what is buffered and stops the exporter. */
    @Override
    public void close() {
        if (sdk != null) {
            sdk.getSdkTracerProvider().shutdown().join(SHUTDOWN_FLUSH_MS, TimeUnit.MILLISECONDS);
        }
    }
}
