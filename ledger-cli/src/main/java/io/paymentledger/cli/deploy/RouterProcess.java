package io.paymentledger.cli.deploy;

import io.paymentledger.router.RegionRouter;
import io.paymentledger.router.RouterConfig;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerOptions;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Logger;

/** The region router of the local deployment (`ledger router`): the one address merchants use. */
public final class RouterProcess {

    private static final Logger LOG = Logger.getLogger(RouterProcess.class.getName());

    private RouterProcess() {}

    public static RouterConfig config(Topology t) {
        RouterConfig.Builder b = RouterConfig.builder()
                .serverOptions(new HttpServerOptions().setHost("127.0.0.1").setPort(t.routerPort()));
        for (Topology.Region r : t.regions().values()) {
            b.upstream(r.name(), "127.0.0.1", r.grpcPort());
        }
        return b.build();
    }

    public static void run(Topology t) throws InterruptedException {
        Vertx vertx = Vertx.vertx();
        RegionRouter router = RegionRouter.start(vertx, config(t));
        LOG.info(() -> "router: listening on 127.0.0.1:" + router.port());
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            router.close();
            vertx.close().await();
            stopped.countDown();
        }, "router-shutdown"));
        stopped.await();
    }
}
