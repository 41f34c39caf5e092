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
            "change once, nothing else, each key's events in cursor order. While the relay publishes, a transaction's commit",
            "becomes visible partition by partition: an event the journal has and the first read lacks is waited for (up to",
            "30 s) before it counts as missing. Exit code: 0 equal, 1 a difference (printed), 3 no Kafka."})
    public static final class Check implements Callable<Integer> {

        /** Reading a partition to its end takes at most this long. */
        static final Duration READ_TIMEOUT = Duration.ofMinutes(5);
        /**
         * How long an event the journal has and the first read lacked is waited for. Every journal event the check
         * compares is no newer than the topic's newest, so its relay transaction has committed (the relay publishes in
         * cursor order); but a commit's markers reach the partitions one by one, and the end offsets taken at the start
         * can include a transaction in one partition and not yet in another.
         */
        static final Duration IN_FLIGHT_WAIT = Duration.ofSeconds(30);

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
            try (TopicReader reader = new TopicReader(KafkaProcess.clientProperties(t), s.topic())) {
                reader.readToEnd(null);
                return compare(t, s, reader, began);
            }
        }

        private Integer compare(Topology t, KafkaProcess.Settings s, TopicReader reader, long began) throws Exception {
            Topic topic = reader.topic();
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
            if (!missing.isEmpty()) {
                long waited = System.nanoTime();
                Set<String> late = reader.awaitEvents(new HashSet<>(missing), IN_FLIGHT_WAIT);
                missing = missing.stream().filter(id -> !late.contains(id)).toList();
                topic = reader.topic();
                System.out.printf("kafka check: %d event(s) of the journal were not in the first read; %d arrived within %.1f s"
                        + " (their transaction's commit had not reached every partition yet)%n", late.size() + missing.size(),
                        late.size(), (System.nanoTime() - waited) / 1e9);
            }
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

        public record Topic(List<String> ids, Set<String> duplicates, int outOfOrder, long newestTimestampNs, Map<String, Integer> byType,
                String committedCursor) {}

        /**
         * Reads the relay's topic (read_committed) and its cursor topic from the beginning, keeping what it saw: each
         * event's id once per record (duplicates named), events out of cursor order within their key, the newest event's
         * timestamp, counts by type, the relay's last committed cursor.
         */
        public static final class TopicReader implements AutoCloseable {
            private final KafkaConsumer<String, byte[]> consumer;
            private final TopicPartition cursorPart;
            private final List<TopicPartition> all = new ArrayList<>();
            private final List<String> ids = new ArrayList<>();
            private final Set<String> seen = new HashSet<>();
            private final Set<String> duplicates = new HashSet<>();
            private final Map<String, Long> lastByKey = new HashMap<>();
            private final Map<String, Integer> byType = new TreeMap<>();
            private int outOfOrder;
            private long newest;
            private String cursor;

            public TopicReader(Properties client, String topic) {
                Properties p = new Properties();
                p.putAll(client);
                p.setProperty(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
                p.setProperty(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
                p.setProperty(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "2000");
                consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
                consumer.partitionsFor(topic, Duration.ofSeconds(30)).forEach(i -> all.add(new TopicPartition(i.topic(), i.partition())));
                cursorPart = new TopicPartition(KafkaRelay.Config.cursorTopic(topic), 0);
                all.add(cursorPart);
                consumer.assign(all);
                consumer.seekToBeginning(all);
            }

            /**
             * Every partition (and the cursor topic) up to {@code end}, or to its end offset now when null, and no
             * further: records a poll returns past a partition's end are left, and the partition is sought back to it,
             * so the read is the cut the end offsets name (what {@link #awaitEvents} reads on from).
             */
            public void readToEnd(Map<TopicPartition, Long> end) {
                Map<TopicPartition, Long> until = end != null ? end : consumer.endOffsets(all, Duration.ofSeconds(30));
                long deadline = System.nanoTime() + READ_TIMEOUT.toNanos();
                while (all.stream().anyMatch(tp -> consumer.position(tp, Duration.ofSeconds(30)) < until.getOrDefault(tp, 0L))) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("reading the relay's topic to its end took more than " + READ_TIMEOUT.toMinutes() + " min");
                    }
                    for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                        if (r.offset() < until.getOrDefault(new TopicPartition(r.topic(), r.partition()), 0L)) {
                            take(r, null);
                        }
                    }
                }
                for (TopicPartition tp : all) {
                    long stop = until.getOrDefault(tp, 0L);
                    if (consumer.position(tp, Duration.ofSeconds(30)) > stop) {
                        consumer.seek(tp, stop);
                    }
                }
            }

            /**
             * Reads on past where {@link #readToEnd} stopped, for at most {@code wait}, until every id of {@code wanted}
             * arrived; takes those (and any event seen before, which counts as a duplicate), ignores the rest (newer than
             * what is compared). Returns the ids that arrived.
             */
            public Set<String> awaitEvents(Set<String> wanted, Duration wait) {
                Set<String> arrived = new HashSet<>();
                long deadline = System.nanoTime() + wait.toNanos();
                while (arrived.size() < wanted.size() && System.nanoTime() < deadline) {
                    for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                        String id = take(r, wanted);
                        if (id != null && wanted.contains(id)) {
                            arrived.add(id);
                        }
                    }
                }
                return arrived;
            }

            /** Takes {@code r} into what was seen (only when {@code only} is null or names it, or it was seen before). */
            private String take(ConsumerRecord<String, byte[]> r, Set<String> only) {
                if (r.topic().equals(cursorPart.topic())) {
                    cursor = new String(r.value(), StandardCharsets.UTF_8);
                    return null;
                }
                Event e = event(r);
                if (only != null && !only.contains(e.getId()) && !seen.contains(e.getId())) {
                    return null;
                }
                ids.add(e.getId());
                if (!seen.add(e.getId())) {
                    duplicates.add(e.getId());
                }
                Long before = lastByKey.put(r.key(), e.getTimestampNs());
                if (before != null && before >= e.getTimestampNs()) {
                    outOfOrder++;
                }
                if (only == null) {
                    newest = Math.max(newest, e.getTimestampNs()); // the compared range: the first read's
                }
                byType.merge(e.getType().name().replaceFirst("^EVENT_TYPE_", ""), 1, Integer::sum);
                return e.getId();
            }

            public Topic topic() {
                return new Topic(List.copyOf(ids), Set.copyOf(duplicates), outOfOrder, newest, new TreeMap<>(byType), cursor);
            }

            @Override
            public void close() {
                consumer.close(Duration.ofSeconds(5));
            }
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
