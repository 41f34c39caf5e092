package io.paymentledger.cli.bench;

import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where a bench run's time went, from the histograms the processes already export (issue #24): the router's call, the
 * leading node's call, and the node's writer stages (queue wait, apply, rows, commit, and of the commit the COMMIT
 * statement with its wait for a second site). Each is the difference of two scrapes of {@code /metrics}, at the start
 * and the end of the run's measured window, so only calls of that window count (set-up and warm-up excluded, calls
 * in flight at either edge counted by when they ended); its p50 and p99 are read from the buckets the way Prometheus's
 * {@code histogram_quantile} does (linear within a bucket), so they are as coarse as the buckets.
 */
public final class StageLatency {

    /** The stages, in call order: label → histogram (Prometheus name without {@code _bucket}). */
    public static final Map<String, String> STAGES = stages();

    private static Map<String, String> stages() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("router call", "ledger_router_request_seconds");
        m.put("node call", "ledger_request_seconds");
        m.put("queue wait", "ledger_writer_queue_wait_seconds");
        m.put("apply", "ledger_writer_apply_seconds");
        m.put("rows", "ledger_writer_rows_seconds");
        m.put("commit", "ledger_writer_commit_seconds");
        m.put("COMMIT + quorum", "ledger_writer_commit_wait_seconds");
        return java.util.Collections.unmodifiableMap(m);
    }

    private static final Pattern BUCKET = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)_bucket\\{(.*)\\} ([0-9.eE+-]+|NaN)$");
    private static final Pattern LE = Pattern.compile("(?:^|,)le=\"([^\"]+)\"");

    /** Cumulative bucket counts per histogram name (summed over its other labels: methods, statuses), by upper bound. */
    public record Scrape(Map<String, TreeMap<Double, Double>> histograms) {

        /** Parses Prometheus text exposition; histograms of other names are ignored. */
        public static Scrape parse(String exposition) {
            Map<String, TreeMap<Double, Double>> h = new LinkedHashMap<>();
            for (String line : exposition.split("\n")) {
                Matcher m = BUCKET.matcher(line.trim());
                if (!m.matches() || !STAGES.containsValue(m.group(1))) {
                    continue;
                }
                Matcher le = LE.matcher(m.group(2));
                if (!le.find()) {
                    continue;
                }
                double bound = le.group(1).equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(le.group(1));
                h.computeIfAbsent(m.group(1), k -> new TreeMap<>()).merge(bound, Double.parseDouble(m.group(3)), Double::sum);
            }
            return new Scrape(h);
        }

        /** This scrape and {@code other} together (the router's and the node's histograms have different names). */
        public Scrape plus(Scrape other) {
            Map<String, TreeMap<Double, Double>> h = new LinkedHashMap<>(histograms);
            other.histograms.forEach((k, v) -> h.merge(k, v, (a, b) -> {
                TreeMap<Double, Double> sum = new TreeMap<>(a);
                b.forEach((bound, n) -> sum.merge(bound, n, Double::sum));
                return sum;
            }));
            return new Scrape(h);
        }
    }

    /** One stage's calls in the run and their p50/p99 in ms (NaN when it saw none; +Inf when above the last bucket). */
    public record Stage(String label, long count, double p50Ms, double p99Ms) {
        public JsonObject toJson() {
            return new JsonObject().put("stage", label).put("count", count).put("p50Ms", finite(p50Ms)).put("p99Ms", finite(p99Ms));
        }

        private static Object finite(double v) {
            return Double.isFinite(v) ? Math.round(v * 1000) / 1000.0 : Double.isNaN(v) ? null : "above the last bucket";
        }
    }

    private StageLatency() {}

    /**
     * Scrapes {@code /metrics} of the processes at {@code targets} (host, port) with {@code client} (the deployment's
     * prometheus certificate), 5 s each; a process that does not answer adds nothing (its stages show as none seen).
     */
    public static Scrape scrape(io.vertx.core.Vertx vertx, io.vertx.core.http.HttpClient client, List<java.util.Map.Entry<String, Integer>> targets) {
        Scrape all = new Scrape(Map.of());
        // Each exchange is put together on an event loop: built on this thread, resp.body() could miss the end of a
        // response that arrived meanwhile and never complete (the webhook dispatcher's lost answers, 2026-12-07).
        io.vertx.core.Context loop = vertx.getOrCreateContext();
        for (var t : targets) {
            try {
                io.vertx.core.Promise<io.vertx.core.buffer.Buffer> got = io.vertx.core.Promise.promise();
                loop.runOnContext(v -> client.request(io.vertx.core.http.HttpMethod.GET, t.getValue(), t.getKey(), "/metrics")
                        .compose(req -> req.send().compose(resp -> resp.body())).onComplete(got));
                String body = got.future().timeout(5, java.util.concurrent.TimeUnit.SECONDS).await().toString();
                all = all.plus(Scrape.parse(body));
            } catch (RuntimeException e) {
                // Not fatal: the run's own figures stand; the stage line says what it could not see.
            }
        }
        return all;
    }

    /** The stages of what happened between two scrapes. */
    public static List<Stage> between(Scrape before, Scrape after) {
        List<Stage> out = new ArrayList<>();
        STAGES.forEach((label, name) -> {
            TreeMap<Double, Double> b = before.histograms().getOrDefault(name, new TreeMap<>());
            TreeMap<Double, Double> a = after.histograms().getOrDefault(name, new TreeMap<>());
            TreeMap<Double, Double> delta = new TreeMap<>();
            a.forEach((bound, n) -> delta.put(bound, n - b.getOrDefault(bound, 0.0)));
            double total = delta.getOrDefault(Double.POSITIVE_INFINITY, delta.isEmpty() ? 0.0 : delta.lastEntry().getValue());
            out.add(new Stage(label, Math.round(total), quantile(delta, total, 0.50) * 1000, quantile(delta, total, 0.99) * 1000));
        });
        return out;
    }

    /** Prometheus's histogram_quantile: the bucket holding the rank, linear within it (from 0 for the first). */
    static double quantile(TreeMap<Double, Double> cumulative, double total, double q) {
        if (total <= 0) {
            return Double.NaN;
        }
        double rank = q * total;
        double lowerBound = 0;
        double lowerCount = 0;
        for (Map.Entry<Double, Double> e : cumulative.entrySet()) {
            if (e.getValue() >= rank) {
                if (e.getKey().isInfinite()) {
                    return Double.POSITIVE_INFINITY;
                }
                double inBucket = e.getValue() - lowerCount;
                return inBucket <= 0 ? e.getKey() : lowerBound + (e.getKey() - lowerBound) * (rank - lowerCount) / inBucket;
            }
            lowerBound = e.getKey();
            lowerCount = e.getValue();
        }
        return Double.POSITIVE_INFINITY;
    }

    /** One line: {@code stages p50/p99 ms: router call 3.1/20.4, node call ...}. */
    public static String line(List<Stage> stages) {
        StringBuilder s = new StringBuilder("stages p50/p99 ms:");
        String sep = " ";
        for (Stage st : stages) {
            if (st.count() == 0) {
                continue;
            }
            s.append(sep).append(st.label()).append(' ').append(ms(st.p50Ms())).append('/').append(ms(st.p99Ms()));
            sep = ", ";
        }
        return sep.equals(" ") ? "stages: none seen (no histogram moved)" : s.toString();
    }

    private static String ms(double v) {
        return Double.isInfinite(v) ? ">10000" : String.format(Locale.ROOT, v < 10 ? "%.2f" : "%.1f", v);
    }
}
