package io.paymentledger.ledger.webhooks;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.paymentledger.ledger.Caller;
import io.paymentledger.ledger.events.Cursors;
import io.paymentledger.ledger.events.EventSource;
import io.paymentledger.ledger.events.LedgerEvent;
import io.paymentledger.ledger.events.Position;
import io.paymentledger.ledger.grpc.EventsApi;
import io.paymentledger.ledger.grpc.ReadGate;
import io.paymentledger.ledger.write.BatchWriter;
import io.paymentledger.security.secrets.SecretSealer;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.TrustOptions;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Delivers events to the registered webhook endpoints; runs on the leader only (docs/decisions/0007-webhooks.md).
 *
 * <p>A supervisor looks every {@link #SUPERVISE_MS} at whether this node leads and which endpoints are enabled. While
 * it leads, each endpoint has one worker (a virtual thread): it reads the endpoint's events through
 * {@link EventSource} as the endpoint's owner (the Access rule, its event types), keeps at most
 * {@link #BUFFER_EVENTS_MAX} of them, and delivers them one at a time in cursor order — one attempt in flight per
 * endpoint, so a slow or failing endpoint holds up only itself. A 2xx within {@link #ANSWER_BUDGET_MS} delivers; after
 * a delivery the endpoint's cursor is committed (quorum-confirmed), so the next leader goes on from there: at least
 * once, the same {@code webhook-id} on every attempt. Anything else is retried after an exponential backoff with
 * jitter; once an event has failed for {@link RetrySchedule#totalMs} the endpoint is disabled with the reason.
 * When the node stops leading (or a new term starts) every worker stops after its attempt in flight.
 */
public final class WebhookDispatcher implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(WebhookDispatcher.class.getName());

    /** An answer (status line and body) within this, or the attempt failed. */
    public static final long ANSWER_BUDGET_MS = 5_000;
    /** Events read ahead per endpoint at most: memory is bounded by endpoints × this. */
    public static final int BUFFER_EVENTS_MAX = 64;
    /** How often the supervisor checks leadership and the endpoints (and a caught-up worker looks again). */
    public static final long SUPERVISE_MS = 1_000;
    /** A caught-up worker looks for new events at most this often. */
    static final long IDLE_SCAN_MIN_MS = 50;
    /** A worker with nothing to deliver but rows skipped (others' events) records how far it got this often. */
    static final long SKIPPED_PROGRESS_MS = 5_000;
    /** Endpoints served per node at most (beyond: the oldest are served, the rest logged). */
    public static final int ENDPOINTS_MAX = 10_000;
    /** Connections to one host at most (beyond, attempts wait for one; their budget includes the wait). */
    static final int CONNECTIONS_PER_HOST = 64;
    /** Journal rows counted per endpoint for the lag gauge at most, and how often they are counted. */
    static final int LAG_COUNT_MAX = 100_000;
    static final long LAG_COUNT_EVERY_MS = 10_000;

    /**
     * Retries of one event: the n-th wait is min(maxMs, firstMs·2^(n-1)), of which a random half is jitter; after
     * {@code totalMs} of failures the endpoint is disabled. The defaults (5 s, 1 h, 3 days) follow Stripe's 3 days;
     * tests shrink them with {@code -Dledger.webhooks.retry=firstMs,maxMs,totalMs}.
     */
    public record RetrySchedule(long firstMs, long maxMs, long totalMs) {
        public static final String PROPERTY = "ledger.webhooks.retry";
        public static final RetrySchedule DEFAULT = new RetrySchedule(5_000, 3_600_000, Duration.ofDays(3).toMillis());

        public static RetrySchedule fromProperties() {
            String s = System.getProperty(PROPERTY, "");
            if (s.isEmpty()) {
                return DEFAULT;
            }
            String[] p = s.split(",");
            if (p.length != 3) {
                throw new IllegalArgumentException(PROPERTY + " must be firstMs,maxMs,totalMs, got '" + s + "'");
            }
            return new RetrySchedule(Long.parseLong(p[0].trim()), Long.parseLong(p[1].trim()), Long.parseLong(p[2].trim()));
        }

        public long delayMs(int failures) {
            long full = firstMs << Math.min(30, failures - 1);
            long capped = full <= 0 || full > maxMs ? maxMs : full;
            return capped / 2 + ThreadLocalRandom.current().nextLong(capped / 2 + 1);
        }
    }

    /** What a node needs to deliver webhooks: the key secrets are sealed with, the trust for endpoints' TLS. */
    public record Settings(SecretSealer sealer, TrustOptions trust, RetrySchedule retry, java.util.function.BooleanSupplier privateAllowed) {
        /** Endpoints' certificates are checked against this CA (PEM) instead of the JDK's public CAs (a local deployment). */
        public static final String CA_FILE_PROPERTY = "ledger.webhooks.ca-file";

        /**
         * Public CAs (the JDK's) unless {@value #CA_FILE_PROPERTY} names another; the schedule and the private-address
         * switch from system properties.
         */
        public static Settings of(SecretSealer sealer) {
            String ca = System.getProperty(CA_FILE_PROPERTY, "");
            return new Settings(sealer, ca.isEmpty() ? null : new io.vertx.core.net.PemTrustOptions().addCertPath(ca),
                    RetrySchedule.fromProperties(), WebhookUrls::privateAllowed);
        }

        public boolean allowPrivate() {
            return privateAllowed.getAsBoolean();
        }
    }

    private final Vertx vertx;
    private final WebhookStore store;
    private final EventSource source;
    private final BatchWriter writer;
    private final ReadGate control;
    private final Settings settings;
    private final HttpClient http;
    private final MeterRegistry meters;
    private final Map<String, Worker> workers = new ConcurrentHashMap<>();
    private final Map<String, Counter> results = new ConcurrentHashMap<>();
    private final Object wake = new Object();
    private volatile boolean closed;
    private long term = -1;
    private long lagCountedNanos = System.nanoTime() - TimeUnit.DAYS.toNanos(1);
    private final Thread supervisor;

    public WebhookDispatcher(Vertx vertx, WebhookStore store, EventSource source, BatchWriter writer, ReadGate control,
            Settings settings, MeterRegistry meters) {
        this.vertx = vertx;
        this.store = store;
        this.source = source;
        this.writer = writer;
        this.control = control;
        this.settings = settings;
        this.meters = meters;
        HttpClientOptions options = new HttpClientOptions().setSsl(true).setVerifyHost(true)
                .setConnectTimeout((int) ANSWER_BUDGET_MS).setSslHandshakeTimeout(ANSWER_BUDGET_MS)
                .setSslHandshakeTimeoutUnit(TimeUnit.MILLISECONDS).setKeepAlive(true).setIdleTimeout(60);
        if (settings.trust() != null) {
            options.setTrustOptions(settings.trust());
        }
        // A connection per endpoint in flight, not one per host: each worker has one attempt out at a time, and the
        // endpoints of one host (a receiving platform's many merchants) must not wait for each other in the pool's queue.
        this.http = vertx.createHttpClient(options, new PoolOptions().setHttp1MaxSize(CONNECTIONS_PER_HOST)
                .setHttp2MaxSize(CONNECTIONS_PER_HOST));
        for (String r : List.of("DELIVERED", "FAILED", "TIMEOUT", "REFUSED")) {
            results.put(r, Counter.builder("ledger_webhook_deliveries").tag("result", r.toLowerCase(java.util.Locale.ROOT))
                    .description("webhook delivery attempts by result").register(meters));
        }
        Gauge.builder("ledger_webhook_endpoints_served", workers, Map::size)
                .description("webhook endpoints this node delivers to (the leader: every enabled one)").register(meters);
        this.supervisor = Thread.ofVirtual().name("webhook-supervisor").start(this::supervise);
    }

    /** Endpoints this node is delivering to now (0 unless it leads). */
    public int served() {
        return (int) workers.values().stream().filter(w -> !w.stopped).count();
    }

    /** A batch was acknowledged: caught-up workers look for new events now. */
    public void acknowledged() {
        for (Worker w : workers.values()) {
            w.wake();
        }
    }

    /**
     * The API changed an endpoint on this node (it leads): its worker uses the new state from its next attempt on (a
     * rotated secret signs at once), or stops now when it was disabled or deleted ({@code e} null).
     */
    public void changed(String id, WebhookStore.Endpoint e) {
        Worker w = workers.get(id);
        if (w != null) {
            if (e == null || !e.enabled()) {
                w.stop("disabled or deleted");
                workers.remove(id, w);
            } else {
                w.update(e);
            }
        }
        endpointsChanged();
    }

    /** Look at the endpoints now (one was created, changed, or redelivered). */
    public void endpointsChanged() {
        synchronized (wake) {
            wake.notifyAll();
        }
    }

    private void supervise() {
        while (!closed) {
            try {
                superviseOnce();
            } catch (Exception e) {
                LOG.log(Level.WARNING, "webhooks: the supervisor's look at the endpoints failed (again in " + SUPERVISE_MS + " ms): "
                        + e.getMessage());
            }
            synchronized (wake) {
                try {
                    wake.wait(SUPERVISE_MS);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
        stopAll("dispatcher closed");
    }

    private void superviseOnce() throws SQLException {
        if (!control.leads()) {
            if (!workers.isEmpty()) {
                stopAll("this node does not lead (" + control.notLeadingReason() + ")");
            }
            term = -1;
            return;
        }
        long epoch = writer.epoch();
        if (epoch != term) {
            stopAll("a new term (epoch " + epoch + ")");
            term = epoch;
            LOG.info(() -> "webhooks: delivering as the leader of epoch " + epoch);
        }
        List<WebhookStore.Endpoint> enabled = store.enabled();
        if (enabled.size() > ENDPOINTS_MAX) {
            LOG.warning("webhooks: " + enabled.size() + " endpoints are enabled; this node serves the oldest " + ENDPOINTS_MAX);
            enabled = enabled.subList(0, ENDPOINTS_MAX);
        }
        Set<String> ids = new HashSet<>();
        for (WebhookStore.Endpoint e : enabled) {
            ids.add(e.id());
            Worker w = workers.get(e.id());
            if (w == null || w.stopped) {
                w = new Worker(e, epoch);
                workers.put(e.id(), w);
                w.start();
            } else {
                w.update(e);
            }
        }
        for (Worker w : new ArrayList<>(workers.values())) {
            if (!ids.contains(w.id) || w.stopped) {
                w.stop("disabled or deleted");
                workers.remove(w.id, w);
            }
        }
        if (System.nanoTime() - lagCountedNanos > TimeUnit.MILLISECONDS.toNanos(LAG_COUNT_EVERY_MS)) {
            // Index range counts, bounded: behind by a whole bench run they cost more than the deliveries.
            lagCountedNanos = System.nanoTime();
            for (Worker w : workers.values()) {
                w.measureLag();
            }
        }
    }

    private void stopAll(String why) {
        for (Worker w : new ArrayList<>(workers.values())) {
            w.stop(why);
            workers.remove(w.id, w);
        }
    }

    @Override
    public void close() {
        closed = true;
        endpointsChanged();
        try {
            supervisor.join(Duration.ofSeconds(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        stopAll("dispatcher closed");
        http.close();
    }

    /** What one attempt came to. */
    record Attempt(String result, int httpStatus, long latencyMs, String error) {
        boolean delivered() {
            return result.equals("DELIVERED");
        }
    }

    private static final Object GIVEN_UP = new Object();

    /**
     * One POST with the Standard Webhooks headers, answered within the budget. Blocking (a virtual thread); the exchange
     * itself runs on {@code loop}, the worker's event loop.
     */
    Attempt post(io.vertx.core.Context loop, WebhookStore.Endpoint e, List<byte[]> keys, String eventId, String body) {
        long start = System.nanoTime();
        java.net.URI uri = java.net.URI.create(e.url());
        try {
            WebhookUrls.checkAddresses(uri.getHost(), settings.allowPrivate());
        } catch (WebhookUrls.Refused r) {
            return new Attempt("REFUSED", 0, 0, r.getMessage());
        }
        long timestamp = Instant.now().getEpochSecond();
        // The request once it has a connection, or GIVEN_UP once the attempt timed out: an attempt given up on before it
        // had a connection must never go out later (the receiver would get the event while the dispatcher, having
        // counted the attempt as failed, sends it again).
        AtomicReference<Object> sent = new AtomicReference<>();
        RequestOptions request = new RequestOptions().setMethod(HttpMethod.POST).setAbsoluteURI(e.url())
                .setTimeout(ANSWER_BUDGET_MS)
                .putHeader("content-type", "application/json").putHeader("user-agent", "paymentledger-webhooks/1")
                .putHeader("webhook-id", eventId).putHeader("webhook-timestamp", Long.toString(timestamp))
                .putHeader("webhook-signature", WebhookSigning.header(keys, eventId, timestamp, body));
        // The whole exchange is put together on an event loop, never on this (virtual) thread: built here, a step whose
        // future had already completed ran on this thread, and resp.body() called from here while the event loop took
        // in the response's end lost that end — the connection went back to the pool, the answer never completed,
        // and the attempt counted as timed out although the endpoint had answered 200 (then it was sent again).
        io.vertx.core.Promise<Integer> outcome = io.vertx.core.Promise.promise();
        loop.runOnContext(v -> http.request(request).compose(req -> {
                    if (!sent.compareAndSet(null, req)) {
                        req.reset();
                        return Future.failedFuture("given up before it was sent");
                    }
                    return req.send(Buffer.buffer(body));
                }).compose(resp -> resp.body().map(ignored -> resp.statusCode())).onComplete(outcome));
        Future<Integer> answer = outcome.future();
        try {
            int status = answer.await(ANSWER_BUDGET_MS, TimeUnit.MILLISECONDS);
            long ms = (System.nanoTime() - start) / 1_000_000;
            return status >= 200 && status < 300 ? new Attempt("DELIVERED", status, ms, null)
                    : new Attempt("FAILED", status, ms, "HTTP " + status);
        } catch (TimeoutException t) {
            if (!sent.compareAndSet(null, GIVEN_UP) && sent.get() instanceof HttpClientRequest req) {
                req.reset();
            }
            return new Attempt("TIMEOUT", 0, (System.nanoTime() - start) / 1_000_000, "no answer within " + ANSWER_BUDGET_MS + " ms");
        } catch (Exception ex) {
            String message = ex.getMessage() == null ? ex.getClass().getSimpleName() : ex.getMessage();
            boolean timeout = message.contains("timeout") || message.contains("timed out");
            return new Attempt(timeout ? "TIMEOUT" : "FAILED", 0, (System.nanoTime() - start) / 1_000_000, message);
        }
    }

    /** One endpoint's deliveries in this term: one attempt at a time, in cursor order. */
    final class Worker {
        final String id;
        final long epoch;
        private volatile WebhookStore.Endpoint endpoint;
        volatile boolean stopped;
        private final Object signal = new Object();
        private boolean woken;
        private Thread thread;
        /** The oldest event not yet delivered (ledger ns; 0: none known) and where reading got to, for the gauges. */
        private volatile long headTimestampNs;
        private volatile Position scanned;
        private volatile double lagEvents;
        private final List<io.micrometer.core.instrument.Meter> gauges = new ArrayList<>();

        Worker(WebhookStore.Endpoint endpoint, long epoch) {
            this.id = endpoint.id();
            this.endpoint = endpoint;
            this.epoch = epoch;
            this.scanned = endpoint.cursor();
        }

        synchronized void start() {
            gauges.add(Gauge.builder("ledger_webhook_lag_events", this, w -> w.lagEvents).tag("endpoint", id)
                    .description("journal rows acknowledged after the endpoint's last delivered event, counted every 10 s up to 100,000 (its own events are at most this many)")
                    .register(meters));
            gauges.add(Gauge.builder("ledger_webhook_lag_seconds", this, Worker::lagSeconds).tag("endpoint", id)
                    .description("how long the oldest event not yet delivered to the endpoint has waited (0: none waits)")
                    .register(meters));
            thread = Thread.ofVirtual().name("webhook-" + id).start(this::run);
        }

        /** The supervisor's look at the endpoint; one read before a RedeliverEvents never takes the worker back. */
        synchronized void update(WebhookStore.Endpoint e) {
            WebhookStore.Endpoint current = endpoint;
            // The newest change wins (each API change sets updated_at; a supervisor's look may be older than it).
            if (e.generation() > current.generation() || (e.generation() == current.generation()
                    && !e.updatedAt().isBefore(current.updatedAt()))) {
                endpoint = e;
            }
            if (e.generation() > generation) {
                wake();
            }
        }

        void stop(String why) {
            if (!stopped) {
                stopped = true;
                LOG.fine(() -> "webhooks: endpoint " + id + " stops: " + why);
            }
            wake();
            removeGauges();
        }

        private synchronized void removeGauges() {
            for (var g : gauges) {
                meters.remove(g);
            }
            gauges.clear();
        }

        void wake() {
            synchronized (signal) {
                woken = true;
                signal.notifyAll();
            }
        }

        /** Waits until woken, stopped, or {@code ms} passed. */
        private void pause(long ms) throws InterruptedException {
            long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
            synchronized (signal) {
                while (!woken && !stopped) {
                    long left = until - System.nanoTime();
                    if (left <= 0) {
                        break;
                    }
                    TimeUnit.NANOSECONDS.timedWait(signal, left);
                }
                woken = false;
            }
        }

        double lagSeconds() {
            long h = headTimestampNs;
            return h == 0 ? 0 : Math.max(0, (System.currentTimeMillis() * 1_000_000.0 - h) / 1e9);
        }

        void measureLag() {
            try {
                Position p = persisted;
                Position from = p == null ? endpoint.cursor() : p;
                Position horizon = source.horizon();
                lagEvents = source.count(from, horizon, LAG_COUNT_MAX);
            } catch (SQLException e) {
                LOG.fine(() -> "webhooks: lag of " + id + " not measured: " + e.getMessage());
            }
        }

        private volatile long generation;
        private volatile Position persisted;

        private boolean mayGoOn() {
            return !stopped && !closed && control.leads() && writer.epoch() == epoch;
        }

        private void run() {
            try {
                // The supervisor's list may predate a delete or disable through the API.
                WebhookStore.Endpoint now = store.find(id);
                if (now == null || !now.enabled()) {
                    stopped = true;
                    removeGauges();
                    return;
                }
                update(now);
            } catch (SQLException ex) {
                stopped = true;
                removeGauges();
                return;
            }
            WebhookStore.Endpoint e = endpoint;
            // This worker's event loop (one per worker thread, spread over the node's loops), for its exchanges.
            io.vertx.core.Context loop = vertx.getOrCreateContext();
            generation = e.generation();
            persisted = e.cursor();
            Position from = e.cursor();
            ArrayDeque<LedgerEvent> buffer = new ArrayDeque<>();
            int failures = 0;
            long nextAttemptNanos = 0;
            long lastSkipSaved = System.nanoTime();
            try {
                while (mayGoOn()) {
                    e = endpoint;
                    if (e.generation() > generation) {
                        // RedeliverEvents: start again from the endpoint's new cursor.
                        generation = e.generation();
                        buffer.clear();
                        from = e.cursor();
                        persisted = from;
                        failures = 0;
                        nextAttemptNanos = 0;
                    }
                    if (buffer.isEmpty()) {
                        headTimestampNs = 0;
                        Position horizon = source.horizon();
                        EventSource.Page page = source.page(owner(e), from, horizon, new EventSource.Filter(e.types(), Set.of()),
                                BUFFER_EVENTS_MAX);
                        buffer.addAll(page.events());
                        from = page.next();
                        scanned = from;
                        if (buffer.isEmpty()) {
                            // Only others' events (or none): note how far, now and then, so a new leader need not re-read.
                            if (from.isAfter(persisted) && System.nanoTime() - lastSkipSaved > TimeUnit.MILLISECONDS.toNanos(SKIPPED_PROGRESS_MS)) {
                                if (store.advance(id, generation, from)) {
                                    persisted = from;
                                }
                                lastSkipSaved = System.nanoTime();
                            }
                            if (!horizon.isAfter(from)) {
                                // Caught up: at most one look per IDLE_SCAN_MIN_MS however often batches are
                                // acknowledged (each look scans up to 1,000 journal rows of others).
                                Thread.sleep(IDLE_SCAN_MIN_MS);
                                pause(SUPERVISE_MS);
                            }
                            continue;
                        }
                    }
                    LedgerEvent event = buffer.peek();
                    headTimestampNs = event.timestampNs();
                    long wait = nextAttemptNanos - System.nanoTime();
                    if (wait > 0) {
                        pause(TimeUnit.NANOSECONDS.toMillis(wait) + 1);
                        continue;
                    }
                    // The endpoint as the API last changed it (changed()): a rotation, a new URL, a replay applies here.
                    e = endpoint;
                    if (stopped) {
                        return;
                    }
                    if (e.generation() > generation) {
                        continue;
                    }
                    Cursors cursors = source.cursors();
                    String eventId = event.id(cursors.cell());
                    String cursor = cursors.encode(event.position());
                    String body = WebhookPayload.json(EventsApi.proto(owner(e), cursors, event));
                    Instant now = Instant.now();
                    List<byte[]> keys = e.activeSecrets(now).stream()
                            .map(s -> WebhookSigning.key(new String(settings.sealer().open(s.sealed(), id), java.nio.charset.StandardCharsets.UTF_8)))
                            .toList();
                    Attempt a = post(loop, e, keys, eventId, body);
                    int attempt = failures + 1;
                    failures = a.delivered() ? 0 : attempt;
                    results.get(a.result()).increment();
                    WebhookStore.Delivery logged = new WebhookStore.Delivery(eventId, cursor, attempt, a.result(), a.httpStatus(),
                            a.latencyMs(), a.error(), now);
                    if (a.delivered()) {
                        buffer.poll();
                        if (store.delivered(id, generation, event.position(), logged)) {
                            persisted = event.position();
                        }
                        nextAttemptNanos = 0;
                        continue;
                    }
                    Instant since = store.failed(id, generation, logged);
                    if (since != null && Duration.between(since, now).toMillis() >= settings.retry().totalMs()) {
                        String reason = "event " + eventId + " was not delivered for " + Duration.between(since, now).toSeconds()
                                + " s (" + failures + " attempts here; last: " + a.error() + "); disabled at " + now
                                + "; UpdateWebhookEndpoint enabled=true delivers it again";
                        store.disable(id, generation, reason);
                        LOG.warning("webhooks: endpoint " + id + " disabled: " + reason);
                        stopped = true;
                        endpointsChanged();
                        return;
                    }
                    long delay = settings.retry().delayMs(failures);
                    nextAttemptNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delay);
                    String err = a.error();
                    int n = failures;
                    LOG.fine(() -> "webhooks: endpoint " + id + " attempt " + n + " of " + eventId + " failed (" + err + "); again in "
                            + delay + " ms");
                }
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            } catch (Exception ex) {
                // The database or leadership went away mid-way: the supervisor starts a new worker from the stored cursor.
                LOG.log(Level.WARNING, "webhooks: endpoint " + id + " stops (a new worker resumes from its stored cursor): " + ex);
            } finally {
                stopped = true;
                headTimestampNs = 0;
                removeGauges();
            }
        }
    }

    static Caller owner(WebhookStore.Endpoint e) {
        return e.owner().isEmpty() ? Caller.OPERATOR : Caller.merchant(e.owner());
    }
}
