package io.paymentledger.ledger.support;

import io.paymentledger.api.v1.LedgerServiceGrpcClient;
import io.paymentledger.api.v1.NodeServiceGrpcClient;
import io.paymentledger.api.v1.PaymentsServiceGrpcClient;
import io.paymentledger.ledger.grpc.CallerResolver;
import io.paymentledger.ledger.node.LedgerNode;
import io.paymentledger.ledger.node.NodeControl;
import io.paymentledger.ledger.node.StandaloneControl;
import io.paymentledger.ledger.store.Database;
import io.paymentledger.ledger.write.BatchWriter;
import io.paymentledger.replication.postgres.PgCluster;
import io.paymentledger.replication.postgres.TestPostgres;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientOptions;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Properties;

/**
 * A real ledger node on a real PostgreSQL (started for the test class), with gRPC clients on plaintext loopback.
 */
public final class TestLedger implements AutoCloseable {

    public final PgCluster postgres;
    public final LedgerNode node;
    public final Vertx clientVertx;
    public final GrpcClient grpc;
    public final LedgerServiceGrpcClient ledger;
    public final PaymentsServiceGrpcClient payments;
    public final NodeServiceGrpcClient nodeService;
    public final SocketAddress address;

    private TestLedger(PgCluster postgres, LedgerNode node) {
        this.postgres = postgres;
        this.node = node;
        this.clientVertx = Vertx.vertx();
        this.grpc = newClient(clientVertx);
        this.address = SocketAddress.inetSocketAddress(node.grpcPort(), "127.0.0.1");
        this.ledger = LedgerServiceGrpcClient.create(grpc, address);
        this.payments = PaymentsServiceGrpcClient.create(grpc, address);
        this.nodeService = NodeServiceGrpcClient.create(grpc, address);
    }

    public static GrpcClient newClient(Vertx vertx) {
        return GrpcClient.client(vertx, new GrpcClientOptions().setMaxMessageSize(64 * 1024 * 1024),
                new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2).setHttp2ClearTextUpgrade(false));
    }

    public static TestLedger start() {
        return start(BatchWriter.Config.defaults(), new StandaloneControl());
    }

    public static TestLedger start(BatchWriter.Config writer, NodeControl control) {
        return start(writer, control, CallerResolver.TRUST_ALL_AS_OPERATOR);
    }

    /**
     * A node whose callers name themselves in {@value #TEST_MERCHANT_HEADER} (no header: the operator). Only on
     * plaintext loopback in tests: it lets one test act as several merchants against the real authorisation rules.
     */
    public static TestLedger startWithMerchants() {
        return start(BatchWriter.Config.defaults(), new StandaloneControl(), MERCHANT_HEADER);
    }

    /** As {@link #startWithMerchants()}, delivering webhooks with {@code webhooks}. */
    public static TestLedger startWithMerchants(io.paymentledger.ledger.webhooks.WebhookDispatcher.Settings webhooks) {
        PgCluster pg = TestPostgres.startPrimary("core", "ledger");
        LedgerNode node = LedgerNode.start(new LedgerNode.Config("a", new HttpServerOptions().setHost("127.0.0.1").setPort(0),
                database(pg), 8, BatchWriter.Config.defaults(), null, webhooks), new StandaloneControl(), MERCHANT_HEADER);
        return new TestLedger(pg, node);
    }

    /** Callers named by {@value #TEST_MERCHANT_HEADER} (none: the operator). */
    public static final CallerResolver MERCHANT_HEADER = request -> {
        String merchant = request.headers().get(TestLedger.TEST_MERCHANT_HEADER);
        return io.vertx.core.Future.succeededFuture(merchant == null ? io.paymentledger.ledger.Caller.OPERATOR
                : io.paymentledger.ledger.Caller.merchant(merchant));
    };

    public static final String TEST_MERCHANT_HEADER = "x-test-merchant";

    static TestLedger start(BatchWriter.Config writer, NodeControl control, CallerResolver callers) {
        return start(new HttpServerOptions().setHost("127.0.0.1").setPort(0), writer, control, callers);
    }

    /**
     * A node serving {@code server} (e.g. mutual TLS from {@code Tls.serverOptions}) whose callers {@code callers}
     * decides; the plaintext clients of this object cannot reach it: make your own with the right certificate.
     */
    public static TestLedger start(HttpServerOptions server, CallerResolver callers) {
        return start(server, BatchWriter.Config.defaults(), new StandaloneControl(), callers);
    }

    private static TestLedger start(HttpServerOptions server, BatchWriter.Config writer, NodeControl control, CallerResolver callers) {
        PgCluster pg = TestPostgres.startPrimary("core", "ledger");
        LedgerNode node = LedgerNode.start(new LedgerNode.Config("a", server, database(pg), 8, writer), control, callers);
        return new TestLedger(pg, node);
    }

    /** One unary call as {@code merchant} (null: the operator); the response, or the failed status. */
    public <Req extends com.google.protobuf.Message, Resp> Answer<Resp> as(String merchant,
            io.vertx.grpc.common.ServiceMethod<Resp, Req> method, Req request) {
        return grpc.request(address, method).compose(req -> {
            if (merchant != null) {
                req.headers().set(TEST_MERCHANT_HEADER, merchant);
            }
            req.end(request);
            return req.response().compose(resp -> resp.last().map(body -> new Answer<>(io.vertx.grpc.common.GrpcStatus.OK, "", body))
                    .recover(e -> io.vertx.core.Future.succeededFuture(new Answer<Resp>(resp.status(), resp.statusMessage(), null))));
        }).await();
    }

    /** A call's outcome: its status, message, and body when OK. */
    public record Answer<T>(io.vertx.grpc.common.GrpcStatus status, String message, T body) {}

    public static Database database(PgCluster pg) {
        Properties p = new Properties();
        p.setProperty("user", PgCluster.SUPERUSER);
        return new Database(pg.jdbcUrl("ledger"), p, 8);
    }

    /**
     * Waits (20 s at most) until {@code countSql} (a {@code select count(*) ...}, e.g. on pg_stat_activity) answers
     * {@code expected}; fails with {@code failure} otherwise.
     */
    public void awaitCount(String countSql, long expected, String failure) throws Exception {
        long until = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < until) {
            try (Connection c = sql()) {
                if (LedgerAssertions.count(c, countSql) == expected) {
                    return;
                }
            }
            Thread.sleep(20);
        }
        throw new AssertionError(failure);
    }

    /** A superuser connection to the ledger database, for checks the API does not offer. */
    public Connection sql() throws SQLException {
        return postgres.connect("ledger");
    }

    @Override
    public void close() {
        grpc.close().await();
        clientVertx.close().await();
        node.close();
        TestPostgres.destroy(postgres);
    }
}
