package io.paymentledger.cli.bench;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/** The human table and the machine JSON of a benchmark session. */
public final class BenchReport {

    private BenchReport() {}

    public static boolean passed(List<BenchResult> results) {
        return results.stream().allMatch(r -> r.check().passed());
    }

    public static String table(List<BenchResult> results, PgBenchComparison.Result pgbench) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-9s %6s %-6s %5s %12s %9s %9s %9s %9s %10s %10s", "scenario", "shape", "mode",
                "conc", "transfers/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "srv µs/call", "gen µs/call"));
        if (pgbench != null) {
            pgbench.tpsByScale().keySet().forEach(s -> sb.append(String.format(Locale.ROOT, " %13s", "÷pgbench s" + s)));
        }
        sb.append("  check  errors\n");
        for (BenchResult r : results) {
            sb.append(String.format(Locale.ROOT, "%-9s %6s %-6s %5d %12.0f %9s %9s %9s %9s %10s %10s",
                    r.scenario(), shapeLabel(r), r.mode(),
                    r.concurrency(), r.transfersPerSecond(), ms(r, r.p50Ms()), ms(r, r.p99Ms()), ms(r, r.p999Ms()),
                    ms(r, r.maxMs()), us(r.cpu().serverUsPerCall()), us(r.cpu().generatorUsPerCall())));
            if (pgbench != null) {
                for (double tps : pgbench.tpsByScale().values()) {
                    sb.append(String.format(Locale.ROOT, " %13.2f", tps > 0 ? r.transfersPerSecond() / tps : 0));
                }
            }
            sb.append("  ").append(r.check().passed() ? "PASS " : "FAIL ").append("  ").append(errors(r)).append('\n');
        }
        for (BenchResult r : results) {
            sb.append("cpu ").append(r.scenario()).append(" × ").append(shapeLabel(r))
                    .append(": ").append(cpu(r.cpu())).append('\n');
        }
        for (BenchResult r : results) {
            if (!r.check().passed()) {
                sb.append("check FAILED for ").append(r.scenario()).append(" × ").append(r.shape()).append(" (run ")
                        .append(r.runPrefix()).append("):\n");
                r.check().problems().stream().limit(15).forEach(p -> sb.append("  ").append(p).append('\n'));
            }
        }
        if (pgbench != null) {
            sb.append("pgbench tpcb-like (").append(pgbench.setup()).append(", -c ").append(pgbench.clients()).append(" -j ")
                    .append(pgbench.threads()).append(" -T ").append(pgbench.seconds()).append(" -M prepared): ");
            sb.append(pgbench.tpsByScale().entrySet().stream()
                    .map(e -> String.format(Locale.ROOT, "-s %d: %.0f tps", e.getKey(), e.getValue()))
                    .collect(Collectors.joining(", "))).append('\n');
            sb.append("÷pgbench = ledger transfers/s divided by pgbench transactions/s (one tpcb-like transaction ≈ one"
                    + " transfer: balance updates + a history row, synchronously replicated)\n");
        }
        return sb.toString();
    }

    private static String us(double v) {
        return v == 0 ? "-" : String.format(Locale.ROOT, "%.0f", v);
    }

    /** Each process's share: "router 0.91 s (45 µs/call), node-a ...", then the per-transfer server figure. */
    static String cpu(BenchResult.Cpu c) {
        if (c.calls() == 0) {
            return "no call ended inside the window";
        }
        String each = c.secondsByProcess().entrySet().stream().sorted(Map.Entry.comparingByKey())
                .map(e -> String.format(Locale.ROOT, "%s %.2f s (%.0f µs/call%s)", e.getKey(), e.getValue(),
                        e.getValue() * 1e6 / c.calls(), upkeep(c.upkeepSeconds().get(e.getKey()), c.calls())))
                .collect(Collectors.joining(", "));
        return each + String.format(Locale.ROOT, "; %d calls; server %.0f µs/call, %.1f µs/transfer", c.calls(),
                c.serverUsPerCall(), c.serverUsPerTransfer());
    }

    /** "; JIT 22, GC 20" µs/call of a JVM's own upkeep, or "" when not known. */
    private static String upkeep(Map<String, Double> parts, long calls) {
        if (parts == null || parts.isEmpty()) {
            return "";
        }
        return parts.entrySet().stream().map(e -> String.format(Locale.ROOT, "%s %.0f", e.getKey(), e.getValue() * 1e6 / calls))
                .collect(Collectors.joining(", ", " of which ", ""));
    }

    /** "-" when no call due inside the window was answered (the window is shorter than a call). */
    private static String ms(BenchResult r, double v) {
        return r.latencySamples() == 0 ? "-" : String.format(Locale.ROOT, "%.2f", v);
    }

    static String errors(BenchResult r) {
        String errs = r.errors().isEmpty() ? "none" : r.errors().entrySet().stream().map(e -> e.getKey() + " " + e.getValue())
                .collect(Collectors.joining(", "));
        if (r.dropped() > 0) {
            errs += "; dropped " + r.dropped() + " (in-flight bound)";
        }
        if (r.latencySamples() == 0) {
            errs += "; no call due in the window was answered OK: raise --duration";
        }
        return errs;
    }

    public static JsonObject json(List<BenchResult> results, PgBenchComparison.Result pgbench, String command, String target) {
        JsonArray rs = new JsonArray();
        for (BenchResult r : results) {
            JsonObject j = r.toJson();
            if (pgbench != null) {
                JsonObject ratio = new JsonObject();
                for (Map.Entry<Integer, Double> e : pgbench.tpsByScale().entrySet()) {
                    ratio.put("scale" + e.getKey(), e.getValue() > 0 ? BenchResult.round(r.transfersPerSecond() / e.getValue()) : 0);
                }
                j.put("ratioToPgbench", ratio);
            }
            rs.add(j);
        }
        JsonObject out = new JsonObject().put("command", command).put("target", target).put("passed", passed(results))
                .put("results", rs);
        if (pgbench != null) {
            out.put("pgbench", pgbench.toJson());
        }
        return out;
    }

    /** The table's shape column: "unary" for payments calls, "page" for history reads, else transfers per request. */
    private static String shapeLabel(BenchResult r) {
        return r.scenario().equals("payments") ? "unary" : r.scenario().startsWith("history") ? "page" : Integer.toString(r.shape());
    }
}
