package io.paymentledger.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import io.paymentledger.api.v1.NodeRole;
import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.cli.status.Reply;
import io.paymentledger.cli.status.StatusProbe;
import io.paymentledger.cli.status.Verdict;
import io.paymentledger.cli.support.Docs;
import io.paymentledger.ledger.journal.JournalVerifier;
import io.paymentledger.replication.postgres.PgCluster;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code ./ledger status} and {@code ./ledger verify} print for an operator, from the real report and print code
 * (the processes' answers are given; no deployment runs), and that the lines the runbooks tell an operator to look
 * for are lines these commands print.
 */
class OperatorOutputTest {

    @TempDir
    Path dir;

    private static Verdict.Node answered(String region, NodeStatus s) {
        return new Verdict.Node(region, Optional.of(4_000L + region.charAt(0)), new Reply.Answered<>(s, 40, 20));
    }

    private static Verdict.Node notRunning(String region, int port) {
        return new Verdict.Node(region, Optional.empty(), new Reply.Refused<>("127.0.0.1:" + port));
    }

    private static Verdict.Node silent(String region) {
        return new Verdict.Node(region, Optional.of(4_100L), new Reply.NoAnswer<>("connected and asked; no reply", 1_500));
    }

    /** After a failover: b leads (epoch 4) with the WAL keeper as its second site; a's processes are gone. */
    private static NodeStatus bLeadsAfterFailover() {
        return NodeStatus.newBuilder().setRegion("b").setRole(NodeRole.NODE_ROLE_LEADER).setEpoch(4).setLeaderRegion("b")
                .setExplanation("no action: I am b, the leader with the lock (epoch 4); commits wait for any of [walkeeper]"
                        + " (walkeeper streaming): every acknowledged write is in at least two sites")
                .setDatabasePrimary(true).setCoordinatorQuorum(true).setCpMembersAlive(2).setSyncCopies(2)
                .addCommitSet("walkeeper").addSyncStandbys("walkeeper")
                .setLastFailoverReason("failover: b took over from a (which released or lost the leader lock)")
                .setLastFailoverDurationMs(694).build();
    }

    private Topology topology() {
        return Topology.create(dir);
    }

    private static String printed(JsonObject report) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        StatusCommand.print(report, new PrintStream(out, true, java.nio.charset.StandardCharsets.UTF_8));
        return out.toString(java.nio.charset.StandardCharsets.UTF_8);
    }

    private static StatusProbe.Snapshot snapshot(List<Verdict.Node> nodes, Reply<Verdict.RouterView> router) {
        return new StatusProbe.Snapshot(nodes, Optional.of(4_200L), router, Optional.of(4_300L), new Reply.Answered<>(3L, 3, 3), 55);
    }

    @Test
    void statusNamesTheCpMembersAndTheLastChangeAfterAFailover() {
        Topology t = topology();
        JsonObject report = StatusCommand.report(t, snapshot(List.of(notRunning("a", t.region("a").grpcPort()),
                answered("b", bLeadsAfterFailover())), new Reply.Answered<>(new Verdict.RouterView(true, "b", 4), 30, 10)));
        String out = printed(report);

        assertThat(out).contains("leader:     region b (epoch 4), says node b itself\n");
        assertThat(out).contains("sync copies: 2 (every acknowledged write is on the leader and 1 more site)\n");
        assertThat(out).as("the line LedgerCpQuorumLost sends the operator to (runbooks/alerts.md)")
                .contains("\ncp members: 2 of 3 alive (node b: 2)\n");
        assertThat(out).contains("\nlast change: failover: b took over from a (which released or lost the leader lock) (694 ms"
                + " from taking the lock to serving; the CP record as node b read it)\n");
        assertThat(out).containsPattern("\nregion a: down +node " + Pattern.quote(t.host("a") + ":" + t.region("a").grpcPort())
                + " no PID \\| postgres ");
        assertThat(out).contains("\n          node: not running (no PID)\n");
        assertThat(out).contains("; exit code 0\n");
        // --json: the same facts at the top level (runbooks/failover.md: status --json -> lastFailover)
        assertThat(report.getJsonObject("lastFailover").getString("reason")).startsWith("failover: b took over from a");
        assertThat(report.getJsonObject("lastFailover").getLong("durationMs")).isEqualTo(694);
        assertThat(report.getJsonObject("cpMembers").getInteger("alive")).isEqualTo(2);
        assertThat(report.getJsonObject("cpMembers").getInteger("expected")).isEqualTo(3);
    }

    @Test
    void statusSaysWhenTheCpGroupHasNoMajority() {
        Topology t = topology();
        NodeStatus fenced = NodeStatus.newBuilder().setRegion("a").setRole(NodeRole.NODE_ROLE_FENCED).setEpoch(3).setLeaderRegion("a")
                .setExplanation("stopped serving: the CP group does not answer (timeout); writes stop until it does (CP)")
                .setCoordinatorQuorum(false).setCpMembersAlive(1).build();
        JsonObject report = StatusCommand.report(t, snapshot(List.of(answered("a", fenced), silent("b")),
                new Reply.NoAnswer<>("TLS handshake", 1_500)));
        String out = printed(report);

        assertThat(out).contains("\ncp members: 1 of 3 alive (node a: 1, its CP calls get no answer); no majority: no leader can be"
                + " elected or keep its lease (runbooks/region-loss.md)\n");
        assertThat(report.getInteger("exitCode")).as("b did not answer; a names itself from the coordinator's view").isEqualTo(4);
    }

    @Test
    void statusWithNoNodeAnsweringSaysTheCpMembersAreUnknownAndNamesNoLastChange() {
        Topology t = topology();
        JsonObject report = StatusCommand.report(t, snapshot(List.of(notRunning("a", t.region("a").grpcPort()),
                notRunning("b", t.region("b").grpcPort())), new Reply.Refused<>("127.0.0.1:" + t.routerPort())));
        String out = printed(report);

        assertThat(out).contains("\ncp members: unknown (no node answered)\n");
        assertThat(out).doesNotContain("last change:");
        assertThat(report.getString("leader")).isEmpty();
        assertThat(report.getInteger("exitCode")).isEqualTo(2);
        assertThat(report.getJsonObject("cpMembers").getValue("alive")).isNull();
    }

    @Test
    void aStartingNodeHasNotCountedAndIsNotTakenForALostQuorum() {
        // A node still starting answers role STARTING and nothing else: its 0 members and "no CP answer" are defaults.
        Topology t = topology();
        NodeStatus starting = NodeStatus.newBuilder().setRole(NodeRole.NODE_ROLE_STARTING).setExplanation("starting").build();
        JsonObject report = StatusCommand.report(t, snapshot(List.of(answered("a", starting), notRunning("b", t.region("b").grpcPort())),
                new Reply.Refused<>("127.0.0.1:" + t.routerPort())));
        String out = printed(report);

        assertThat(out).contains("\ncp members: unknown (node a: not counted yet)\n");
        assertThat(out).doesNotContain("no majority").doesNotContain("its CP calls get no answer");
    }

    private String verifyPrinted(JournalVerifier.Report r) {
        VerifyCommand.Target target = new VerifyCommand.Target("b", new PgCluster(PgCluster.Options.of("b", dir.resolve("pg-b"), 7433)),
                true, 5);
        JsonObject json = VerifyCommand.json(target, null, null, r);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream original = System.out;
        System.setOut(new PrintStream(out, true, java.nio.charset.StandardCharsets.UTF_8));
        try {
            VerifyCommand.print(json, r);
        } finally {
            System.setOut(original);
        }
        return out.toString(java.nio.charset.StandardCharsets.UTF_8);
    }

    private String verifySound() {
        return verifyPrinted(new JournalVerifier.Report(120, 5_000, 40, 12, 0, 118, false, null, Duration.ofMillis(1_300)));
    }

    private String verifyNotSound() {
        return verifyPrinted(new JournalVerifier.Report(120, 5_000, 40, 12, 0, 118, false,
                new JournalVerifier.Problem(17, JournalVerifier.Kind.PREV_HASH, null, "prev_hash differs"), Duration.ofMillis(1_300)));
    }

    @Test
    void verifyPrintsWhatItReplayedAndSound() {
        String out = verifySound();
        assertThat(out).contains("\nreplayed:    120 batches, 5000 transfers, 40 accounts in 1.3 s\n");
        assertThat(out).contains("\nSOUND: hash chain, timestamps, balance history, account balances, currency totals and signatures all verify.\n");
        assertThat(verifyNotSound()).contains("\nNOT SOUND:   first bad entry in batch 17: chain broken\n");
    }

    /**
     * Outputs the runbooks quote that are not {@code status}'s or {@code verify}'s lines: other commands' first words,
     * the failover agent's explanations and log lines. A label quoted in a runbook that is none of these and not a line
     * status or verify prints (like the {@code journal sound:} verify never printed) fails the test.
     */
    private static final Set<String> OTHER_OUTPUTS = Set.of(
            "chaos", "chaos run", "payments calls", "payments", "preload", "switchover", "switchover to b failed", "prometheus not installed", "events tail", "events", // other commands
            "kafka check", "kafka relay", "kafka relay: FENCED", // ./ledger kafka check, the relay's log lines
            "site a", "site b", "site witness", "site router", "postgres a", "ledger destroy", "not restarting", // ./ledger site up|down, restart
            "ledger", // the CLI's own error prefix ("ledger: switchover to b failed: ...")
            "no action", "taking over", "stopped serving", "handed over to b", "I hold the leader lock", "switchover done", // the agent's explanations
            "bootstrap", "failover", "restart", // the CP record's leadership changes (on the 'last change:' line)
            "coordinator", "steady clock", "last base backup failed", "writer", "webhooks", // log lines, the WAL keeper's detail
            "WAL keeper service", "curl", // the witness's log line, curl's errors in PostgreSQL's log (restore_command)
            "TLS error", "answer", // status's process state (after "running (pid N) but"), a JSON field
            "authorization"); // gRPC metadata

    @Test
    void everyStatusOrVerifyLineTheRunbooksQuoteIsOneTheyPrint() throws Exception {
        Topology t = topology();
        List<String> outputs = List.of(
                printed(StatusCommand.report(t, snapshot(List.of(notRunning("a", t.region("a").grpcPort()),
                        answered("b", bLeadsAfterFailover())), new Reply.Answered<>(new Verdict.RouterView(true, "b", 4), 30, 10)))),
                printed(StatusCommand.report(t, snapshot(List.of(silent("a"), notRunning("b", t.region("b").grpcPort())),
                        new Reply.NoAnswer<>("TLS handshake", 1_500)))),
                printed(StatusCommand.report(t, snapshot(List.of(notRunning("a", t.region("a").grpcPort()),
                        answered("b", bLeadsAfterFailover().toBuilder().setWriterStalled("writer stalled for 6.2 s: batch 42 is"
                                + " not answered").build())), new Reply.Answered<>(new Verdict.RouterView(true, "b", 4), 30, 10)))),
                verifySound(), verifyNotSound());
        Set<String> printedLabels = new TreeSet<>();
        Pattern label = Pattern.compile("^ *([A-Za-z][A-Za-z ]*?): ", Pattern.MULTILINE);
        for (String out : outputs) {
            Matcher m = label.matcher(out);
            while (m.find()) {
                printedLabels.add(m.group(1));
            }
        }
        assertThat(printedLabels).contains("leader", "sync copies", "cp members", "last change", "wal keeper", "base backups", "node",
                "replayed", "SOUND", "NOT SOUND", "WRITER STALLED");

        Path root = Docs.repositoryRoot();
        List<Path> docs = Docs.operatorDocs(false);
        // `label: …` or `label:` in a code span (a span may run over a line break), or a label named as
        // "./ledger status` → `label`".
        Pattern quoted = Pattern.compile("`([A-Za-z][A-Za-z ()]{0,30}?):(?: [^`]*)?`|→ `([a-z][a-z ]{1,30})`");
        // (a label with parentheses is a process state: "running (pid N) but TLS error: …", checked by VerdictTest)
        List<String> unknown = new ArrayList<>();
        for (Path doc : docs) {
            // Code blocks are commands and other commands' outputs; the quotes in prose are what is checked.
            String text = Files.readString(doc).replaceAll("(?s)```.*?```", " ").replace("\n", " ");
            Matcher m = quoted.matcher(text);
            while (m.find()) {
                String l = m.group(1) != null ? m.group(1) : m.group(2);
                if (!printedLabels.contains(l) && !OTHER_OUTPUTS.contains(l) && !l.contains("(")) {
                    unknown.add(root.relativize(doc) + ": `" + m.group().substring(0, Math.min(m.group().length(), 80)) + "`");
                }
            }
        }
        assertThat(unknown).as("lines the documents quote that neither status nor verify prints (printed labels: %s)", printedLabels)
                .isEmpty();
    }
}
