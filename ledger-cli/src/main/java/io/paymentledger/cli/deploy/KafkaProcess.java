package io.paymentledger.cli.deploy;

import io.paymentledger.ledger.events.kafka.KafkaRelay;
import io.paymentledger.replication.net.Ports;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.kafka.clients.admin.Admin;

/**
 * The local deployment's Kafka broker ({@code ./ledger up --kafka}): one KRaft node that is broker and controller at
 * once, from the Maven Central jars (module kafka-broker; its own classpath, its own JVM), on 127.0.0.1, data under
 * {@code <dir>/kafka}, with the single-node settings transactions need. Its settings (ports, cluster id, the relay's
 * topic) are chosen on first use and kept in {@code <dir>/kafka/kafka.json}; {@code ./ledger up --kafka} turns it on
 * for the deployment (the nodes then run the relay), {@code --no-kafka} off; without either nothing of Kafka runs.
 */
public final class KafkaProcess {

    private static final Logger LOG = Logger.getLogger(KafkaProcess.class.getName());
    /** Held here: java.util.logging keeps loggers weakly, and a collected one forgets its level. */
    private static final Logger KAFKA_CLIENT_LOG = Logger.getLogger("org.apache.kafka");

    /**
     * The operator's commands print their own sentences; the Kafka client's (a WARN per refused connection while the
     * broker starts) only into the log's SEVERE lines.
     */
    public static void quietClient() {
        KAFKA_CLIENT_LOG.setLevel(Level.SEVERE);
    }
    public static final String NAME = "kafka";
    public static final String MAIN_CLASS = "kafka.Kafka";
    static final String STORAGE_TOOL = "kafka.tools.StorageTool";
    /** One start attempt waits this long for the broker to answer: 42 s were measured at a load average of 36 on 2 cores. */
    static final Duration START_ATTEMPT_TIMEOUT = Duration.ofSeconds(90);
    static final int START_ATTEMPTS = 2;
    static final Duration FORMAT_TIMEOUT = Duration.ofSeconds(60);
    static final Duration STOP_GRACE = Duration.ofSeconds(20);

    /**
     * What {@code <dir>/kafka/kafka.json} records: whether the deployment runs Kafka, the broker's ports and cluster id
     * (chosen once), and the relay's topic layout (edit before the relay's first start: a topic is created once).
     */
    public record Settings(boolean enabled, int port, int controllerPort, String clusterId, String topic, int partitions,
            long retentionHours, KafkaRelay.Format format) {

        JsonObject toJson() {
            return new JsonObject().put("enabled", enabled).put("port", port).put("controllerPort", controllerPort)
                    .put("clusterId", clusterId).put("topic", topic).put("partitions", partitions)
                    .put("retentionHours", retentionHours).put("format", format.name());
        }

        static Settings fromJson(JsonObject j) {
            return new Settings(j.getBoolean("enabled", false), j.getInteger("port"), j.getInteger("controllerPort"),
                    j.getString("clusterId"), j.getString("topic", KafkaRelay.Config.DEFAULT_TOPIC),
                    j.getInteger("partitions", KafkaRelay.Config.DEFAULT_PARTITIONS),
                    j.getLong("retentionHours", KafkaRelay.Config.DEFAULT_RETENTION_HOURS),
                    KafkaRelay.Format.valueOf(j.getString("format", KafkaRelay.Format.PROTOBUF.name())));
        }

        Settings enabled(boolean on) {
            return new Settings(on, port, controllerPort, clusterId, topic, partitions, retentionHours, format);
        }

        public String bootstrap() {
            return Sites.LOOPBACK_HOST + ":" + port;
        }
    }

    private KafkaProcess() {}

    public static Path dir(Topology t) {
        return t.dir().resolve("kafka");
    }

    static Path settingsFile(Topology t) {
        return dir(t).resolve("kafka.json");
    }

    /** The recorded settings, or fresh ones (not enabled, free ports, a new cluster id) when none are recorded. */
    public static Settings settings(Topology t) {
        Path file = settingsFile(t);
        if (Files.exists(file)) {
            try {
                return Settings.fromJson(new JsonObject(Files.readString(file)));
            } catch (IOException | RuntimeException e) {
                throw new IllegalStateException("cannot read " + file + ": " + e.getMessage() + " (fix or delete it)", e);
            }
        }
        int port = Ports.isListening(7509) ? Ports.free() : 7509;
        int controller = Ports.isListening(7510) || port == 7510 ? Ports.free() : 7510;
        return new Settings(false, port, controller, clusterId(), KafkaRelay.Config.DEFAULT_TOPIC,
                KafkaRelay.Config.DEFAULT_PARTITIONS, KafkaRelay.Config.DEFAULT_RETENTION_HOURS, KafkaRelay.Format.PROTOBUF);
    }

    static void save(Topology t, Settings s) {
        try {
            Files.createDirectories(dir(t));
            Files.writeString(settingsFile(t), s.toJson().encodePrettily());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + settingsFile(t), e);
        }
    }

    public static boolean enabled(Topology t) {
        return Files.exists(settingsFile(t)) && settings(t).enabled();
    }

    /** Records whether the deployment runs Kafka (from the next node start on, for the relay). */
    public static Settings record(Topology t, boolean on) {
        if (on && t.sites().netns()) {
            // The broker listens on the host's 127.0.0.1; a node in its site's namespace has its own loopback.
            throw new IllegalArgumentException("--kafka works with --sites loopback only: the broker listens on 127.0.0.1,"
                    + " which the nodes in their network namespaces do not reach (docs/decisions/0008-kafka-relay.md)");
        }
        Settings s = settings(t).enabled(on);
        save(t, s);
        return s;
    }

    /** A KRaft cluster id: 16 random bytes, base64url without padding (what {@code kafka-storage random-uuid} prints). */
    static String clusterId() {
        byte[] b = new byte[16];
        new java.security.SecureRandom().nextBytes(b);
        return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    /** The relay options a node gets when the deployment runs Kafka (none otherwise). */
    public static List<String> nodeArguments(Topology t) {
        if (!enabled(t)) {
            return List.of();
        }
        Settings s = settings(t);
        return List.of("--kafka-bootstrap", s.bootstrap(), "--kafka-topic", s.topic(), "--kafka-partitions",
                Integer.toString(s.partitions()), "--kafka-retention-hours", Long.toString(s.retentionHours()),
                "--kafka-format", s.format().name());
    }

    /** The broker's jars: {@code -Dledger.kafka.lib}, else kafka-broker/target/lib of the checkout ({@code ledger.home} or above). */
    static Path brokerLib() {
        String explicit = System.getProperty("ledger.kafka.lib");
        if (explicit != null) {
            return Path.of(explicit);
        }
        List<Path> candidates = new ArrayList<>();
        String home = System.getProperty("ledger.home");
        if (home != null) {
            candidates.add(Path.of(home));
        }
        Path cwd = Path.of("").toAbsolutePath();
        candidates.add(cwd);
        if (cwd.getParent() != null) {
            candidates.add(cwd.getParent());
        }
        for (Path c : candidates) {
            Path lib = c.resolve("kafka-broker/target/lib");
            if (Files.isDirectory(lib)) {
                return lib;
            }
        }
        throw new IllegalStateException("the Kafka broker's jars are not built (looked for kafka-broker/target/lib in "
                + candidates + "); build with ./mvnw -pl kafka-broker generate-resources (./ledger does it)");
    }

    static Path serverProperties(Topology t) {
        return dir(t).resolve("server.properties");
    }

    static Path dataDir(Topology t) {
        return dir(t).resolve("data");
    }

    /** The broker's key and certificate in one PEM file (Kafka's PEM key store), written at each start. */
    static Path brokerKeyStore(Topology t) {
        return dir(t).resolve("broker-keystore.pem");
    }

    /**
     * The broker's configuration: one node, broker and controller, transactions on one replica; both listeners TLS 1.3
     * with the deployment's PKI, client certificates required (the nodes' relays, the operator).
     */
    static Properties serverConfig(Topology t, Settings s) {
        Properties p = new Properties();
        p.setProperty("process.roles", "broker,controller");
        p.setProperty("node.id", "1");
        p.setProperty("controller.quorum.voters", "1@" + Sites.LOOPBACK_HOST + ":" + s.controllerPort());
        p.setProperty("listeners", "SSL://" + Sites.LOOPBACK_HOST + ":" + s.port() + ",CONTROLLER://"
                + Sites.LOOPBACK_HOST + ":" + s.controllerPort());
        p.setProperty("advertised.listeners", "SSL://" + s.bootstrap());
        p.setProperty("listener.security.protocol.map", "SSL:SSL,CONTROLLER:SSL");
        p.setProperty("inter.broker.listener.name", "SSL");
        p.setProperty("controller.listener.names", "CONTROLLER");
        p.setProperty("ssl.keystore.type", "PEM");
        p.setProperty("ssl.keystore.location", brokerKeyStore(t).toString());
        p.setProperty("ssl.truststore.type", "PEM");
        p.setProperty("ssl.truststore.location", DeploymentSecurity.open(t).caFile().toString());
        p.setProperty("ssl.client.auth", "required");
        p.setProperty("ssl.enabled.protocols", "TLSv1.3");
        p.setProperty("ssl.protocol", "TLSv1.3");
        p.setProperty("log.dirs", dataDir(t).toString());
        // One broker: every internal topic on one replica, or the transaction coordinator never becomes available.
        p.setProperty("offsets.topic.replication.factor", "1");
        p.setProperty("offsets.topic.num.partitions", "3");
        p.setProperty("transaction.state.log.replication.factor", "1");
        p.setProperty("transaction.state.log.min.isr", "1");
        p.setProperty("transaction.state.log.num.partitions", "3");
        p.setProperty("share.coordinator.state.topic.replication.factor", "1");
        p.setProperty("share.coordinator.state.topic.min.isr", "1");
        p.setProperty("min.insync.replicas", "1");
        p.setProperty("group.initial.rebalance.delay.ms", "0");
        // Topics are created by the relay with their layout, never by a typo in a consumer.
        p.setProperty("auto.create.topics.enable", "false");
        p.setProperty("num.network.threads", "2");
        p.setProperty("num.io.threads", "2");
        p.setProperty("background.threads", "2");
        return p;
    }

    /**
     * TLS client properties for the broker with {@code cert} (a node's for its relay, the operator's for ./ledger and
     * consumers by hand): Kafka's PEM key store, read from the files each time it is asked (renewals are picked up by
     * the next client).
     */
    public static java.util.Map<String, String> tlsClient(Topology t, io.paymentledger.security.pki.IssuedCert cert) {
        try {
            return java.util.Map.of("security.protocol", "SSL", "ssl.protocol", "TLSv1.3", "ssl.enabled.protocols", "TLSv1.3",
                    "ssl.keystore.type", "PEM",
                    "ssl.keystore.certificate.chain", Files.readString(cert.certFile()),
                    "ssl.keystore.key", Files.readString(cert.keyFile()),
                    "ssl.truststore.type", "PEM",
                    "ssl.truststore.certificates", Files.readString(DeploymentSecurity.open(t).caFile()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the TLS material for Kafka (" + cert.certFile() + ")", e);
        }
    }

    /** The TLS settings of a node's relay: its node certificate, asked again for each new Kafka client. */
    static java.util.function.Supplier<java.util.Map<String, String>> relaySecurity(Topology t, io.paymentledger.security.pki.IssuedCert cert) {
        return () -> tlsClient(t, cert);
    }

    /** The properties an operator's client of this broker needs (bootstrap, TLS with the operator certificate). */
    public static Properties clientProperties(Topology t) {
        Properties p = new Properties();
        p.putAll(tlsClient(t, DeploymentSecurity.open(t).operator()));
        p.setProperty("bootstrap.servers", settings(t).bootstrap());
        return p;
    }

    public static java.util.Optional<ProcessHandle> running(Topology t) {
        return Processes.running(t, NAME);
    }

    /**
     * {@code ./ledger up}: starts the broker when the deployment runs Kafka. A broker that does not come up does not
     * stop the ledger: the line says so, and the relay publishes once it is started ({@code ./ledger up} again).
     */
    public static void upIfEnabled(Topology t, PrintStream out) {
        if (!enabled(t)) {
            return;
        }
        try {
            up(t, out);
        } catch (IllegalStateException | UncheckedIOException e) {
            out.println("kafka: NOT STARTED: " + e.getMessage() + ". The ledger starts without it; the relay keeps retrying"
                    + " and catches up once the broker answers (./ledger up starts it again; runbooks/events.md, Kafka relay)");
        }
    }

    /**
     * Starts the broker unless it runs (formatting its storage on first use), and waits until it answers; retries a
     * start that does not answer in time once. Throws with the log's path when it does not come up.
     */
    public static void up(Topology t, PrintStream out) {
        quietClient();
        Settings s = settings(t);
        if (running(t).isPresent()) {
            awaitReady(t, s, START_ATTEMPT_TIMEOUT);
            out.println("kafka: running (pid " + running(t).map(ProcessHandle::pid).orElse(-1L) + ", " + s.bootstrap() + ")");
            return;
        }
        long began = System.nanoTime();
        write(t, s);
        format(t, s);
        for (int attempt = 1; ; attempt++) {
            long pid = start(t);
            out.println("kafka: starting (pid " + pid + ", KRaft broker+controller on " + s.bootstrap() + ", data "
                    + dataDir(t) + ", log " + Processes.logFile(t, NAME) + ")");
            try {
                awaitReady(t, s, START_ATTEMPT_TIMEOUT);
                out.printf("kafka: ready in %.1f s (cluster %s; topic %s, %d partitions, %d h retention, %s)%n",
                        (System.nanoTime() - began) / 1e9, s.clusterId(), s.topic(), s.partitions(), s.retentionHours(),
                        s.format().name().toLowerCase(java.util.Locale.ROOT));
                return;
            } catch (IllegalStateException notReady) {
                Processes.stop(t, NAME, STOP_GRACE);
                if (attempt >= START_ATTEMPTS) {
                    throw new IllegalStateException("kafka: the broker did not come up (" + attempt + " attempts of "
                            + START_ATTEMPT_TIMEOUT.toSeconds() + " s): " + notReady.getMessage() + "; see "
                            + Processes.logFile(t, NAME));
                }
                out.println("kafka: " + notReady.getMessage() + "; starting it again (attempt " + (attempt + 1) + " of "
                        + START_ATTEMPTS + ")");
            }
        }
    }

    static long start(Topology t) {
        return Processes.startJava(t, NAME, List.of("-Xms64m", "-Xmx512m", "-XX:+UseSerialGC",
                        "-Dorg.slf4j.simpleLogger.showDateTime=true", "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS",
                        "-Dorg.slf4j.simpleLogger.log.org.apache.kafka.common.config=warn"),
                brokerLib() + "/*", MAIN_CLASS, List.of(serverProperties(t).toString()));
    }

    private static void write(Topology t, Settings s) {
        try {
            Files.createDirectories(dataDir(t));
            var cert = DeploymentSecurity.open(t).kafka();
            Path keyStore = brokerKeyStore(t);
            Files.writeString(keyStore, Files.readString(cert.keyFile()) + Files.readString(cert.certFile()));
            Files.setPosixFilePermissions(keyStore, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            try (var w = Files.newBufferedWriter(serverProperties(t))) {
                serverConfig(t, s).store(w, "written by ./ledger up --kafka from " + settingsFile(t) + "; edits are overwritten");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + serverProperties(t), e);
        }
    }

    /** Formats the storage with the deployment's cluster id on first use (kafka-storage format; a formatted one is kept). */
    static void format(Topology t, Settings s) {
        if (Files.exists(dataDir(t).resolve("meta.properties"))) {
            return;
        }
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = List.of(java, "-Xmx256m", "-XX:+UseSerialGC", "-cp", brokerLib() + "/*", STORAGE_TOOL, "format",
                "-t", s.clusterId(), "-c", serverProperties(t).toString(), "--ignore-formatted");
        try {
            Files.createDirectories(t.logs());
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(Processes.logFile(t, NAME).toFile())).start();
            if (!p.waitFor(FORMAT_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("kafka: formatting the storage took more than " + FORMAT_TIMEOUT.toSeconds()
                        + " s; see " + Processes.logFile(t, NAME));
            }
            if (p.exitValue() != 0) {
                throw new IllegalStateException("kafka: formatting the storage failed (exit " + p.exitValue() + "); see "
                        + Processes.logFile(t, NAME));
            }
            LOG.info(() -> "kafka: storage formatted in " + dataDir(t) + " (cluster " + s.clusterId() + ")");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + STORAGE_TOOL, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while formatting Kafka's storage", e);
        }
    }

    /** Waits until the broker's process runs and its cluster answers with one broker, at most {@code timeout}. */
    static void awaitReady(Topology t, Settings s, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String last = "no answer yet";
        Properties p = clientProperties(t);
        p.setProperty("request.timeout.ms", "5000");
        p.setProperty("default.api.timeout.ms", "5000");
        try (Admin admin = Admin.create(p)) {
            while (System.nanoTime() < deadline) {
                if (running(t).isEmpty()) {
                    throw new IllegalStateException("the broker's process exited (last lines of " + Processes.logFile(t, NAME)
                            + ": " + tail(Processes.logFile(t, NAME), 3) + ")");
                }
                try {
                    int brokers = admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).size();
                    if (brokers > 0) {
                        return;
                    }
                    last = "the cluster answers with no broker";
                } catch (Exception e) {
                    last = e.getClass().getSimpleName() + ": " + e.getMessage();
                }
                LocalDeployment.sleep(500);
            }
        }
        throw new IllegalStateException("no answer from " + s.bootstrap() + " within " + timeout.toSeconds() + " s (" + last + ")");
    }

    static String tail(Path log, int lines) {
        try {
            List<String> all = Files.readAllLines(log);
            return String.join(" | ", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(cannot read it: " + e.getMessage() + ")";
        }
    }

    /** Stops the broker by its PID (SIGTERM: it closes its logs cleanly; SIGKILL after a grace). */
    public static boolean stop(Topology t) {
        return Processes.stop(t, NAME, STOP_GRACE);
    }

    /** The {@code kafka:} line of {@code ./ledger status}. */
    public static JsonObject status(Topology t) {
        if (!Files.exists(settingsFile(t))) {
            return new JsonObject().put("enabled", false);
        }
        Settings s = settings(t);
        var pid = running(t).map(ProcessHandle::pid);
        return new JsonObject().put("enabled", s.enabled()).put("address", s.bootstrap()).put("pid", pid.orElse(null))
                .put("listening", Ports.isListening(s.port())).put("topic", s.topic()).put("cursorTopic",
                        KafkaRelay.Config.cursorTopic(s.topic())).put("log", Processes.logFile(t, NAME).toString());
    }

    public static String statusLine(JsonObject k) {
        if (!k.getBoolean("enabled", false) && k.getValue("pid") == null) {
            return "kafka:      off (./ledger up --kafka starts a broker and the relay)";
        }
        Object pid = k.getValue("pid");
        return "kafka:      " + k.getString("address") + " " + (pid == null ? "no PID" : "pid " + pid) + ": "
                + (pid == null ? "NOT RUNNING (./ledger up --kafka starts it; log " + k.getString("log") + ")"
                : k.getBoolean("listening") ? "accepts connections" : "running but NOT listening (starting? log " + k.getString("log") + ")")
                + "; topic " + k.getString("topic") + ", relay cursor in " + k.getString("cursorTopic")
                + (k.getBoolean("enabled") ? "" : " (turned off: the nodes run no relay)");
    }
}
