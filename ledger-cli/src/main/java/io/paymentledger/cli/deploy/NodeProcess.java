package io.paymentledger.cli.deploy;

import io.paymentledger.ledger.grpc.CallerResolver;
import io.paymentledger.ledger.node.LedgerNode;
import io.paymentledger.ledger.node.ReplicatedControl;
import io.paymentledger.ledger.store.Database;
import io.paymentledger.ledger.write.BatchWriter;
import io.paymentledger.replication.coordinator.HazelcastCoordinator;
import io.paymentledger.replication.failover.FailoverAgent;
import io.paymentledger.replication.failover.FailoverStateMachine;
import io.paymentledger.replication.postgres.PgCluster;
import io.vertx.core.http.HttpServerOptions;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Logger;

/**
 * The body of a ledger node process of the local deployment (`ledger node --region a`): the region's
 * Hazelcast CP member, its failover agent, and the ledger node itself.
 */
public final class NodeProcess {

    private static final Logger LOG = Logger.getLogger(NodeProcess.class.getName());

    private NodeProcess() {}

    public static void run(Topology t, String regionName, FailoverStateMachine.SyncLossPolicy policy) throws InterruptedException {
        Topology.Region region = t.region(regionName);
        Map<String, PgCluster> databases = new LinkedHashMap<>();
        for (Topology.Region r : t.regions().values()) {
            databases.put(r.name(), new PgCluster(PgCluster.Options.of(r.name(), r.pgDir(), r.pgPort())));
        }
        HazelcastCoordinator coordinator = HazelcastCoordinator.start(Coordination.settings(t, regionName, region.hazelcastPort()));
        ReplicatedControl control = new ReplicatedControl(new FailoverAgent.Config(regionName, databases, Coordination.TICK_MS,
                Coordination.LEASE_MS, policy), coordinator);
        Properties db = new Properties();
        db.setProperty("user", PgCluster.SUPERUSER);
        // A commit waits for the synchronous standby as long as it takes; it is never cancelled (that would
        // leave it committed locally but not replicated), so no socket timeout on the writer.
        Database database = new Database("jdbc:postgresql://127.0.0.1:" + region.pgPort() + "/ledger", db, 16);
        LedgerNode node = LedgerNode.start(new LedgerNode.Config(regionName,
                new HttpServerOptions().setHost("127.0.0.1").setPort(region.grpcPort()), database, 16,
                BatchWriter.Config.defaults()), control, CallerResolver.TRUST_ALL_AS_OPERATOR);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            LOG.info("node " + regionName + ": shutting down");
            node.close();
            coordinator.close();
            stopped.countDown();
        }, "node-shutdown"));
        stopped.await();
    }
}
