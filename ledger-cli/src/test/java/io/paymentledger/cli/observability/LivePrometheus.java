package io.paymentledger.cli.observability;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.Account;
import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.LedgerServiceGrpcClient;
import io.paymentledger.api.v1.Transfer;
import io.paymentledger.cli.deploy.Clients;
import io.paymentledger.cli.deploy.DeploymentSecurity;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.Monitoring;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.security.pki.IssuedCert;
import io.paymentledger.security.tls.Tls;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * What an operator relies on from the Prometheus that {@code ./ledger up} starts, checked against a running deployment
 * (LocalDeploymentTest's): every scrape target is up (nodes and router over mTLS, both PostgreSQL exporters,
 * Prometheus itself), the alert rules are loaded, every query of the Grafana dashboard is valid and returns data while
 * the ledger serves traffic, and {@code /metrics} answers the {@code prometheus} certificate but not a merchant's.
 * Needs Debian's {@code prometheus} and {@code prometheus-postgres-exporter} ({@code .ci/run} installs both).
 */
public final class LivePrometheus {

    /** Targets: two nodes, the router, two PostgreSQL exporters, Prometheus itself. */
    static final int TARGETS = 6;
    /** Rules in alerts.yml (PrometheusRulesTest checks the same count with promtool). */
    static final int ALERT_RULES = 11;
    /** Long enough for two scrapes after the first traffic (rates need two samples), at 5 s a scrape. */
    static final Duration DATA_TIMEOUT = Duration.ofSeconds(45);
    static final String DASHBOARD_RESOURCE = "/observability/grafana-dashboard.json";

    private final Topology t;
    private final java.net.http.HttpClient http = java.net.http.HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    public LivePrometheus(Topology t) {
        this.t = t;
    }

    /** Runs every check; fails naming what is missing. */
    public void assertServesEverything() throws Exception {
        assertThat(Monitoring.installed(Monitoring.PROMETHEUS_BINARY))
                .as("Debian's prometheus package (apt-get install prometheus; .ci/run does it)").isTrue();
        assertThat(Monitoring.installed(Monitoring.PG_EXPORTER_BINARY))
                .as("Debian's prometheus-postgres-exporter package (.ci/run installs it)").isTrue();
        long start = System.nanoTime();
        metricsOnlyForPrometheusAndOperator();
        Map<String, String> problems = new LinkedHashMap<>();
        long deadline = System.nanoTime() + DATA_TIMEOUT.toNanos();
        DeploymentSecurity security = DeploymentSecurity.open(t);
        try (Clients merchant = Clients.tls(security, security.merchant(DeploymentSecurity.LOAD_MERCHANT));
                Clients operator = Clients.operator(t)) {
            String run = "obs-" + UUID.randomUUID().toString().substring(0, 8);
            LedgerServiceGrpcClient ledger = LedgerServiceGrpcClient.create(merchant.grpc(), Clients.loopback(t.routerPort()));
            ledger.createAccounts(CreateAccountsRequest.newBuilder()
                    .addAccounts(Account.newBuilder().setId(run + "-a").setCurrency("EUR").setCode(1).setOwner(DeploymentSecurity.LOAD_MERCHANT))
                    .addAccounts(Account.newBuilder().setId(run + "-b").setCurrency("EUR").setCode(1).setOwner(DeploymentSecurity.LOAD_MERCHANT))
                    .build()).await(10, TimeUnit.SECONDS);
            int seq = 0;
            do {
                // A trickle of payments and status calls through the router: every rate on the dashboard has an increase.
                ledger.createTransfers(CreateTransfersRequest.newBuilder().addTransfers(Transfer.newBuilder()
                        .setId(run + "-" + seq++).setDebitAccountId(run + "-a").setCreditAccountId(run + "-b").setAmount(1)
                        .setCurrency("EUR").setCode(1)).build()).await(10, TimeUnit.SECONDS);
                operator.nodeStatus(t.routerPort());
                problems = problems();
                if (problems.isEmpty()) {
                    System.out.printf("LivePrometheus: %d targets up, %d rules, %d dashboard queries with data after %d ms%n",
                            TARGETS, ALERT_RULES, dashboardQueries().size(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
                    return;
                }
                LocalDeployment.sleep(1000);
            } while (System.nanoTime() < deadline);
        }
        assertThat(problems).as("Prometheus at %s after %d s of traffic", Monitoring.prometheusAddress(t),
                DATA_TIMEOUT.toSeconds()).isEmpty();
    }

    /** Everything not yet as it should be, by what (empty: all well). */
    Map<String, String> problems() throws Exception {
        Map<String, String> problems = new LinkedHashMap<>();
        JsonArray targets = api("/api/v1/targets").getJsonObject("data").getJsonArray("activeTargets");
        List<String> up = new ArrayList<>();
        for (int i = 0; i < targets.size(); i++) {
            JsonObject target = targets.getJsonObject(i);
            if ("up".equals(target.getString("health"))) {
                up.add(target.getString("scrapeUrl"));
            } else {
                problems.put("target " + target.getString("scrapeUrl"), target.getString("health") + ": " + target.getString("lastError"));
            }
        }
        if (up.size() != TARGETS) {
            problems.put("targets up", up + " (expected " + TARGETS + ")");
        }
        int rules = 0;
        JsonArray groups = api("/api/v1/rules").getJsonObject("data").getJsonArray("groups");
        for (int g = 0; g < groups.size(); g++) {
            JsonArray rs = groups.getJsonObject(g).getJsonArray("rules");
            for (int r = 0; r < rs.size(); r++) {
                JsonObject rule = rs.getJsonObject(r);
                rules++;
                if (!"ok".equals(rule.getString("health"))) {
                    problems.put("rule " + rule.getString("name"), rule.getString("health") + ": " + rule.getString("lastError"));
                }
            }
        }
        if (rules != ALERT_RULES) {
            problems.put("alert rules", rules + " loaded, expected " + ALERT_RULES);
        }
        for (Map.Entry<String, String> q : dashboardQueries().entrySet()) {
            JsonObject answer = api("/api/v1/query?query=" + URLEncoder.encode(q.getValue(), StandardCharsets.UTF_8));
            if (!"success".equals(answer.getString("status"))) {
                problems.put(q.getKey(), "invalid: " + answer.getString("error"));
                continue;
            }
            JsonArray result = answer.getJsonObject("data").getJsonArray("result");
            boolean finite = false;
            for (int i = 0; i < result.size(); i++) {
                String v = result.getJsonObject(i).getJsonArray("value").getString(1);
                finite |= !v.equals("NaN") && !v.contains("Inf");
            }
            if (!finite) {
                problems.put(q.getKey(), "no data: " + q.getValue() + " -> " + result.encode());
            }
        }
        return problems;
    }

    /** Every panel's every query, named "panel title / legend". */
    static Map<String, String> dashboardQueries() throws IOException {
        JsonObject dashboard;
        try (InputStream in = LivePrometheus.class.getResourceAsStream(DASHBOARD_RESOURCE)) {
            assertThat(in).as(DASHBOARD_RESOURCE).isNotNull();
            dashboard = new JsonObject(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
        Map<String, String> queries = new LinkedHashMap<>();
        JsonArray panels = dashboard.getJsonArray("panels");
        for (int p = 0; p < panels.size(); p++) {
            JsonObject panel = panels.getJsonObject(p);
            JsonArray targets = panel.getJsonArray("targets", new JsonArray());
            for (int i = 0; i < targets.size(); i++) {
                JsonObject target = targets.getJsonObject(i);
                queries.put(panel.getString("title") + " / " + target.getString("legendFormat", target.getString("refId")),
                        target.getString("expr"));
            }
        }
        assertThat(queries).as("queries in the dashboard").hasSizeGreaterThan(20);
        return queries;
    }

    private JsonObject api(String path) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://" + Monitoring.prometheusAddress(t) + path))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
        return new JsonObject(r.body());
    }

    /** The leader's node and the router answer /metrics to Prometheus' certificate, and 403 to a merchant's. */
    private void metricsOnlyForPrometheusAndOperator() {
        DeploymentSecurity security = DeploymentSecurity.open(t);
        List<Integer> ports = new ArrayList<>();
        t.regions().values().forEach(r -> ports.add(r.grpcPort()));
        ports.add(t.routerPort());
        for (int port : ports) {
            assertThat(get(security, security.prometheus(), port)).as("/metrics on %d to the prometheus certificate", port)
                    .startsWith("200 ").containsPattern("ledger_certificate_expiry_timestamp_seconds\\{certificate=\"service\",[^}]*\\} [0-9]");
            assertThat(get(security, security.merchant(DeploymentSecurity.LOAD_MERCHANT), port))
                    .as("/metrics on %d to a merchant certificate", port).startsWith("403 ").doesNotContain("ledger_");
        }
    }

    private static String get(DeploymentSecurity security, IssuedCert identity, int port) {
        Vertx vertx = Vertx.vertx();
        try {
            HttpClient client = vertx.createHttpClient(Tls.clientOptions(identity.certFile(), identity.keyFile(), security.caFile()));
            return client.request(HttpMethod.GET, port, "127.0.0.1", "/metrics")
                    .compose(req -> req.send())
                    .compose(resp -> resp.body().map(body -> resp.statusCode() + " " + body))
                    .await(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("GET https://127.0.0.1:" + port + "/metrics as " + identity.identity() + ": " + e, e);
        } finally {
            vertx.close().await();
        }
    }
}
