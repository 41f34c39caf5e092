package io.paymentledger.cli.chaos;

import io.paymentledger.cli.chaos.History.Outcome;
import io.paymentledger.cli.chaos.History.Write;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.PrintStream;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What `./ledger chaos run` found: the seed to replay it, each fault as injected with the outage clients felt, how
 * many operations of each kind were recorded, and the checker's verdict. {@code verdict} is null when no leader
 * came back to read the final ledger from.
 */
public record RunReport(long seed, int durationS, List<String> faultsChosen, List<Fault> faults, Counts ops,
        Map<String, Long> clientErrors, String leaderAtEnd, HistoryChecker.Verdict verdict, long elapsedMs,
        List<ProcessResources.Usage> resourcesAtStart, List<ProcessResources.Usage> resourcesAtEnd) {

    /**
     * One fault of the schedule.
     *
     * @param injectedAtMs     from the start of the workload
     * @param heldMs           from injection until the heal began
     * @param healMs           how long the heal took (a SIGCONT: ~0; a restart by ./ledger up: seconds)
     * @param outageMs         the longest window without an acknowledged write overlapping the fault (until healed)
     * @param recoveredAfterMs from heal until the deployment was whole again (-1: not before the next step)
     */
    public record Fault(String faultClass, String target, boolean injected, String done, String error, long injectedAtMs,
            long heldMs, long healMs, long outageMs, long recoveredAfterMs) {}

    /** Operations recorded: writes by outcome (one per transfer), answered reads by kind, and reads with no answer. */
    public record Counts(long writesAcked, long writesRefused, long writesUnknown, long transferReads, long balanceReads,
            long readsFailed, long paymentCallsAcked, long paymentCallsRefused, long paymentCallsUnknown, long paymentReads) {
        static Counts of(History h, long readsFailed) {
            List<Write> writes = h.ops(Write.class);
            List<History.PaymentStep> steps = h.ops(History.PaymentStep.class);
            return new Counts(writes.stream().filter(w -> w.outcome() == Outcome.ACKED).count(),
                    writes.stream().filter(w -> w.outcome() == Outcome.REFUSED).count(),
                    writes.stream().filter(w -> w.outcome() == Outcome.UNKNOWN).count(),
                    h.ops(History.TransferRead.class).size(), h.ops(History.BalanceRead.class).size(), readsFailed,
                    steps.stream().filter(p -> p.outcome() == Outcome.ACKED).count(),
                    steps.stream().filter(p -> p.outcome() == Outcome.REFUSED).count(),
                    steps.stream().filter(p -> p.outcome() == Outcome.UNKNOWN).count(),
                    h.ops(History.PaymentRead.class).size());
        }
    }

    public enum Result { SOUND, ANOMALIES, NO_LEADER }

    public Result result() {
        return verdict == null ? Result.NO_LEADER : verdict.sound() ? Result.SOUND : Result.ANOMALIES;
    }

    /** 0 sound; 1 anomalies found, or no leader to check against. */
    public int exitCode() {
        return result() == Result.SOUND ? 0 : 1;
    }

    public JsonObject toJson() {
        JsonArray fs = new JsonArray();
        faults.forEach(f -> fs.add(new JsonObject().put("class", f.faultClass()).put("target", f.target())
                .put("injected", f.injected()).put("done", f.done()).put("error", f.error())
                .put("injectedAtMs", f.injectedAtMs()).put("heldMs", f.heldMs()).put("healMs", f.healMs()).put("outageMs", f.outageMs())
                .put("recoveredAfterMs", f.recoveredAfterMs())));
        JsonObject anomalies = new JsonObject();
        JsonArray examples = new JsonArray();
        if (verdict != null) {
            new TreeMap<>(verdict.counts()).forEach((k, n) -> anomalies.put(k.name(), n));
            verdict.examples().forEach(a -> examples.add(new JsonObject().put("kind", a.kind().name()).put("detail", a.detail())));
        }
        return new JsonObject()
                .put("seed", seed)
                .put("durationS", durationS)
                .put("faultsChosen", new JsonArray(faultsChosen))
                .put("faults", fs)
                .put("ops", new JsonObject().put("writesAcked", ops.writesAcked()).put("writesRefused", ops.writesRefused())
                        .put("writesUnknown", ops.writesUnknown()).put("transferReads", ops.transferReads())
                        .put("balanceReads", ops.balanceReads()).put("readsFailed", ops.readsFailed())
                        .put("paymentCallsAcked", ops.paymentCallsAcked()).put("paymentCallsRefused", ops.paymentCallsRefused())
                        .put("paymentCallsUnknown", ops.paymentCallsUnknown()).put("paymentReads", ops.paymentReads()))
                .put("clientErrors", errorsJson())
                .put("leaderAtEnd", leaderAtEnd)
                .put("anomalies", anomalies)
                .put("anomalyExamples", examples)
                .put("verdict", result().name().toLowerCase())
                .put("elapsedMs", elapsedMs)
                .put("resourcesAtStart", resourcesJson(resourcesAtStart))
                .put("resourcesAtEnd", resourcesJson(resourcesAtEnd));
    }

    private static JsonArray resourcesJson(List<ProcessResources.Usage> usage) {
        JsonArray a = new JsonArray();
        usage.forEach(u -> a.add(new JsonObject().put("process", u.process()).put("pid", u.pid()).put("rssKb", u.rssKb())
                .put("threads", u.threads()).put("fds", u.fds()).put("heapUsedKb", u.heapUsedKb())));
        return a;
    }

    /**
     * Per process: resident memory, threads (PostgreSQL: processes), file descriptors and JVM heap in use, at the start
     * and at the end of the run (a restarted process has a new pid: its figures start afresh).
     */
    void printResources(PrintStream out) {
        out.println("  resources at start -> end (rss MB, threads or PostgreSQL processes, file descriptors, JVM heap used MB):");
        for (ProcessResources.Usage end : resourcesAtEnd) {
            ProcessResources.Usage start = resourcesAtStart.stream().filter(u -> u.process().equals(end.process())).findFirst()
                    .orElse(null);
            out.printf("    %-11s rss %s  threads %s  fds %s  heap %s%s%n", end.process(),
                    pair(start == null ? -1 : kbToMb(start.rssKb()), kbToMb(end.rssKb())),
                    pair(start == null ? -1 : start.threads(), end.threads()), pair(start == null ? -1 : start.fds(), end.fds()),
                    end.process().startsWith("postgres") ? "n/a"
                            : pair(start == null ? -1 : kbToMb(start.heapUsedKb()), kbToMb(end.heapUsedKb())),
                    start != null && start.pid() != end.pid() ? "  (restarted during the run: pid " + start.pid() + " -> " + end.pid() + ")" : "");
        }
    }

    private static long kbToMb(long kb) {
        return kb < 0 ? -1 : kb / 1024;
    }

    private static String pair(long a, long b) {
        return (a < 0 ? "?" : Long.toString(a)) + " -> " + (b < 0 ? "?" : Long.toString(b));
    }

    private JsonObject errorsJson() {
        JsonObject o = new JsonObject();
        new TreeMap<>(clientErrors).forEach(o::put);
        return o;
    }

    /** The operator's summary. */
    public void print(PrintStream out) {
        out.printf("chaos run: seed %d (replay with --seed %d), %d s, faults %s%n", seed, seed, durationS, String.join(",", faultsChosen));
        for (Fault f : faults) {
            if (f.injected()) {
                out.printf("  +%6.1f s  %-22s %-12s held %5d ms  healed in %5d ms  outage %5d ms  whole again %s%n",
                        f.injectedAtMs() / 1000.0, f.faultClass(), f.target(), f.heldMs(), f.healMs(), f.outageMs(),
                        f.recoveredAfterMs() < 0 ? "not before the next step" : "after " + f.recoveredAfterMs() + " ms");
            } else {
                out.printf("  +%6.1f s  %-22s NOT injected: %s%n", f.injectedAtMs() / 1000.0, f.faultClass(), f.error());
            }
        }
        out.printf("  writes: %d acknowledged, %d refused, %d unknown; reads: %d transfer lookups, %d balance reads"
                + " (%d got no answer); writers' call errors (retried with the same ids) %s%n", ops.writesAcked(), ops.writesRefused(), ops.writesUnknown(),
                ops.transferReads(), ops.balanceReads(), ops.readsFailed(), new TreeMap<>(clientErrors));
        out.printf("  payments calls: %d acknowledged, %d refused, %d unknown; %d GetPayment reads%n", ops.paymentCallsAcked(),
                ops.paymentCallsRefused(), ops.paymentCallsUnknown(), ops.paymentReads());
        printResources(out);
        switch (result()) {
            case SOUND -> out.println("chaos run: SOUND — no anomaly (every acknowledged write present once, no refused write"
                    + " present, balances and reads consistent, one leader at a time), checked against region " + leaderAtEnd);
            case ANOMALIES -> {
                out.println("chaos run: ANOMALIES " + new TreeMap<>(verdict.counts()) + " (checked against region " + leaderAtEnd + ")");
                verdict.examples().forEach(a -> out.println("  " + a));
            }
            case NO_LEADER -> out.println("chaos run: NO LEADER after the faults were healed: nothing could be checked;"
                    + " run ./ledger status");
        }
    }
}
