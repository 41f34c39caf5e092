package io.paymentledger.cli.command;

import io.paymentledger.cli.deploy.NodeProcess;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.replication.failover.FailoverStateMachine;
import io.paymentledger.security.logging.LogSetup;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "node", description = "Run one ledger node of the local deployment (started by ./ledger up).")
public final class NodeCommand implements Callable<Integer> {

    @Mixin
    DeploymentOptions deployment;

    @Option(names = "--region", required = true, description = "The region this node serves (a, b).")
    String region;

    @Option(names = "--sync-loss", defaultValue = "BLOCK", description = "When every other site of the commit quorum is"
            + " lost: BLOCK (writes wait for one; the default) or DEGRADE (record that nobody else holds the writes, then write"
            + " alone). ./ledger up passes what ./ledger up --sync-loss recorded.")
    FailoverStateMachine.SyncLossPolicy syncLoss;

    @Option(names = "--kafka-bootstrap", paramLabel = "HOST:PORT", description = "Run the Kafka relay beside the leader,"
            + " publishing the event stream to these brokers (./ledger up --kafka passes it). Without it: no relay.")
    String kafkaBootstrap;

    @Option(names = "--kafka-topic", defaultValue = io.paymentledger.ledger.events.kafka.KafkaRelay.Config.DEFAULT_TOPIC,
            description = "The relay's topic (its cursor goes to <topic>.cursor). Default: ${DEFAULT-VALUE}.")
    String kafkaTopic;

    @Option(names = "--kafka-partitions", defaultValue = "3", description = "Partitions of the topic when the relay creates it.")
    int kafkaPartitions;

    @Option(names = "--kafka-retention-hours", defaultValue = "168", description = "Retention of the topic when the relay creates it.")
    long kafkaRetentionHours;

    @Option(names = "--kafka-format", defaultValue = "PROTOBUF", description = "PROTOBUF (ledger.v1.Event bytes) or JSON"
            + " (its proto3 JSON).")
    io.paymentledger.ledger.events.kafka.KafkaRelay.Format kafkaFormat;

    @Override
    public Integer call() throws Exception {
        LogSetup.install("node-" + region, Level.INFO);
        var relay = kafkaBootstrap == null ? java.util.Optional.<io.paymentledger.ledger.events.kafka.KafkaRelay.Config>empty()
                : java.util.Optional.of(io.paymentledger.ledger.events.kafka.KafkaRelay.Config.of(kafkaBootstrap, kafkaTopic,
                        kafkaPartitions, kafkaRetentionHours, kafkaFormat));
        NodeProcess.run(Topology.load(deployment.dir()), region, syncLoss, relay);
        return 0;
    }
}
