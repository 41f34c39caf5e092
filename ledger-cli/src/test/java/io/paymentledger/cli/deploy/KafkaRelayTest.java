package io.paymentledger.cli.deploy;

import static io.paymentledger.ledger.support.Fixtures.account;
import static io.paymentledger.ledger.support.Fixtures.id;
import static io.paymentledger.ledger.support.Fixtures.transfer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateTransferStatus;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.Event;
import io.paymentledger.api.v1.LedgerServiceGrpcClient;
import io.paymentledger.cli.Main;
import io.paymentledger.cli.command.KafkaCommand;
import io.paymentledger.ledger.Caller;
import io.paymentledger.ledger.events.EventSource;
import io.paymentledger.ledger.events.LedgerEvent;
import io.paymentledger.ledger.events.Position;
import io.paymentledger.ledger.events.kafka.KafkaRelay;
import io.paymentledger.ledger.grpc.CallerResolver;
import io.paymentledger.ledger.node.LedgerNode;
import io.paymentledger.ledger.node.StandaloneControl;
import io.paymentledger.ledger.support.TestLedger;
import io.paymentledger.ledger.write.BatchWriter;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Issue #22 with the real broker (started from {@link KafkaProcess}, as {@code ./ledger up --kafka} does) and real
 * ledger nodes on a real PostgreSQL: a read_committed consumer of the relay's topic sees every acknowledged change
 * exactly once, in cursor order per key, through a relay that stops dead in an open transaction, a broker restart and
 * a leader change; a refused transfer never appears.
 */
class KafkaRelayTest {

    @TempDir
    static Path dir;
    static Topology topology;

    @BeforeAll
    static void broker() {
        topology = Topology.create(dir);
        topology.save();
        KafkaProcess.record(topology, true);
        // Also if the JVM ends without @AfterAll (surefire gives exit hooks time): no broker outlives the tests.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> KafkaProcess.stop(topology), "kafka-test-broker-stop"));
        KafkaProcess.up(topology, System.out);
    }

    @AfterAll
    static void stopBroker() {
        if (topology != null) {
            KafkaProcess.stop(topology);
        }
    }

    @Test
    void upWithKafkaPassesTheRelayToBothNodesAndWithoutItNothing() {
        for (String region : List.of("a", "b")) {
            CommandLine.ParseResult parsed = new CommandLine(new Main())
                    .parseArgs(LocalDeployment.nodeArguments(topology, region).toArray(String[]::new));
            assertThat(parsed.subcommand().<String>matchedOptionValue("--kafka-bootstrap", null))
                    .isEqualTo(KafkaProcess.settings(topology).bootstrap());
        }
        Topology without = Topology.create(dir.resolve("without"));
        assertThat(LocalDeployment.nodeArguments(without, "a")).noneMatch(a -> a.startsWith("--kafka"));
        assertThat(KafkaProcess.statusLine(KafkaProcess.status(without))).startsWith("kafka:      off");
        assertThat(KafkaProcess.statusLine(KafkaProcess.status(topology))).contains("accepts connections");
    }

    /**
     * {@code ./ledger kafka check} while the relay publishes: a relay transaction's commit reaches the partitions one by
     * one, so the end offsets the check starts from can hold a transaction in one partition and not yet in another (it
     * once said DIFFERENCE with 2,270 events "missing" that were there). Here the first read stops where such end offsets
     * would have stopped it (one partition before the transaction, the other after); the event it lacks is then found
     * by reading on, once, in its key's order, and nothing else is taken.
     */
    @Test
    void kafkaCheckFindsAnEventWhoseCommitHadNotReachedEveryPartitionWhenItsReadBegan() throws Exception {
        Properties operator = KafkaProcess.clientProperties(topology);
        String topic = "check-in-flight-" + Long.toHexString(System.nanoTime());
        try (Admin admin = Admin.create(operator)) {
            admin.createTopics(List.of(new org.apache.kafka.clients.admin.NewTopic(topic, 2, (short) 1),
                    new org.apache.kafka.clients.admin.NewTopic(KafkaRelay.Config.cursorTopic(topic), 1, (short) 1)))
                    .all().get(30, TimeUnit.SECONDS);
        }
        Properties producing = new Properties();
        producing.putAll(operator);
        producing.setProperty("transactional.id", topic + "-relay");
        producing.setProperty("enable.idempotence", "true");
        try (var producer = new org.apache.kafka.clients.producer.KafkaProducer<String, byte[]>(producing,
                new org.apache.kafka.common.serialization.StringSerializer(), new org.apache.kafka.common.serialization.ByteArraySerializer())) {
            producer.initTransactions();
            producer.beginTransaction();
            producer.send(new org.apache.kafka.clients.producer.ProducerRecord<>(topic, 0, "account-1", Event.newBuilder().setId("e1")
                    .setTimestampNs(1).setType(io.paymentledger.api.v1.EventType.EVENT_TYPE_TRANSFER_POSTED).build().toByteArray()));
            producer.send(new org.apache.kafka.clients.producer.ProducerRecord<>(topic, 1, "account-2", Event.newBuilder().setId("e2")
                    .setTimestampNs(2).setType(io.paymentledger.api.v1.EventType.EVENT_TYPE_TRANSFER_POSTED).build().toByteArray()));
            producer.send(new org.apache.kafka.clients.producer.ProducerRecord<>(KafkaRelay.Config.cursorTopic(topic), 0, "cursor",
                    "c2".getBytes(StandardCharsets.UTF_8)));
            producer.commitTransaction();
        }
        try (KafkaCommand.Check.TopicReader reader = new KafkaCommand.Check.TopicReader(operator, topic)) {
            reader.readToEnd(Map.of(new TopicPartition(topic, 0), 0L, new TopicPartition(topic, 1), 2L,
                    new TopicPartition(KafkaRelay.Config.cursorTopic(topic), 0), 2L));
            assertThat(reader.topic().ids()).as("the first read, stopped as such end offsets stop it").containsExactly("e2");
            assertThat(reader.topic().newestTimestampNs()).isEqualTo(2);

            assertThat(reader.awaitEvents(java.util.Set.of("e1"), Duration.ofSeconds(20))).containsExactly("e1");
            KafkaCommand.Check.Topic after = reader.topic();
            assertThat(after.ids()).containsExactlyInAnyOrder("e1", "e2");
            assertThat(after.duplicates()).isEmpty();
            assertThat(after.outOfOrder()).isZero();
            assertThat(after.committedCursor()).isEqualTo("c2");
        }
    }

    @Test
    void theBrokerServesOnlyTlsClientsWithACertificateOfTheDeployment() throws Exception {
        Properties operator = KafkaProcess.clientProperties(topology);
        try (Admin admin = Admin.create(operator)) {
            assertThat(admin.describeCluster().nodes().get(20, TimeUnit.SECONDS)).hasSize(1);
        }
        Properties noCertificate = new Properties();
        noCertificate.putAll(operator);
        noCertificate.remove("ssl.keystore.certificate.chain");
        noCertificate.remove("ssl.keystore.key");
        noCertificate.remove("ssl.keystore.type");
        noCertificate.setProperty("default.api.timeout.ms", "5000");
        noCertificate.setProperty("request.timeout.ms", "4000");
        try (Admin admin = Admin.create(noCertificate)) {
            assertThatThrownBy(() -> admin.describeCluster().nodes().get(10, TimeUnit.SECONDS)).as("no client certificate: refused");
        }
    }

    @Test
    void aReadCommittedConsumerSeesEveryAcknowledgedChangeOnceThroughABrokerRestartASigkillMidTransactionAndLeaderChanges()
            throws Exception {
        String topic = "events-" + Long.toHexString(System.nanoTime());
        var nodeCert = DeploymentSecurity.open(topology).node("a");
        KafkaRelay.Config config = KafkaRelay.Config.of(KafkaProcess.settings(topology).bootstrap(), topic, 3, 1,
                KafkaRelay.Format.PROTOBUF).withBatchEventsMax(7).withSecurity(() -> KafkaProcess.tlsClient(topology, nodeCert));
        List<String> refused = new ArrayList<>();
        try (TestLedger a = TestLedger.start()) {
            String x = id("kx"), y = id("ky"), z = id("kz");
            a.ledger.createAccounts(CreateAccountsRequest.newBuilder().addAccounts(account(x, "EUR")).addAccounts(account(y, "EUR"))
                    .addAccounts(account(z, "EUR")).build()).await();
            KafkaRelay onA = relay(config, a.node);
            pay(a.ledger, 10, x, y, z, refused);
            await(() -> onA.committed().equals(horizon(a.node)), "the relay publishes everything acknowledged", onA);

            // (c) The broker crashes (SIGKILL) and restarts; writes go on meanwhile, and the relay publishes them once
            // it is back.
            Processes.kill(topology, KafkaProcess.NAME);
            pay(a.ledger, 5, x, y, z, refused);
            KafkaProcess.up(topology, System.out);
            pay(a.ledger, 5, x, y, z, refused);
            await(() -> onA.committed().equals(horizon(a.node)), "the relay catches up after the broker's restart", onA);

            // (b) Leadership moves to node c, a process of its own with its relay; (a) c is SIGKILLed while its relay's
            // third transaction is open (its records sent, not committed): no read_committed consumer may see them.
            pay(a.ledger, 3, x, y, z, refused);
            a.node.writer().stepDown("test: leadership moves to c");
            Process c = new ProcessBuilder(java(), "-Xmx256m", "-XX:+UseSerialGC", "--enable-native-access=ALL-UNNAMED",
                    "--sun-misc-unsafe-memory-access=allow", "-cp", System.getProperty("java.class.path"), RelayNodeProcess.class.getName(),
                    topology.dir().toString(), a.postgres.jdbcUrl("ledger"), topic, "7", "3")
                    .redirectError(ProcessBuilder.Redirect.appendTo(topology.logs().resolve("relay-node-c.log").toFile())).start();
            try {
                var lines = new java.util.concurrent.LinkedBlockingQueue<String>();
                Thread.ofVirtual().start(() -> new java.io.BufferedReader(new java.io.InputStreamReader(c.getInputStream(),
                        StandardCharsets.UTF_8)).lines().forEach(lines::add));
                String port = line(lines, "PORT ");
                LedgerServiceGrpcClient cLedger = LedgerServiceGrpcClient.create(a.grpc,
                        SocketAddress.inetSocketAddress(Integer.parseInt(port.substring(5)), "127.0.0.1"));
                for (int i = 0; i < 4; i++) {
                    pay(cLedger, 5, x, y, z, refused);
                }
                line(lines, "IN-TRANSACTION");
            } finally {
                c.destroyForcibly();   // SIGKILL
                assertThat(c.waitFor(30, TimeUnit.SECONDS)).as("node c is gone").isTrue();
            }

            // Node b takes over (a higher epoch); its relay fences c's transactional id, which aborts c's open
            // transaction, and goes on from the cursor of the last committed one.
            try (LedgerNode b = LedgerNode.start(new LedgerNode.Config("b", new HttpServerOptions().setHost("127.0.0.1").setPort(0),
                    TestLedger.database(a.postgres), 4, BatchWriter.Config.defaults()), new StandaloneControl(),
                    CallerResolver.TRUST_ALL_AS_OPERATOR)) {
                KafkaRelay onB = relay(config, b);
                LedgerServiceGrpcClient bLedger = LedgerServiceGrpcClient.create(a.grpc,
                        SocketAddress.inetSocketAddress(b.grpcPort(), "127.0.0.1"));
                pay(bLedger, 10, x, y, z, refused);
                await(() -> onB.committed().equals(horizon(b)), "the new leader's relay publishes everything acknowledged", onB);
                assertThat(onA.state()).as(onA.describe()).isIn(KafkaRelay.State.IDLE, KafkaRelay.State.FENCED);
                assertThat(onB.transactionsCommitted()).isPositive();

                List<Event> journal = journal(b);
                List<Event> consumed = consume(config);
                List<String> ids = consumed.stream().map(Event::getId).toList();
                assertThat(ids).as("each acknowledged change once: nothing lost, nothing twice").doesNotHaveDuplicates()
                        .containsExactlyInAnyOrderElementsOf(journal.stream().map(Event::getId).toList());
                String cell = journal.getFirst().getCell();
                assertThat(refused).hasSize(9);
                assertThat(ids).as("refused transfers never appear").doesNotContainAnyElementsOf(
                        refused.stream().map(t -> cell + ":t:" + t).toList());
                onB.close();
            }
            onA.close();
        }
    }

    private static String java() {
        return ProcessHandle.current().info().command().orElse("java");
    }

    /** The next line of the child process that starts with {@code prefix} (60 s at most). */
    private static String line(java.util.concurrent.BlockingQueue<String> lines, String prefix) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            String l = lines.poll(500, TimeUnit.MILLISECONDS);
            if (l != null && l.startsWith(prefix)) {
                return l;
            }
        }
        throw new AssertionError("node c did not print '" + prefix + "' within 60 s; see " + topology.logs().resolve("relay-node-c.log"));
    }

    private static KafkaRelay relay(KafkaRelay.Config config, LedgerNode node) {
        return KafkaRelay.start(config, node.events(), node.control(), node.writer(), new SimpleMeterRegistry());
    }

    /** {@code n} transfers among three accounts, one request each, plus one refused (its debit account does not exist). */
    private static void pay(LedgerServiceGrpcClient ledger, int n, String x, String y, String z, List<String> refused) {
        String[] accounts = {x, y, z};
        for (int i = 0; i < n; i++) {
            assertThat(ledger.createTransfers(CreateTransfersRequest.newBuilder().addTransfers(transfer(id("kt"), accounts[i % 3],
                    accounts[(i + 1) % 3], 1 + i, "EUR")).build()).await().getResults(0).getStatus())
                    .isEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
        }
        String no = id("refused");
        assertThat(ledger.createTransfers(CreateTransfersRequest.newBuilder().addTransfers(transfer(no, id("nobody"), x, 1, "EUR"))
                .build()).await().getResults(0).getStatus()).isNotEqualTo(CreateTransferStatus.CREATE_TRANSFER_CREATED);
        refused.add(no);
    }

    private static Position horizon(LedgerNode node) {
        try {
            return node.events().horizon();
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Every event of the journal up to the horizon, through the event source (the gRPC stream's reader). */
    private static List<Event> journal(LedgerNode node) throws Exception {
        EventSource source = node.events();
        Position horizon = source.horizon();
        List<Event> all = new ArrayList<>();
        Position at = Position.START;
        while (horizon.isAfter(at)) {
            EventSource.Page page = source.page(Caller.OPERATOR, at, horizon, EventSource.Filter.ALL, 1_000);
            for (LedgerEvent e : page.events()) {
                all.add(io.paymentledger.ledger.grpc.EventsApi.proto(Caller.OPERATOR, source.cursors(), e));
            }
            at = page.next();
        }
        return all;
    }

    /**
     * Reads the topic with isolation.level=read_committed from the beginning to its end (the last stable offset of
     * each partition: the relay is caught up, nothing of it is open); checks on the way that each key's events come in
     * cursor (timestamp) order and that every record carries its type header.
     */
    private static List<Event> consume(KafkaRelay.Config config) throws Exception {
        Properties p = config.client("test-consumer");
        p.setProperty(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.setProperty(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        List<Event> out = new ArrayList<>();
        Map<String, Long> lastTsByKey = new HashMap<>();
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = c.partitionsFor(config.topic(), Duration.ofSeconds(10)).stream()
                    .map(i -> new TopicPartition(i.topic(), i.partition())).toList();
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<TopicPartition, Long> end = c.endOffsets(parts, Duration.ofSeconds(10));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (parts.stream().anyMatch(tp -> c.position(tp, Duration.ofSeconds(10)) < end.get(tp))) {
                assertThat(System.nanoTime() < deadline).as("the topic read to its end within 60 s").isTrue();
                for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(300))) {
                    Event e = Event.parseFrom(r.value());
                    assertThat(new String(r.headers().lastHeader(KafkaRelay.HEADER_EVENT_TYPE).value(), StandardCharsets.UTF_8))
                            .isEqualTo(e.getType().name());
                    Long before = lastTsByKey.put(r.key(), e.getTimestampNs());
                    assertThat(before == null || before < e.getTimestampNs()).as("key %s: cursor order", r.key()).isTrue();
                    out.add(e);
                }
            }
        }
        return out;
    }

    private static void await(BooleanSupplier condition, String what, KafkaRelay relay) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime() < deadline).as("within 60 s: %s (relay: %s)", what, relay.describe()).isTrue();
            Thread.sleep(100);
        }
    }
}
