package io.paymentledger.router.support;

import io.paymentledger.ledger.support.TestLedger;
import io.paymentledger.router.RegionRouter;
import io.vertx.core.Vertx;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** A Vert.x, a client and (set by the test) the router under test, closed after each test. */
public abstract class RouterFixture {

    protected Vertx vertx;
    protected GrpcClient client;
    protected RegionRouter router;

    @BeforeEach
    void startClient() {
        vertx = Vertx.vertx();
        client = TestLedger.newClient(vertx);
    }

    @AfterEach
    void stopRouter() {
        if (router != null) {
            router.close();
        }
        vertx.close().await();
    }

    /** The router's merchant address. */
    protected SocketAddress via() {
        return SocketAddress.inetSocketAddress(router.port(), "127.0.0.1");
    }
}
