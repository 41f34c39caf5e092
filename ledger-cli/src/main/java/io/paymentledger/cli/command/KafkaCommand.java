package io.paymentledger.cli.command;

import io.paymentledger.api.v1.Event;
import io.paymentledger.api.v1.EventsServiceGrpcClient;
import io.paymentledger.api.v1.ListEventsRequest;
import io.paymentledger.api.v1.ListEventsResponse;
import io.paymentledger.cli.deploy.Clients;
import io.paymentledger.cli.deploy.KafkaProcess;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.ledger.events.kafka.KafkaRelay;
import io.paymentledger.security.logging.LogSetup;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code ./ledger kafka check}: what a read_committed consumer of the relay's topic gets, against the journal. */
@Command(name = "kafka", description = "The Kafka relay of ./ledger up --kafka (runbooks/events.md, Kafka relay).",
        subcommands = KafkaCommand.Check.class)
public final class KafkaCommand implements Runnable {

    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    @Command(name = "check", description = {
            "Reads the relay's topic from the beginning with isolation.level=read_committed (the operator certificate), then",
            "the journal through the router (ListEvents) up to the newest event found there, and compares: every acknowledged",
            "change once, nothing else, each key's events in cursor order. Run it when writes have stopped (a transaction",
            "that commits while it reads can show as missing). Exit code: 0 equal, 1 a difference (printed), 3 no Kafka."})
    public static final class Check implements Callable<Integer> {

        /** Reading a partition to its end takes at most this long. */
        static final Duration READ_TIMEOUT = Duration.ofMinutes(5);

        @Mixin
        DeploymentOptions deployment;

        @Override
        public Integer call() throws Exception {
            LogSetup.install("ledger-kafka", Level.WARNING);
            KafkaProcess.quietClient();
            Topology t = Topology.load(deployment.dir());
            if (!KafkaProcess.enabled(t) && KafkaProcess.running(t).isEmpty()) {
                System.out.println("kafka check: this deployment runs no Kafka (./ledger up --kafka)");
                return 3;
            }
            KafkaProcess.Settings s = KafkaProcess.settings(t);
            long began = System.nanoTime();
            Topic topic = read(KafkaProcess.clientProperties(t), s.topic());
            System.out.printf("kafka check: topic %s, read_committed: %d events in %.1f s, %d twice or more, %d out of cursor order"
                    + " within their key%n", s.topic(), topic.ids().size(), (System.nanoTime() - began) / 1e9, topic.duplicates().size(),
                    topic.outOfOrder());
            System.out.println("kafka check: by type " + topic.byType());
            List<String> journal = new ArrayList<>();
            try (Clients clients = Clients.operatorAsIs(t)) {
                EventsServiceGrpcClient events = EventsServiceGrpcClient.create(clients.grpc(), clients.address(t.routerPort()));
                String cursor = "";
                boolean done = topic.newestTimestampNs() == 0;
                while (!done) {
                    ListEventsResponse page = events.listEvents(ListEventsRequest.newBuilder().setAfterCursor(cursor).setLimit(1_000).build())
                            .await(60, TimeUnit.SECONDS);
                    for (Event e : page.getEventsList()) {
                        if (e.getTimestampNs() > topic.newestTimestampNs()) {
                            done = true;
                            break;
                        }
                        journal.add(e.getId());
                    }
                    if (page.getEventsCount() == 0 || page.getNextCursor().equals(cursor)) {
                        done = true;
                    }
                    cursor = page.getNextCursor();
                }
            }
            Set<String> inTopic = new HashSet<>(topic.ids());
            Set<String> inJournal = new HashSet<>(journal);
            List<String> missing = journal.stream().filter(id -> !inTopic.contains(id)).toList();
            List<String> extra = topic.ids().stream().filter(id -> !inJournal.contains(id)).distinct().toList();
            System.out.println("kafka check: the journal up to the topic's newest event: " + journal.size() + " events; missing from"
                    + " the topic: " + missing.size() + (missing.isEmpty() ? "" : " (first " + missing.subList(0, Math.min(5, missing.size())) + ")")
                    + "; in the topic but not in the journal: " + extra.size()
                    + (extra.isEmpty() ? "" : " (first " + extra.subList(0, Math.min(5, extra.size())) + ")"));
            System.out.println("kafka check: relay cursor (" + KafkaRelay.Config.cursorTopic(s.topic()) + "): "
                    + (topic.committedCursor() == null ? "none committed yet" : topic.committedCursor()));
            boolean ok = missing.isEmpty() && extra.isEmpty() && topic.duplicates().isEmpty() && topic.outOfOrder() == 0;
            System.out.println("kafka check: " + (ok ? "OK: every acknowledged change once, in cursor order per key"
                    : "DIFFERENCE (runbooks/events.md, Kafka relay)"));
            return ok ? 0 : 1;
        }

        record Topic(List<String> ids, Set<String> duplicates, int outOfOrder, long newestTimestampNs, Map<String, Integer> byType,
                String committedCursor) {}

        static Topic read(Properties client, String topic) {
            Properties p = new Properties();
            p.putAll(client);
            p.setProperty(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
            p.setProperty(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
            p.setProperty(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "2000");
            List<String> ids = new ArrayList<>();
            Set<String> seen = new HashSet<>();
            Set<String> duplicates = new HashSet<>();
            Map<String, Long> lastByKey = new HashMap<>();
            Map<String, Integer> byType = new TreeMap<>();
            int outOfOrder = 0;
            long newest = 0;
            String cursor = null;
            try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
                List<TopicPartition> parts = new ArrayList<>();
                c.partitionsFor(topic, Duration.ofSeconds(30)).forEach(i -> parts.add(new TopicPartition(i.topic(), i.partition())));
                TopicPartition cursorPart = new TopicPartition(KafkaRelay.Config.cursorTopic(topic), 0);
                List<TopicPartition> all = new ArrayList<>(parts);
                all.add(cursorPart);
                c.assign(all);
                c.seekToBeginning(all);
                Map<TopicPartition, Long> end = c.endOffsets(all, Duration.ofSeconds(30));
                long deadline = System.nanoTime() + READ_TIMEOUT.toNanos();
                while (all.stream().anyMatch(tp -> c.position(tp, Duration.ofSeconds(30)) < end.get(tp))) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("reading " + topic + " to its end took more than " + READ_TIMEOUT.toMinutes() + " min");
                    }
                    for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(500))) {
                        if (r.topic().equals(cursorPart.topic())) {
                            cursor = new String(r.value(), StandardCharsets.UTF_8);
                            continue;
                        }
                        Event e = event(r);
                        ids.add(e.getId());
                        if (!seen.add(e.getId())) {
                            duplicates.add(e.getId());
                        }
                        Long before = lastByKey.put(r.key(), e.getTimestampNs());
                        if (before != null && before >= e.getTimestampNs()) {
                            outOfOrder++;
                        }
                        newest = Math.max(newest, e.getTimestampNs());
                        byType.merge(e.getType().name().replaceFirst("^EVENT_TYPE_", ""), 1, Integer::sum);
                    }
                }
            }
            return new Topic(ids, duplicates, outOfOrder, newest, byType, cursor);
        }

        /** The record's event, whichever format the relay wrote (its content-type header says). */
        static Event event(ConsumerRecord<String, byte[]> r) {
            var type = r.headers().lastHeader(KafkaRelay.HEADER_CONTENT_TYPE);
            try {
                if (type != null && new String(type.value(), StandardCharsets.UTF_8).startsWith("application/json")) {
                    Event.Builder b = Event.newBuilder();
                    com.google.protobuf.util.JsonFormat.parser().merge(new String(r.value(), StandardCharsets.UTF_8), b);
                    return b.build();
                }
                return Event.parseFrom(r.value());
            } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                throw new IllegalStateException("record at " + r.topic() + "-" + r.partition() + "@" + r.offset() + " is not a ledger.v1.Event: "
                        + e.getMessage(), e);
            }
        }
    }
}
