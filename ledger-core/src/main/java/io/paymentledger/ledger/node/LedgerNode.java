package io.paymentledger.ledger.node;

import static io.paymentledger.db.Tables.LEADERSHIP;

import io.paymentledger.ledger.Limits;
import io.paymentledger.ledger.grpc.Blocking;
import io.paymentledger.ledger.grpc.CallerResolver;
import io.paymentledger.ledger.grpc.LedgerApi;
import io.paymentledger.ledger.grpc.NodeApi;
import io.paymentledger.ledger.grpc.PaymentsApi;
import io.paymentledger.ledger.grpc.Unary;
import io.paymentledger.ledger.read.LedgerReader;
import io.paymentledger.ledger.store.Database;
import io.paymentledger.ledger.webhooks.WebhookDispatcher;
import io.paymentledger.ledger.webhooks.WebhookStore;
import io.paymentledger.ledger.webhooks.Webhooks;
import io.paymentledger.ledger.write.BatchWriter;
import io.paymentledger.telemetry.metrics.ProcessMetrics;
import io.paymentledger.telemetry.metrics.RequestMetrics;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.GrpcServerOptions;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.logging.Logger;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

/**
 * One ledger node: its database, its single writer, its readers and its gRPC server. Whether it leads is
 * up to its {@link NodeControl}.
 */
public final class LedgerNode implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(LedgerNode.class.getName());

    /**
     * @param serverOptions  where and how to listen (host 127.0.0.1, port, TLS); the port may be 0
     * @param readPoolMax    read connections at most
     */
    /**
     * @param webhooks the key webhook secrets are sealed with and the trust for endpoints' TLS; null: no webhooks
     *                 (the API answers FAILED_PRECONDITION)
     */
    public record Config(String region, HttpServerOptions serverOptions, Database database, int readPoolMax,
            BatchWriter.Config writer, io.paymentledger.ledger.auth.ApiKeyStore apiKeys, WebhookDispatcher.Settings webhooks) {

        public Config(String region, HttpServerOptions serverOptions, Database database, int readPoolMax, BatchWriter.Config writer) {
            this(region, serverOptions, database, readPoolMax, writer, null, null);
        }

        public Config(String region, HttpServerOptions serverOptions, Database database, int readPoolMax, BatchWriter.Config writer,
                io.paymentledger.ledger.auth.ApiKeyStore apiKeys) {
            this(region, serverOptions, database, readPoolMax, writer, apiKeys, null);
        }
    }

    /**
     * gRPC server verticles: one per core, each with its own event loop (Vert.x shares the listening socket and
     * spreads connections over them). On one event loop, TLS, HTTP/2 and protobuf of every call queued behind one
     * thread while the other core idled.
     */
    static final int SERVER_INSTANCES = Math.max(2, Runtime.getRuntime().availableProcessors());

    private final Config config;
    private final Vertx vertx;
    private final Database database;
    private final BatchWriter writer;
    private final LedgerReader reader;
    private final Blocking blocking;
    /** Spans of the calls this node serves (no-op unless an OTLP endpoint is configured). */
    private final io.paymentledger.telemetry.Telemetry telemetry;
    private final io.paymentledger.ledger.grpc.WriteTracing writes;
    private final NodeControl control;
    private final CallerResolver callers;
    private final java.util.List<HttpServer> httpServers = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final int port;
    private volatile java.util.function.Supplier<String> secretsHealth = () -> "LIVE: no secret store configured";
    private final ProcessMetrics metrics;
    private final RequestMetrics requests;
    private final io.paymentledger.ledger.events.EventSource events;
    private final io.paymentledger.ledger.grpc.EventsApi.Subscriptions subscriptions = new io.paymentledger.ledger.grpc.EventsApi.Subscriptions();
    private final Webhooks webhooks;

    private LedgerNode(Config config, NodeControl control, CallerResolver callers) {
        this.config = config;
        this.control = control;
        this.callers = callers;
        this.database = config.database();
        this.vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(SERVER_INSTANCES).setPreferNativeTransport(true));
        this.metrics = new ProcessMetrics("node-" + config.region(), "region", config.region());
        this.requests = new RequestMetrics(metrics.registry(), "ledger_request", "gRPC calls this node answered, by method and status");
        this.writer = new BatchWriter(database, config.region(), config.writer(), LedgerNode::wallClockNanos,
                (reason, cause) -> control.onWriteFault(reason), metrics.registry());
        Metrics state = new Metrics(metrics, control, writer, () -> secretsHealth.get());
        metrics.beforeScrape(state::refresh);
        this.reader = new LedgerReader(database);
        this.events = new io.paymentledger.ledger.events.EventSource(database, writer, config.region(), cellName(),
                config.writer().bounds().sessionLimits());
        WebhookStore webhookStore = new WebhookStore(database, config.region(), config.writer().bounds().sessionLimits());
        this.webhooks = new Webhooks(webhookStore, config.webhooks() == null ? null : new WebhookDispatcher(vertx, webhookStore, events,
                writer, control, config.webhooks(), metrics.registry()), config.webhooks());
        writer.onAcknowledged(() -> {
            var ack = writer.acknowledged();
            subscriptions.acknowledged(ack == null ? 0 : ack.lastTimestampNs());
            if (webhooks.dispatcher() != null) {
                webhooks.dispatcher().acknowledged();
            }
        });
        subscriptions.register(metrics.registry());
        this.telemetry = io.paymentledger.telemetry.Telemetry.fromEnvironment("ledger-node-" + config.region());
        this.writes = new io.paymentledger.ledger.grpc.WriteTracing(writer, telemetry);
        this.blocking = new Blocking(vertx);
        // Instances of one deployment share the listening socket of an explicit port (with port 0 each would get its
        // own): a port asked as 0 (tests) is chosen free first.
        HttpServerOptions options = new HttpServerOptions(config.serverOptions());
        if (options.getPort() == 0) {
            options.setPort(freePort(options.getHost()));
        }
        vertx.deployVerticle(() -> new ServerVerticle(options), new io.vertx.core.DeploymentOptions()
                .setInstances(SERVER_INSTANCES)).await();
        this.port = httpServers.get(0).actualPort();
        for (HttpServer s : httpServers) {
            if (s.actualPort() != port) {
                throw new IllegalStateException("gRPC server instances listen on different ports: " + port + ", " + s.actualPort());
            }
        }
        LOG.info(() -> "node " + config.region() + ": gRPC on " + grpcAddress() + " (" + SERVER_INSTANCES + " event loops, "
                + (vertx.isNativeTransportEnabled() ? "epoll" : "NIO") + ", TLS engine "
                + (!config.serverOptions().isSsl() ? "none" : config.serverOptions().getSslEngineOptions() instanceof
                        io.vertx.core.net.OpenSSLEngineOptions ? "OpenSSL" : "JDK") + ")");
        control.start(this);
    }

    private static int freePort(String host) {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName(host))) {
            return s.getLocalPort();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("no free port on " + host, e);
        }
    }

    /** One event loop's gRPC server: the ledger's services and /metrics, on the shared port. */
    private final class ServerVerticle extends io.vertx.core.VerticleBase {
        private final HttpServerOptions options;

        ServerVerticle(HttpServerOptions options) {
            this.options = options;
        }

        @Override
        public io.vertx.core.Future<?> start() {
            GrpcServer grpc = GrpcServer.server(vertx, new GrpcServerOptions()
                    .setMaxMessageSize(Limits.MESSAGE_BYTES_MAX).setScheduleDeadlineAutomatically(true));
            Unary unary = new Unary(grpc, callers, requests, telemetry);
            new LedgerApi(writes, reader, control, blocking).bind(unary);
            new PaymentsApi(writes, reader, control, blocking).bind(unary);
            new NodeApi(control, config.apiKeys(), blocking).bind(vertx, grpc, unary);
            new io.paymentledger.ledger.grpc.EventsApi(events, control, blocking, callers, subscriptions).bind(grpc, unary);
            new io.paymentledger.ledger.grpc.WebhooksApi(webhooks, events, control, blocking).bind(unary);
            return vertx.createHttpServer(options).requestHandler(req -> {
                if (!metrics.handle(req, callers::mayReadMetrics)) {
                    grpc.handle(req);
                }
            }).listen().onSuccess(httpServers::add);
        }
    }

    /** Starts a node: listens, then hands over to {@code control} (which migrates the schema before leading). */
    public static LedgerNode start(Config config, NodeControl control, CallerResolver callers) {
        return new LedgerNode(config, control, callers);
    }

    /**
     * The name event ids and cursors carry ({@code -Dledger.cell}); used only by the first leader that serves events,
     * which stores it in the database for good. Without one, a random name, unique enough to merge cells' streams.
     */
    static String cellName() {
        String name = System.getProperty("ledger.cell", "");
        if (name.isEmpty()) {
            return "cell-" + java.util.HexFormat.of().formatHex(java.nio.ByteBuffer.allocate(4)
                    .putInt(new java.security.SecureRandom().nextInt()).array());
        }
        if (!io.paymentledger.ledger.validation.Ids.isValid(name) || name.contains(":")) {
            throw new IllegalArgumentException("ledger.cell must be 1..64 of [A-Za-z0-9._-], got '" + name + "'");
        }
        return name;
    }

    public io.paymentledger.ledger.events.EventSource events() {
        return events;
    }

    /** Webhook endpoints and their dispatcher (null when the node has no sealing key). */
    public Webhooks webhooks() {
        return webhooks;
    }

    /** The event streams open on this node (count, lag). */
    public io.paymentledger.ledger.grpc.EventsApi.Subscriptions eventStreams() {
        return subscriptions;
    }

    static long wallClockNanos() {
        return io.paymentledger.replication.time.SteadyClock.wallClockNanos();
    }

    public String region() {
        return config.region();
    }

    public int grpcPort() {
        return port;
    }

    public String grpcAddress() {
        return config.serverOptions().getHost() + ":" + grpcPort();
    }

    public BatchWriter writer() {
        return writer;
    }

    public LedgerReader reader() {
        return reader;
    }

    public Database database() {
        return database;
    }

    public Vertx vertx() {
        return vertx;
    }

    public NodeControl control() {
        return control;
    }

    /** This node's metrics (served at /metrics on its gRPC port); the process adds its certificates' expiry. */
    public ProcessMetrics metrics() {
        return metrics;
    }

    /** Where the secrets health (in /metrics) comes from, e.g. the secret store's {@code health()}. */
    public void secretsHealth(java.util.function.Supplier<String> health) {
        this.secretsHealth = health;
    }

    /** Replaces the TLS material for new connections (certificate renewal, new CRL). */
    public io.vertx.core.Future<Boolean> updateSsl(io.vertx.core.net.ServerSSLOptions options) {
        List<io.vertx.core.Future<Boolean>> updates = new java.util.ArrayList<>();
        for (HttpServer server : httpServers) {
            updates.add(server.updateSSLOptions(options, true));
        }
        return io.vertx.core.Future.all(updates).map(all -> updates.stream().allMatch(io.vertx.core.Future::result));
    }

    /** Brings the schema up to date (on a primary database only). */
    public void migrateSchema() {
        String schema = database.migrate();
        LOG.info(() -> "node " + region() + ": schema at version " + schema);
    }

    /** Raises the stored epoch by one for this region and returns it (standalone start-up). */
    public long claimNextEpoch() {
        try (Connection c = database.connect("ledger-epoch-" + region())) {
            DSLContext dsl = DSL.using(c, org.jooq.SQLDialect.POSTGRES, Database.SETTINGS);
            return dsl.update(LEADERSHIP).set(LEADERSHIP.EPOCH, LEADERSHIP.EPOCH.plus(1)).set(LEADERSHIP.REGION, region())
                    .set(LEADERSHIP.CHANGED_AT, DSL.currentOffsetDateTime())
                    .returning(LEADERSHIP.EPOCH).fetchOne(LEADERSHIP.EPOCH);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot claim an epoch in the database: " + e.getMessage(), e);
        }
    }

    /**
     * Stores {@code epoch} as the database's fencing token when it is higher than the stored one; returns
     * false (and changes nothing) when the database already has this epoch or a higher one.
     */
    public boolean claimEpoch(long epoch) throws SQLException {
        try (Connection c = openEpochSession()) {
            return claimEpoch(c, epoch);
        }
    }

    /**
     * A session for {@link #claimEpoch(Connection, long)}, bounded like the writer's sessions (issue #18): a takeover
     * must never wait without end while it holds the leader lock. A session holding the leadership row (a stuck admin
     * transaction, the writer_stall drill) made the claim wait for good; now it fails after the lock timeout and the
     * agent gives the lock back. It may be opened on the standby before its promotion: a transaction started after
     * the promotion may write.
     */
    public Connection openEpochSession() throws SQLException {
        return database.connect("ledger-epoch-" + region(), config.writer().bounds().sessionLimits());
    }

    /** As {@link #claimEpoch(long)}, on {@code c} (from {@link #openEpochSession}); the caller closes it. */
    public boolean claimEpoch(Connection c, long epoch) throws SQLException {
        c.setAutoCommit(false);
        DSLContext dsl = DSL.using(c, org.jooq.SQLDialect.POSTGRES, Database.SETTINGS);
        // The claim itself need not wait for the standby (the term's first batch does, and a later leader
        // takes a higher epoch anyway); waiting here could block the failover agent on a missing standby.
        dsl.execute("set local synchronous_commit = local");
        boolean claimed = dsl.update(LEADERSHIP).set(LEADERSHIP.EPOCH, epoch).set(LEADERSHIP.REGION, region())
                .set(LEADERSHIP.CHANGED_AT, DSL.currentOffsetDateTime())
                .where(LEADERSHIP.EPOCH.lt(epoch)).execute() == 1;
        c.commit();
        return claimed;
    }

    @Override
    public void close() {
        control.stop();
        if (webhooks.dispatcher() != null) {
            webhooks.dispatcher().close();
        }
        webhooks.store().close();
        writer.close();
        for (HttpServer server : httpServers) {
            try {
                server.close().await();
            } catch (RuntimeException e) {
                LOG.warning(() -> "closing the gRPC server: " + e.getMessage());
            }
        }
        blocking.close();
        vertx.close().await();
        telemetry.close();
        database.close();
    }
}
