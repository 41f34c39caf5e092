package io.paymentledger.cli.deploy;

import io.paymentledger.ledger.grpc.CallerResolver;
import io.paymentledger.ledger.node.LedgerNode;
import io.paymentledger.ledger.node.StandaloneControl;
import io.paymentledger.ledger.store.Database;
import io.paymentledger.ledger.write.BatchWriter;
import io.paymentledger.replication.postgres.PgCluster;
import io.vertx.core.http.HttpServerOptions;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;

/** The body of a ledger node process of the local deployment (`ledger node --region a`). */
public final class NodeProcess {

    private NodeProcess() {}

    public static void run(Topology t, String regionName) throws InterruptedException {
        Topology.Region region = t.region(regionName);
        Properties db = new Properties();
        db.setProperty("user", PgCluster.SUPERUSER);
        Database database = new Database("jdbc:postgresql://127.0.0.1:" + region.pgPort() + "/ledger", db, 16);
        LedgerNode node = LedgerNode.start(new LedgerNode.Config(regionName,
                new HttpServerOptions().setHost("127.0.0.1").setPort(region.grpcPort()), database, 16,
                BatchWriter.Config.defaults()), new StandaloneControl(), CallerResolver.TRUST_ALL_AS_OPERATOR);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            node.close();
            stopped.countDown();
        }, "node-shutdown"));
        stopped.await();
    }
}
