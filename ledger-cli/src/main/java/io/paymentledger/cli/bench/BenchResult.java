package io.paymentledger.cli.bench;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;

/**
 * What one benchmark run measured, and whether the ledger was still correct afterwards.
 *
 * @param shape              transfers per request (1 for payments: every call is one transfer)
 * @param targetRate         open loop: transfers (payments: calls) per second asked for; 0 in closed loop
 * @param concurrency        closed loop: requests in flight; open loop: the most allowed in flight
 * @param measuredSeconds    the measured window (warm-up excluded)
 * @param transfers          transfers accepted (CREATED / OK) whose call completed inside the window
 * @param requests           calls sent inside the window (payments: each call of a payment counts)
 * @param latencySamples     successful calls in the latency histogram
 * @param errors             failures of calls sent inside the window: by gRPC status (e.g. "UNAVAILABLE"), by
 *                           client-side failure ("client: …"), and per item ("item EXCEEDS_CREDITS",
 *                           "payment PAYMENT_RESULT_…")
 * @param dropped            open loop: sends skipped because the in-flight bound was reached (never sent)
 * @param acceptedTotal      every transfer accepted during the run, warm-up included (what the check covers)
 * @param warmupErrors       failures during the warm-up (not in {@code errors})
 * @param cpu                CPU time of the server's processes and of the load generator over the window
 */
public record BenchResult(String scenario, int shape, String mode, double targetRate, int concurrency, int connections,
        double measuredSeconds, long transfers, double transfersPerSecond, long requests, double p50Ms, double p90Ms,
        double p99Ms, double p999Ms, double maxMs, long latencySamples, Map<String, Long> errors, long dropped,
        long acceptedTotal, long warmupErrors, String runPrefix, Cpu cpu, Check check) {

    /**
     * CPU time over the measured window, per call and per accepted transfer.
     *
     * @param secondsByProcess   CPU seconds of each measured process (router, node-a, postgres-a, load generator, ...)
     * @param calls              calls that ended inside the window (OK or not)
     * @param serverUsPerCall    router + nodes + PostgreSQL, µs of CPU per call (0 when not measured)
     * @param generatorUsPerCall the load generator's own µs of CPU per call
     * @param serverUsPerTransfer router + nodes + PostgreSQL, µs of CPU per accepted transfer
     */
    public record Cpu(Map<String, Double> secondsByProcess, Map<String, Map<String, Double>> upkeepSeconds, long calls,
            double serverUsPerCall, double generatorUsPerCall, double serverUsPerTransfer) {

        static Cpu of(ProcessCpu.Usage usage, long calls, long transfers) {
            double server = usage.seconds(ProcessCpu.Role.SERVER) * 1e6;
            double generator = usage.seconds(ProcessCpu.Role.GENERATOR) * 1e6;
            return new Cpu(Map.copyOf(usage.secondsByName()), Map.copyOf(usage.upkeep()), calls, calls == 0 ? 0 : round(server / calls),
                    calls == 0 ? 0 : round(generator / calls), transfers == 0 ? 0 : round(server / transfers));
        }

        public JsonObject toJson() {
            JsonObject seconds = new JsonObject();
            secondsByProcess.forEach((k, v) -> seconds.put(k, round(v)));
            JsonObject upkeep = new JsonObject();
            upkeepSeconds.forEach((process, parts) -> {
                JsonObject p = new JsonObject();
                parts.forEach((k, v) -> p.put(k, round(v)));
                upkeep.put(process, p);
            });
            return new JsonObject().put("calls", calls).put("serverUsPerCall", serverUsPerCall)
                    .put("generatorUsPerCall", generatorUsPerCall).put("serverUsPerTransfer", serverUsPerTransfer)
                    .put("secondsByProcess", seconds).put("jitAndGcSecondsByProcess", upkeep);
        }
    }

    /**
     * @param passed       both checks found nothing
     * @param problems     the first problems found (empty when passed)
     * @param accounts     accounts of the run compared with what the accepted transfers imply
     * @param reconciled   transfers of calls with an unknown outcome that turned out written (looked up by id)
     */
    public record Check(boolean passed, List<String> problems, int accounts, long reconciled) {

        public JsonObject toJson() {
            return new JsonObject().put("passed", passed).put("problems", new JsonArray(List.copyOf(problems)))
                    .put("accounts", accounts).put("reconciled", reconciled);
        }
    }

    public long errorCount() {
        return errors.values().stream().mapToLong(Long::longValue).sum();
    }

    public JsonObject toJson() {
        JsonObject errs = new JsonObject();
        errors.forEach(errs::put);
        return new JsonObject().put("scenario", scenario).put("shape", shape).put("mode", mode)
                .put("targetRate", targetRate).put("concurrency", concurrency).put("connections", connections)
                .put("measuredSeconds", measuredSeconds).put("transfers", transfers)
                .put("transfersPerSecond", round(transfersPerSecond)).put("requests", requests)
                .put("latencyMs", new JsonObject().put("p50", p50Ms).put("p90", p90Ms).put("p99", p99Ms)
                        .put("p99.9", p999Ms).put("max", maxMs).put("samples", latencySamples))
                .put("errors", errs).put("dropped", dropped).put("acceptedTotal", acceptedTotal)
                .put("warmupErrors", warmupErrors).put("runPrefix", runPrefix).put("cpu", cpu.toJson()).put("check", check.toJson());
    }

    static double round(double v) {
        return Math.round(v * 100.0) / 100.0;
    }
}
