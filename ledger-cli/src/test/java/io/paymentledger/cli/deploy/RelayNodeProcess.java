package io.paymentledger.cli.deploy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.paymentledger.ledger.events.kafka.KafkaRelay;
import io.paymentledger.ledger.grpc.CallerResolver;
import io.paymentledger.ledger.node.LedgerNode;
import io.paymentledger.ledger.node.StandaloneControl;
import io.paymentledger.ledger.store.Database;
import io.paymentledger.ledger.write.BatchWriter;
import io.paymentledger.replication.postgres.PgCluster;
import io.vertx.core.http.HttpServerOptions;
import java.nio.file.Path;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A ledger node with its Kafka relay in a process of its own, for {@link KafkaRelayTest} to SIGKILL: it takes the
 * lead of the given database (a higher epoch), prints {@code PORT <grpc port>}, and in its relay's transaction number
 * {@code hangAt} prints {@code IN-TRANSACTION} after the sends and waits there (the test kills it then).
 *
 * <p>Arguments: deployment dir, JDBC URL, topic, events per transaction, hangAt.
 */
public final class RelayNodeProcess {

    public static void main(String[] args) throws Exception {
        Topology t = Topology.load(Path.of(args[0]));
        Properties user = new Properties();
        user.setProperty("user", PgCluster.SUPERUSER);
        LedgerNode node = LedgerNode.start(new LedgerNode.Config("c", new HttpServerOptions().setHost("127.0.0.1").setPort(0),
                new Database(args[1], user, 4), 4, BatchWriter.Config.defaults()), new StandaloneControl(),
                CallerResolver.TRUST_ALL_AS_OPERATOR);
        var cert = DeploymentSecurity.open(t).node("a");
        KafkaRelay relay = KafkaRelay.start(KafkaRelay.Config.of(KafkaProcess.settings(t).bootstrap(), args[2], 3, 1,
                KafkaRelay.Format.PROTOBUF).withBatchEventsMax(Integer.parseInt(args[3])).withSecurity(() -> KafkaProcess.tlsClient(t, cert)),
                node.events(), node.control(), node.writer(), new SimpleMeterRegistry());
        int hangAt = Integer.parseInt(args[4]);
        AtomicInteger transactions = new AtomicInteger();
        relay.beforeCommit(() -> {
            if (transactions.incrementAndGet() == hangAt) {
                System.out.println("IN-TRANSACTION");
                System.out.flush();
                try {
                    Thread.sleep(600_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        System.out.println("PORT " + node.grpcPort());
        System.out.flush();
        Thread.sleep(600_000);
    }
}
