package io.paymentledger.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.cli.chaos.FinalState;
import io.paymentledger.cli.chaos.History;
import io.paymentledger.cli.chaos.HistoryChecker;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;


import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import java.util.UUID;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * `./ledger chaos run` end to end on the real deployment (two PostgreSQL servers in a quorum commit with the WAL
 * keeper, three CP members, the router): a recorded merchant workload under a fixed-seed schedule of a paused leader
 * node, a paused leader PostgreSQL and a killed leader node, then the history checker against the ledger. And the
 * proof that the same pipeline does report a loss when there is one.
 */
@Timeout(value = 5, unit = java.util.concurrent.TimeUnit.MINUTES)
class ChaosRunTest {

    /**
     * Seed 1695 draws short quiet gaps and holds (2.0 s + 3.2 s, 2.3 s + 3.2 s, 3.3 s + 3.5 s): with the waits until the
     * deployment is whole again (measured 7 s and 14 s after the two pauses on a loaded machine) the kill is injected at
     * ~35 s and fits in {@link #DURATION_S} with room to spare.
     */
    static final long SEED = 1695;
    static final int DURATION_S = 50;
    static final List<String> FAULTS = List.of("pause_leader_node", "pause_leader_postgres", "kill_leader_node");

    static LocalDeployment deployment;

    @BeforeAll
    static void up() {
        // The chaos run heals every fault and waits until the deployment is whole again, so it may share one.
        deployment = io.paymentledger.cli.support.SharedDeployment.get();
    }

    @org.junit.jupiter.api.AfterAll
    static void release() {
        io.paymentledger.cli.support.SharedDeployment.release(ChaosRunTest.class);
    }

    @Test
    void aSeededRunOfPausesAndAKillOnTheLeaderIsSoundAndReportsEveryFault(@TempDir Path tmp) throws Exception {
        Path json = tmp.resolve("chaos.json");
        int exit = Main.execute("chaos", "run", "--dir", deployment.topology().dir().toString(), "--duration",
                Integer.toString(DURATION_S), "--seed", Long.toString(SEED), "--faults", String.join(",", FAULTS),
                "--json", json.toString());
        JsonObject report = new JsonObject(Files.readString(json));

        assertThat(report.getString("verdict")).as("verdict of " + report.encodePrettily()).isEqualTo("sound");
        assertThat(exit).as("exit code of a sound run").isZero();
        assertThat(report.getJsonObject("anomalies").isEmpty()).isTrue();
        assertThat(report.getLong("seed")).isEqualTo(SEED);
        assertThat(report.getInteger("durationS")).isEqualTo(DURATION_S);
        assertThat(report.getJsonArray("faultsChosen").getList()).containsExactlyElementsOf(FAULTS);
        assertThat(report.getString("leaderAtEnd")).isIn("a", "b");

        JsonArray faults = report.getJsonArray("faults");
        assertThat(faults.stream().map(f -> ((JsonObject) f).getString("class")).distinct().toList())
                .as("every chosen class was scheduled").containsExactlyInAnyOrderElementsOf(FAULTS);
        for (Object o : faults) {
            JsonObject f = (JsonObject) o;
            assertThat(f.getBoolean("injected")).as("injected: " + f.encode()).isTrue();
            assertThat(f.getString("target")).as("the leader's process at that moment").matches("(node|postgres)-[ab]");
            assertThat(f.getLong("injectedAtMs")).isBetween(0L, DURATION_S * 1_000L);
            assertThat(f.getLong("heldMs")).as("held 3-8 s").isBetween(3_000L, 9_000L);
            assertThat(f.getLong("healMs")).isNotNegative();
            // Writes stop while the leader is frozen or gone: clients feel it, and the report says how long.
            assertThat(f.getLong("outageMs")).as("outage: " + f.encode()).isPositive();
            assertThat(f.containsKey("recoveredAfterMs")).isTrue();
        }

        JsonObject ops = report.getJsonObject("ops");
        assertThat(ops.getLong("writesAcked")).as("acknowledged writes").isPositive();
        assertThat(ops.getLong("writesRefused")).as("writes the ledger refused (the wallet has no funds)").isPositive();
        assertThat(ops.getLong("writesUnknown")).isNotNegative();
        assertThat(ops.getLong("transferReads")).as("answered transfer lookups").isPositive();
        assertThat(ops.getLong("balanceReads")).as("answered balance reads").isPositive();
        // Payments through the same faults: acknowledged calls, refused ones (a capture above what is held, a capture
        // after expiry), and GetPayment reads, all checked by the verdict above.
        assertThat(ops.getLong("paymentCallsAcked")).as("acknowledged payments calls").isPositive();
        assertThat(ops.getLong("paymentCallsRefused")).as("payments calls the ledger refused").isPositive();
        assertThat(ops.getLong("paymentReads")).as("answered GetPayment reads").isPositive();

        // What every process holds at the start and the end (a leak under faults shows as a difference).
        for (String when : List.of("resourcesAtStart", "resourcesAtEnd")) {
            JsonArray usage = report.getJsonArray(when);
            assertThat(usage.stream().map(u -> ((JsonObject) u).getString("process")).toList()).as(when)
                    .contains("router", "node-a", "node-b", "witness");
            for (Object o : usage) {
                JsonObject u = (JsonObject) o;
                assertThat(u.getLong("rssKb")).as(when + " rss: " + u.encode()).isPositive();
                assertThat(u.getLong("threads")).as(when + " threads: " + u.encode()).isPositive();
                assertThat(u.getLong("fds")).as(when + " fds: " + u.encode()).isPositive();
                if (!u.getString("process").startsWith("postgres")) {
                    assertThat(u.getLong("heapUsedKb")).as(when + " JVM heap (jcmd GC.heap_info): " + u.encode()).isPositive();
                }
            }
        }
    }

    @Test
    void anAcknowledgedWriteTheLedgerDoesNotHoldIsReportedLost() throws Exception {
        // The checker and the final-state read on the real ledger, with a fabricated acknowledgement: the pipeline must
        // be able to say "lost", or a sound verdict above would prove nothing.
        String fabricated = "fabricated-" + UUID.randomUUID();
        History history = new History();
        long t = System.nanoTime();
        history.add(new History.Write(fabricated, "nobody-payer", "nobody-shop", 10, true, t, t + 1_000_000,
                History.Outcome.ACKED, "CREATE_TRANSFER_CREATED"));
        String leader = deployment.awaitLeader(Duration.ofSeconds(60)).getRegion();
        FinalState state;
        try (Connection c = deployment.postgres(leader).connect("ledger")) {
            state = FinalState.read(c, List.of(fabricated), List.of("nobody-shop"));
        }
        HistoryChecker.Verdict verdict = HistoryChecker.check(history, state);
        assertThat(verdict.sound()).isFalse();
        assertThat(verdict.counts()).containsEntry(HistoryChecker.Kind.LOST_WRITE, 1);
        assertThat(verdict.examples().get(0).detail()).contains(fabricated).contains("not in the ledger");
    }

    @Test
    void badUsageAndNoDeploymentExitWithTwo(@TempDir Path empty) {
        String dir = deployment.topology().dir().toString();
        assertThat(Main.execute("chaos", "run", "--dir", dir, "--duration", "5")).as("duration below the minimum").isEqualTo(2);
        assertThat(Main.execute("chaos", "run", "--dir", dir, "--faults", "unplug_the_moon")).as("unknown fault").isEqualTo(2);
        assertThat(Main.execute("chaos", "run", "--dir", empty.toString(), "--duration", "10")).as("nothing deployed there")
                .isEqualTo(2);
    }
}
