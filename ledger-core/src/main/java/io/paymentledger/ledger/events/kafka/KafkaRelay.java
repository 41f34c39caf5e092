package io.paymentledger.ledger.events.kafka;

import io.paymentledger.api.v1.Event;
import io.paymentledger.ledger.Caller;
import io.paymentledger.ledger.events.Cursors;
import io.paymentledger.ledger.events.EventSource;
import io.paymentledger.ledger.events.LedgerEvent;
import io.paymentledger.ledger.events.Position;
import io.paymentledger.ledger.grpc.EventsApi;
import io.paymentledger.ledger.grpc.ReadGate;
import io.paymentledger.ledger.write.BatchWriter;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The relay into Kafka (issue #22, docs/decisions/0008-kafka-relay.md): on the leader, reads the event stream from
 * {@link EventSource} (the journal up to the acknowledged horizon, decision 0006) and publishes it to a topic,
 * writing the cursor it reached into a compacted cursor topic <b>in the same Kafka transaction</b> as the events. A
 * read_committed consumer therefore sees every acknowledged change exactly once: a transaction that did not commit
 * (a crash, a lost leadership, a broker restart) shows nothing, and the next relay goes on from the cursor the last
 * committed transaction wrote. The {@code transactional.id} is fixed per cell, so a relay that starts (the new
 * leader's, a restarted one) fences the previous one and aborts its open transaction before it reads the cursor.
 *
 * <p>One thread, one loop ({@link State}): not leading, nothing is open; leading, a session (producer, cursor) is
 * opened and pages of at most {@link Config#batchEventsMax} events are published, one transaction each; any failure
 * closes the session and opens a new one after a back-off (the cursor is read back from Kafka every time, so nothing
 * kept in memory can be wrong).
 */
public final class KafkaRelay implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(KafkaRelay.class.getName());
    /** Held here: java.util.logging keeps loggers weakly, and a collected one forgets its level. */
    private static final Logger KAFKA_CLIENT_LOG = Logger.getLogger("org.apache.kafka");

    /** A caught-up or idle relay looks again this often without a commit signal (leadership gained or lost). */
    static final long IDLE_RECHECK_MS = 500;
    static final long BACKOFF_MIN_MS = 500;
    static final long BACKOFF_MAX_MS = 10_000;
    /** Bounds every blocking call of the producer (initTransactions, send when its buffer is full, commit, abort). */
    static final int PRODUCER_MAX_BLOCK_MS = 30_000;
    /** The broker aborts a transaction left open longer than this (a relay that died without a successor). */
    static final int TRANSACTION_TIMEOUT_MS = 60_000;
    /** Reading the committed cursor back at start takes at most this long. */
    static final Duration CURSOR_READ_TIMEOUT = Duration.ofSeconds(30);
    /** Lag in events is counted up to this many (a count, not a scan of everything). */
    static final int LAG_EVENTS_COUNTED_MAX = 1_000_000;

    public static final String HEADER_EVENT_TYPE = "event-type";
    public static final String HEADER_EVENT_ID = "event-id";
    public static final String HEADER_CURSOR = "cursor";
    public static final String HEADER_CONTENT_TYPE = "content-type";

    /** How an event's value is encoded: the API's {@code ledger.v1.Event}, as protobuf bytes or proto3 JSON. */
    public enum Format {
        PROTOBUF("application/x-protobuf; messageType=ledger.v1.Event"),
        JSON("application/json; messageType=ledger.v1.Event");

        public final String contentType;

        Format(String contentType) {
            this.contentType = contentType;
        }
    }

    /** What the relay does now; the metric {@code ledger_kafka_relay_state} exports its ordinal. */
    public enum State { IDLE, STARTING, RELAYING, FENCED, RETRYING, CLOSED }

    /**
     * @param bootstrap          the brokers ({@code host:port,...})
     * @param topic              the events' topic; the cursor goes to {@code <topic>.cursor} (compacted, 1 partition)
     * @param partitions         the events' topic's partitions when the relay creates it (an existing topic is kept)
     * @param replicationFactor  both topics' replicas when created (1 on a single broker)
     * @param retentionHours     how long the events' topic keeps records
     * @param batchEventsMax     events per transaction at most
     * @param clientSecurity     extra client properties (TLS: security.protocol, ssl.*), asked for each new client
     *                           (a renewed certificate is used from the next session on)
     */
    public record Config(String bootstrap, String topic, int partitions, short replicationFactor, long retentionHours,
            Format format, int batchEventsMax, java.util.function.Supplier<Map<String, String>> clientSecurity) {

        public static final String DEFAULT_TOPIC = "ledger.events";
        public static final int DEFAULT_PARTITIONS = 3;
        public static final long DEFAULT_RETENTION_HOURS = 168;
        public static final int DEFAULT_BATCH_EVENTS_MAX = 500;

        public Config {
            if (bootstrap == null || bootstrap.isBlank()) {
                throw new IllegalArgumentException("kafka bootstrap servers must be given (host:port)");
            }
            if (topic == null || !topic.matches("[A-Za-z0-9._-]{1,200}")) {
                throw new IllegalArgumentException("kafka topic must be 1..200 of [A-Za-z0-9._-], got '" + topic + "'");
            }
            if (partitions < 1 || partitions > 1_000) {
                throw new IllegalArgumentException("kafka partitions must be 1..1000, got " + partitions);
            }
            if (replicationFactor < 1) {
                throw new IllegalArgumentException("kafka replication factor must be 1 or more, got " + replicationFactor);
            }
            if (retentionHours < 1) {
                throw new IllegalArgumentException("kafka retention must be 1 hour or more, got " + retentionHours);
            }
            if (batchEventsMax < 1 || batchEventsMax > EventSource.SCAN_ROWS_MAX) {
                throw new IllegalArgumentException("events per Kafka transaction must be 1.." + EventSource.SCAN_ROWS_MAX
                        + ", got " + batchEventsMax);
            }
        }

        public static Config of(String bootstrap, String topic, int partitions, long retentionHours, Format format) {
            return new Config(bootstrap, topic, partitions, (short) 1, retentionHours, format, DEFAULT_BATCH_EVENTS_MAX, Map::of);
        }

        public Config withSecurity(java.util.function.Supplier<Map<String, String>> security) {
            return new Config(bootstrap, topic, partitions, replicationFactor, retentionHours, format, batchEventsMax, security);
        }

        public Config withBatchEventsMax(int max) {
            return new Config(bootstrap, topic, partitions, replicationFactor, retentionHours, format, max, clientSecurity);
        }

        public static String cursorTopic(String topic) {
            return topic + ".cursor";
        }

        public String cursorTopic() {
            return cursorTopic(topic);
        }

        /** The client properties every client of the relay starts from. */
        public Properties client(String clientId) {
            Properties p = new Properties();
            p.putAll(clientSecurity.get());
            p.setProperty("bootstrap.servers", bootstrap);
            p.setProperty("client.id", clientId);
            return p;
        }
    }

    /** The transactional id of a cell's relay: the same on every node, so a new relay fences the previous one. */
    public static String transactionalId(String cell) {
        return "ledger-relay-" + cell;
    }

    /** The record key of an event: its account (ACCOUNT_CREATED), its payment, else the account the money left. */
    public static String key(LedgerEvent e) {
        if (e.account() != null) {
            return e.account().id();
        }
        return e.type().isPayment() ? e.transfer().paymentId() : e.transfer().debitAccountId();
    }

    private final Config config;
    private final EventSource source;
    private final ReadGate leader;
    private final BatchWriter writer;
    private final LinkedBlockingQueue<Boolean> wake = new LinkedBlockingQueue<>(1);
    private final Thread thread;
    private volatile boolean closed;
    private volatile State state = State.IDLE;
    private volatile String stateReason = "starting";
    private volatile Position committed = Position.START;
    private volatile long horizonTsNs;
    private volatile long lagEvents;
    private final Counter transactionsCommitted;
    private final Counter transactionsAborted;
    private final Counter eventsPublished;
    private final Counter fencings;
    /** Test hook: runs after a transaction's sends, before its commit (a test kills the process there). */
    private volatile Runnable beforeCommit = () -> {};

    private Session session;

    private record Session(KafkaProducer<String, byte[]> producer, Cursors cursors, String transactionalId) {}

    private KafkaRelay(Config config, EventSource source, ReadGate leader, BatchWriter writer, MeterRegistry meters) {
        this.config = config;
        this.source = source;
        this.leader = leader;
        this.writer = writer;
        this.transactionsCommitted = Counter.builder("ledger_kafka_relay_transactions").tag("result", "committed")
                .description("Kafka transactions of the relay (events and cursor together), by outcome").register(meters);
        this.transactionsAborted = Counter.builder("ledger_kafka_relay_transactions").tag("result", "aborted")
                .description("Kafka transactions of the relay (events and cursor together), by outcome").register(meters);
        this.eventsPublished = Counter.builder("ledger_kafka_relay_events").description("events the relay published in committed"
                + " transactions").register(meters);
        this.fencings = Counter.builder("ledger_kafka_relay_fenced").description("times this node's relay was fenced by another"
                + " with the same transactional.id").register(meters);
        Gauge.builder("ledger_kafka_relay_lag_events", this, r -> r.leads() ? r.lagEvents : 0)
                .description("acknowledged events not yet in a committed Kafka transaction (the leader's relay; 0 elsewhere)")
                .register(meters);
        Gauge.builder("ledger_kafka_relay_lag_seconds", this, KafkaRelay::lagSeconds)
                .description("ledger time from the newest acknowledged change back to the relay's committed cursor (leader only)")
                .register(meters);
        Gauge.builder("ledger_kafka_relay_relaying", this, r -> r.state == State.RELAYING ? 1 : 0)
                .description("1 while this node's relay publishes (it leads and holds the transactional id)").register(meters);
        writer.onAcknowledged(() -> {
            BatchWriter.Acknowledged a = writer.acknowledged();
            if (a != null) {
                horizonTsNs = a.lastTimestampNs();
            }
            wake.offer(Boolean.TRUE);
        });
        this.thread = Thread.ofPlatform().daemon().name("kafka-relay").unstarted(this::run);
    }

    /** Starts the relay beside a node: it publishes while {@code leader} leads, and waits otherwise. */
    public static KafkaRelay start(Config config, EventSource source, ReadGate leader, BatchWriter writer, MeterRegistry meters) {
        KafkaRelay r = new KafkaRelay(config, source, leader, writer, meters);
        // The client's INFO lines (every configuration value of every client) would drown the node's log.
        KAFKA_CLIENT_LOG.setLevel(Level.WARNING);
        r.thread.start();
        LOG.info(() -> "kafka relay: started for " + config.bootstrap() + ", topic " + config.topic() + " (publishes while this node leads)");
        return r;
    }

    public State state() {
        return state;
    }

    /** The state and why, for logs and tests ("RELAYING", "FENCED: ..."). */
    public String describe() {
        return state + (stateReason.isEmpty() ? "" : ": " + stateReason);
    }

    /** The position of the last committed transaction's cursor (as this relay knows it). */
    public Position committed() {
        return committed;
    }

    private boolean leads() {
        return leader.leads();
    }

    double lagSeconds() {
        if (!leads()) {
            return 0;
        }
        // Nothing committed yet counts from the ledger's time 0: a relay that never published alerts too.
        long h = horizonTsNs;
        long c = committed.timestampNs();
        return h > c ? (h - c) / 1e9 : 0;
    }

    public long transactionsCommitted() {
        return (long) transactionsCommitted.count();
    }

    public long transactionsAborted() {
        return (long) transactionsAborted.count();
    }

    /** Test hook: {@code hook} runs in each transaction after its sends and before its commit. */
    public void beforeCommit(Runnable hook) {
        this.beforeCommit = hook;
    }

    private void run() {
        long backoffMs = BACKOFF_MIN_MS;
        while (!closed) {
            try {
                if (!leads()) {
                    end(State.IDLE, "this node does not lead (" + leader.notLeadingReason() + ")");
                    pause(IDLE_RECHECK_MS);
                    continue;
                }
                if (session == null) {
                    to(State.STARTING, "");
                    session = open();
                    to(State.RELAYING, "");
                    backoffMs = BACKOFF_MIN_MS;
                }
                if (relayOnce() == 0) {
                    pause(IDLE_RECHECK_MS);
                }
            } catch (ProducerFencedException | InvalidProducerEpochException e) {
                fencings.increment();
                LOG.warning(() -> "kafka relay: FENCED: another relay with transactional.id " + sessionId()
                        + " started (the new leader's, or a restarted node's); this one stops publishing: " + e.getMessage());
                end(State.FENCED, "another relay took the transactional id over (" + e.getClass().getSimpleName() + ")");
                pause(backoffMs);
                backoffMs = Math.min(backoffMs * 2, BACKOFF_MAX_MS);
            } catch (Exception e) {
                if (closed) {
                    break;
                }
                String why = e.getClass().getSimpleName() + ": " + e.getMessage()
                        + (e.getCause() != null && e.getCause() != e ? " (cause: " + e.getCause() + ")" : "");
                refreshLag();
                long wait = backoffMs;
                LOG.warning(() -> "kafka relay: " + why + "; starting over from the committed cursor in " + wait + " ms");
                end(State.RETRYING, why);
                pause(backoffMs);
                backoffMs = Math.min(backoffMs * 2, BACKOFF_MAX_MS);
            }
        }
        end(State.CLOSED, "closed");
    }

    private String sessionId() {
        Session s = session;
        return s == null ? "?" : s.transactionalId();
    }

    private void to(State s, String reason) {
        if (state != s) {
            LOG.info(() -> "kafka relay: " + state + " -> " + s + (reason.isEmpty() ? "" : " (" + reason + ")"));
        }
        state = s;
        stateReason = reason;
    }

    private void pause(long ms) {
        try {
            wake.poll(ms, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            closed = true;
        }
    }

    /** Closes the session (its open transaction, if any, is aborted by the broker or by the next relay's fencing). */
    private void end(State next, String reason) {
        Session s = session;
        session = null;
        if (s != null) {
            try {
                s.producer().close(Duration.ofSeconds(5));
            } catch (RuntimeException e) {
                LOG.fine(() -> "kafka relay: closing the producer: " + e.getMessage());
            }
        }
        to(next, reason);
    }

    /**
     * A new session: the topics exist, a transactional producer holds the cell's id (fencing any other relay and
     * finishing its open transaction), and the committed cursor is read back with read_committed.
     */
    private Session open() throws Exception {
        Cursors cursors = source.cursors();
        String txId = transactionalId(cursors.cell());
        ensureTopics();
        Properties p = config.client("ledger-relay-" + cursors.cell());
        p.setProperty(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txId);
        p.setProperty(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.setProperty(ProducerConfig.ACKS_CONFIG, "all");
        p.setProperty(ProducerConfig.MAX_BLOCK_MS_CONFIG, Integer.toString(PRODUCER_MAX_BLOCK_MS));
        p.setProperty(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, Integer.toString(TRANSACTION_TIMEOUT_MS));
        p.setProperty(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        p.setProperty(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        p.setProperty(ProducerConfig.LINGER_MS_CONFIG, "5");
        KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
        try {
            producer.initTransactions();
            committed = readCommittedCursor(cursors, txId);
        } catch (RuntimeException e) {
            producer.close(Duration.ZERO);
            throw e;
        }
        LOG.info(() -> "kafka relay: publishing to " + config.topic() + " as " + txId + " after cursor "
                + (committed.equals(Position.START) ? "(the beginning)" : cursors.encode(committed)));
        return new Session(producer, cursors, txId);
    }

    private void ensureTopics() throws Exception {
        try (Admin admin = Admin.create(config.client("ledger-relay-admin"))) {
            Set<String> existing = admin.listTopics().names().get(15, TimeUnit.SECONDS);
            List<NewTopic> missing = new ArrayList<>();
            if (!existing.contains(config.topic())) {
                missing.add(new NewTopic(config.topic(), config.partitions(), config.replicationFactor()).configs(Map.of(
                        "retention.ms", Long.toString(TimeUnit.HOURS.toMillis(config.retentionHours())),
                        "min.insync.replicas", Integer.toString(Math.min(2, config.replicationFactor())))));
            }
            if (!existing.contains(config.cursorTopic())) {
                missing.add(new NewTopic(config.cursorTopic(), 1, config.replicationFactor()).configs(Map.of(
                        "cleanup.policy", "compact",
                        "min.insync.replicas", Integer.toString(Math.min(2, config.replicationFactor())))));
            }
            if (missing.isEmpty()) {
                return;
            }
            try {
                admin.createTopics(missing).all().get(30, TimeUnit.SECONDS);
                LOG.info(() -> "kafka relay: created " + missing.stream().map(NewTopic::name).toList());
            } catch (java.util.concurrent.ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw e;
                }
            }
        }
    }

    /** The cursor of the last committed transaction (the newest record of our key in the cursor topic), or START. */
    private Position readCommittedCursor(Cursors cursors, String txId) {
        Properties p = config.client("ledger-relay-cursor-reader");
        p.setProperty(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.setProperty(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        TopicPartition tp = new TopicPartition(config.cursorTopic(), 0);
        long deadline = System.nanoTime() + CURSOR_READ_TIMEOUT.toNanos();
        String last = null;
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            // With read_committed, the end is the last stable offset: after initTransactions nothing of ours is open.
            long end = c.endOffsets(List.of(tp), CURSOR_READ_TIMEOUT).get(tp);
            while (c.position(tp, CURSOR_READ_TIMEOUT) < end) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("reading the committed cursor from " + config.cursorTopic() + " took more than "
                            + CURSOR_READ_TIMEOUT.toSeconds() + " s");
                }
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                    if (txId.equals(r.key())) {
                        last = r.value();
                    }
                }
            }
        }
        if (last == null) {
            return Position.START;
        }
        try {
            Position p2 = cursors.decode(last);
            if (!source.exists(p2)) {
                throw new IllegalStateException("the committed cursor in " + config.cursorTopic() + " is not a position of this"
                        + " ledger's journal: the topic belongs to another deployment?");
            }
            return p2;
        } catch (Cursors.Invalid e) {
            throw new IllegalStateException("the committed cursor in " + config.cursorTopic() + " is not this cell's: " + e.getMessage());
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException("checking the committed cursor: " + e.getMessage(), e);
        }
    }

    /** While the relay cannot publish, its lag in events still counts what waits (bounded count; leader only). */
    private void refreshLag() {
        try {
            if (leads()) {
                Position horizon = source.horizon();
                horizonTsNs = Math.max(horizonTsNs, horizon.timestampNs());
                lagEvents = source.count(committed, horizon, LAG_EVENTS_COUNTED_MAX);
            }
        } catch (java.sql.SQLException | RuntimeException e) {
            LOG.fine(() -> "kafka relay: cannot count the lag: " + e.getMessage());
        }
    }

    /** Publishes one page (one transaction) after the committed cursor; returns how many events it published. */
    private int relayOnce() throws Exception {
        Session s = session;
        Position horizon = source.horizon();
        horizonTsNs = Math.max(horizonTsNs, horizon.timestampNs());
        EventSource.Page page = source.page(Caller.OPERATOR, committed, horizon, EventSource.Filter.ALL, config.batchEventsMax());
        lagEvents = page.events().size() < config.batchEventsMax() ? page.events().size()
                : source.count(committed, horizon, LAG_EVENTS_COUNTED_MAX);
        if (page.events().isEmpty() || !leads()) {
            return 0;
        }
        s.producer().beginTransaction();
        boolean done = false;
        try {
            for (LedgerEvent e : page.events()) {
                s.producer().send(record(s.cursors(), e));
            }
            String next = s.cursors().encode(page.next());
            s.producer().send(new ProducerRecord<>(config.cursorTopic(), 0, s.transactionalId(), next.getBytes(StandardCharsets.UTF_8)));
            beforeCommit.run();
            s.producer().commitTransaction();
            done = true;
        } finally {
            if (!done) {
                transactionsAborted.increment();
                try {
                    s.producer().abortTransaction();
                } catch (RuntimeException e) {
                    LOG.fine(() -> "kafka relay: abort failed (the session is closed anyway): " + e.getMessage());
                }
            }
        }
        committed = page.next();
        lagEvents = Math.max(0, lagEvents - page.events().size());
        transactionsCommitted.increment();
        eventsPublished.increment(page.events().size());
        return page.events().size();
    }

    private ProducerRecord<String, byte[]> record(Cursors cursors, LedgerEvent e) {
        Event event = EventsApi.proto(Caller.OPERATOR, cursors, e);
        ProducerRecord<String, byte[]> r = new ProducerRecord<>(config.topic(), key(e), value(config.format(), event));
        r.headers().add(new RecordHeader(HEADER_EVENT_TYPE, event.getType().name().getBytes(StandardCharsets.UTF_8)));
        r.headers().add(new RecordHeader(HEADER_EVENT_ID, event.getId().getBytes(StandardCharsets.UTF_8)));
        r.headers().add(new RecordHeader(HEADER_CURSOR, event.getCursor().getBytes(StandardCharsets.UTF_8)));
        r.headers().add(new RecordHeader(HEADER_CONTENT_TYPE, config.format().contentType.getBytes(StandardCharsets.UTF_8)));
        return r;
    }

    /** A record's value: the event as protobuf bytes, or its proto3 JSON (field names as in events.proto's JSON form). */
    public static byte[] value(Format format, Event event) {
        if (format == Format.PROTOBUF) {
            return event.toByteArray();
        }
        try {
            return com.google.protobuf.util.JsonFormat.printer().omittingInsignificantWhitespace().print(event)
                    .getBytes(StandardCharsets.UTF_8);
        } catch (com.google.protobuf.InvalidProtocolBufferException ex) {
            throw new IllegalStateException("cannot print event " + event.getId() + " as JSON: " + ex.getMessage(), ex);
        }
    }

    @Override
    public void close() {
        closed = true;
        wake.offer(Boolean.TRUE);
        try {
            thread.join(Duration.ofSeconds(40));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            LOG.warning("kafka relay: did not stop within 40 s");
        }
    }
}
