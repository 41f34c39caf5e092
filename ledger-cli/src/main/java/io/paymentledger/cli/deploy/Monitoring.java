package io.paymentledger.cli.deploy;

import io.paymentledger.replication.net.Ports;
import io.paymentledger.replication.postgres.PgCluster;
import io.paymentledger.security.pki.IssuedCert;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The deployment's monitoring: Debian's {@code prometheus}, scraping every ledger node and the router at
 * {@code /metrics} over mutual TLS (with the deployment's {@code prometheus} client certificate), and one
 * {@code prometheus-postgres-exporter} per region's PostgreSQL (served over TLS to that certificate only), with the
 * ledger's alert rules loaded. Started by {@code ./ledger up} when the programs are installed, stopped by
 * {@code ./ledger down}; everything under {@code <dir>/prometheus/}, logs in {@code <dir>/logs/}.
 */
public final class Monitoring {

    public static final String PROMETHEUS = "prometheus";
    public static final String PROMETHEUS_BINARY = "prometheus";
    public static final String PG_EXPORTER_BINARY = "prometheus-postgres-exporter";
    /** Prometheus scrapes and evaluates the alert rules this often (the rules' shortest `for` is 10 s). */
    public static final Duration SCRAPE_INTERVAL = Duration.ofSeconds(5);
    /** A scrape gives up after this long (below the interval). */
    public static final Duration SCRAPE_TIMEOUT = Duration.ofSeconds(4);
    /** Samples are kept this long. */
    public static final Duration RETENTION = Duration.ofDays(15);
    /** `up` waits this long for Prometheus to say it is ready before it goes on (and says so). */
    static final Duration READY_TIMEOUT = Duration.ofSeconds(20);
    /** The alert rules, from the classpath (ledger-cli/src/main/resources/observability/alerts.yml). */
    public static final String ALERTS_RESOURCE = "/observability/alerts.yml";

    private final Topology t;
    private final DeploymentSecurity security;
    private final PrintStream out;

    public Monitoring(Topology t, DeploymentSecurity security, PrintStream out) {
        this.t = t;
        this.security = security;
        this.out = out;
    }

    public static String pgExporterName(String region) {
        return "pg-exporter-" + region;
    }

    /** Prometheus' address, where it is (or would be) listening. */
    public static String prometheusAddress(Topology t) {
        return "127.0.0.1:" + t.monitoring().prometheusPort();
    }

    /** A program on the PATH, if installed. */
    static Optional<Path> onPath(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path p = Path.of(dir, program);
            if (!dir.isEmpty() && Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    /** Whether {@code program} is on the PATH. */
    public static boolean installed(String program) {
        return onPath(program).isPresent();
    }

    /** Starts what is installed and not running: the exporters first (Prometheus' first scrape finds them up). */
    public void up() {
        Optional<Path> prometheus = onPath(PROMETHEUS_BINARY);
        if (prometheus.isEmpty()) {
            out.println("prometheus not installed: metrics are still served at " + metricsEndpoints()
                    + " (client certificate " + security.prometheus().certFile() + " or the operator's)");
            return;
        }
        try {
            Files.createDirectories(t.prometheusDir());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        IssuedCert scraper = security.prometheus();
        Optional<Path> exporter = onPath(PG_EXPORTER_BINARY);
        if (exporter.isEmpty()) {
            out.println(PG_EXPORTER_BINARY + " not installed: PostgreSQL is not scraped (the nodes still report replication)");
        } else {
            t.regions().keySet().forEach(r -> startPgExporter(exporter.get(), r, scraper));
        }
        if (Processes.running(t, PROMETHEUS).isPresent()) {
            return;
        }
        if (Ports.isListening(t.monitoring().prometheusPort())) {
            out.println("prometheus: not started, " + prometheusAddress(t) + " is taken by another program (change"
                    + " monitoring.prometheusPort in " + t.dir().resolve(Topology.FILE) + ", then ./ledger up)");
            return;
        }
        writeConfig(scraper, exporter.isPresent());
        List<String> cmd = List.of(prometheus.get().toString(),
                "--config.file=" + Processes.externalConfig(t, PROMETHEUS),
                "--storage.tsdb.path=" + t.prometheusDir().resolve("data"),
                "--storage.tsdb.retention.time=" + RETENTION.toDays() + "d",
                "--web.listen-address=" + prometheusAddress(t));
        long pid = Processes.startExternal(t, PROMETHEUS, cmd, Map.of());
        boolean ready = awaitReady(READY_TIMEOUT) && Processes.running(t, PROMETHEUS).isPresent();
        out.println("prometheus: http://" + prometheusAddress(t) + (ready ? "" : " (not ready yet)") + " (pid " + pid
                + ", scraping nodes, router" + (exporter.isPresent() ? ", PostgreSQL exporters" : "") + " over mTLS every "
                + SCRAPE_INTERVAL.toSeconds() + " s; alert rules " + t.prometheusDir().resolve("alerts.yml") + "; log "
                + Processes.logFile(t, PROMETHEUS) + ")");
    }

    /** Stops Prometheus and the exporters (by their recorded PIDs). */
    public void down() {
        if (Processes.stop(t, PROMETHEUS, Duration.ofSeconds(10))) {
            out.println("prometheus: stopped");
        }
        for (String r : t.regions().keySet()) {
            if (Processes.stop(t, pgExporterName(r), Duration.ofSeconds(5))) {
                out.println("postgres exporter " + r + ": stopped");
            }
        }
    }

    private String metricsEndpoints() {
        List<String> urls = new ArrayList<>();
        t.regions().values().forEach(r -> urls.add("https://" + t.host(r.name()) + ":" + r.grpcPort() + "/metrics"));
        urls.add("https://127.0.0.1:" + t.routerPort() + "/metrics");
        return String.join(", ", urls);
    }

    private void startPgExporter(Path binary, String region, IssuedCert scraper) {
        String name = pgExporterName(region);
        if (Processes.running(t, name).isPresent()) {
            return;
        }
        Topology.Region r = t.region(region);
        int port = t.monitoring().pgExporterPorts().get(region);
        if (Ports.isListening(port)) {
            out.println("postgres exporter " + region + ": not started, 127.0.0.1:" + port + " is taken by another program"
                    + " (change monitoring.pgExporterPorts in " + t.dir().resolve(Topology.FILE) + ", then ./ledger up)");
            return;
        }
        // It serves its metrics over TLS with the region's PostgreSQL certificate (same site) to Prometheus' certificate.
        IssuedCert server = security.postgres(region);
        write(Processes.externalConfig(t, name), "# Written by ./ledger up (Monitoring.java) at every start.\n"
                + "tls_server_config:\n"
                + "  cert_file: " + server.certFile() + "\n"
                + "  key_file: " + server.keyFile() + "\n"
                + "  client_auth_type: RequireAndVerifyClientCert\n"
                + "  client_ca_file: " + security.caFile() + "\n"
                + "  min_version: TLS13\n");
        Path passFile = t.prometheusDir().resolve(name + ".password");
        writeSecret(passFile, security.postgresPassword());
        // It connects like the tools do: TLS verified against the CA, a client certificate, the superuser's password
        // (from a 0600 file, not the environment). A pg_monitor role of its own is left for later (see the README).
        String uri = t.host(region) + ":" + r.pgPort() + "/postgres?sslmode=verify-full&sslrootcert=" + security.caFile()
                + "&sslcert=" + scraper.certFile() + "&sslkey=" + scraper.keyFile();
        long pid = Processes.startExternal(t, name, List.of(binary.toString(),
                "--web.listen-address=127.0.0.1:" + port,
                "--web.config.file=" + Processes.externalConfig(t, name),
                "--disable-settings-metrics"),
                Map.of("DATA_SOURCE_URI", uri, "DATA_SOURCE_USER", PgCluster.SUPERUSER, "DATA_SOURCE_PASS_FILE", passFile.toString()));
        out.println("postgres exporter " + region + ": https://127.0.0.1:" + port + "/metrics (pid " + pid + ")");
    }

    private void writeConfig(IssuedCert scraper, boolean exporters) {
        copyAlerts(t.prometheusDir().resolve("alerts.yml"));
        String tls = "    tls_config:\n"
                + "      ca_file: " + security.caFile() + "\n"
                + "      cert_file: " + scraper.certFile() + "\n"
                + "      key_file: " + scraper.keyFile() + "\n"
                + "      min_version: TLS13\n";
        StringBuilder y = new StringBuilder();
        y.append("# Written by ./ledger up (ledger-cli deploy/Monitoring.java) at every start: change the code, not this file.\n");
        y.append("global:\n  scrape_interval: ").append(SCRAPE_INTERVAL.toSeconds()).append("s\n")
                .append("  scrape_timeout: ").append(SCRAPE_TIMEOUT.toSeconds()).append("s\n")
                .append("  evaluation_interval: ").append(SCRAPE_INTERVAL.toSeconds()).append("s\n");
        y.append("rule_files:\n  - alerts.yml\n");
        y.append("scrape_configs:\n");
        // Nodes label their own metrics with region and process: no target labels, which would clash.
        y.append("  - job_name: ledger-node\n    scheme: https\n").append(tls).append("    static_configs:\n      - targets:\n");
        t.regions().values().forEach(r -> y.append("          - ").append(t.host(r.name())).append(':').append(r.grpcPort()).append('\n'));
        y.append("  - job_name: ledger-router\n    scheme: https\n").append(tls)
                .append("    static_configs:\n      - targets:\n          - 127.0.0.1:").append(t.routerPort()).append('\n');
        if (exporters) {
            y.append("  - job_name: postgres\n    scheme: https\n").append(tls).append("    static_configs:\n");
            t.regions().keySet().forEach(r -> y.append("      - targets:\n          - 127.0.0.1:")
                    .append(t.monitoring().pgExporterPorts().get(r)).append("\n        labels:\n          region: ").append(r).append('\n'));
        }
        y.append("  - job_name: prometheus\n    static_configs:\n      - targets:\n          - ").append(prometheusAddress(t)).append('\n');
        write(Processes.externalConfig(t, PROMETHEUS), y.toString());
    }

    private static void copyAlerts(Path to) {
        try (InputStream in = Monitoring.class.getResourceAsStream(ALERTS_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(ALERTS_RESOURCE + " is missing from the classpath (rebuild ledger-cli)");
            }
            Files.copy(in, to, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void write(Path file, String text) {
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(file, text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void writeSecret(Path file, String secret) {
        try {
            Files.deleteIfExists(file);
            Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(file, secret);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Waits until Prometheus answers {@code /-/ready}; false when it does not within {@code timeout}. */
    public boolean awaitReady(Duration timeout) {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            try {
                HttpResponse<Void> r = http.send(HttpRequest.newBuilder(URI.create("http://" + prometheusAddress(t) + "/-/ready"))
                        .timeout(Duration.ofSeconds(1)).build(), HttpResponse.BodyHandlers.discarding());
                if (r.statusCode() == 200) {
                    return true;
                }
            } catch (IOException e) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
            LocalDeployment.sleep(200);
        }
        return false;
    }
}
