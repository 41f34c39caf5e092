package io.paymentledger.cli.command;

import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.cli.deploy.Clients;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.Processes;
import io.paymentledger.cli.deploy.RouterProcess;
import io.paymentledger.cli.status.Reply;
import io.paymentledger.cli.status.StatusProbe;
import io.paymentledger.cli.status.Verdict;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.cli.deploy.WitnessProcess;
import io.paymentledger.replication.walkeeper.WalKeeper;
import io.paymentledger.replication.postgres.PgCluster;
import io.paymentledger.security.logging.LogSetup;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "status", sortOptions = false, mixinStandardHelpOptions = true,
        description = {"Show the local deployment: who leads, every region's role and why, replication, the WAL keeper,"
                + " endpoints, PIDs.",
                "Asks every process (both nodes, the router, the witness) at once; each gets "
                        + Clients.CONNECT_BUDGET_MS + " ms to connect and " + StatusProbe.ANSWER_BUDGET_MS + " ms to answer,"
                        + " counted after the CLI's own start-up. A process that does not answer is reported as such (no"
                        + " answer in N ms, connection refused, TLS error), never as a bare 'down'; 'not running (no PID)'"
                        + " means no process of ours is alive."},
        exitCodeListHeading = "%nExit codes (of the last round with --watch):%n",
        exitCodeList = {"0:a node said it leads (named on the 'leader:' line): writes are served",
                "1:the command itself failed (a message says why)",
                "2:no leader: every node answered or is provably not running, none says it leads or names a leader, and the"
                        + " router names none",
                "3:nothing deployed in the directory",
                "4:leader not confirmed: no node says it leads, and some node did not answer or a leader is named (by a node,"
                        + " from the coordinator's view, or by the router; shown marked UNCONFIRMED)",
                "5:a node says it leads but its writer is stalled: work has waited with nothing committed longer than"
                        + " its report bound (the WRITER STALLED line says on what); it steps down by itself"})
public final class StatusCommand implements Callable<Integer> {

    /** --watch redraws this often. */
    static final long WATCH_INTERVAL_MS = 1_000;

    @Mixin
    DeploymentOptions deployment;

    @Option(names = "--json", description = "Machine-readable output (with --watch: one JSON object per line and round).")
    boolean json;

    @Option(names = "--watch", description = "Redraw every second until Ctrl-C (or --count rounds).")
    boolean watch;

    @Option(names = "--count", paramLabel = "N", description = "With --watch: stop after N rounds (0: until Ctrl-C; default).")
    int count;

    @Override
    public Integer call() {
        LogSetup.install("ledger-status", Level.SEVERE);
        if (count < 0) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this), "--count must be 0 or more, not " + count);
        }
        if (!Topology.exists(deployment.dir())) {
            System.out.println(json ? new JsonObject().put("deployed", false).encodePrettily()
                    : "ledger status: nothing deployed in " + deployment.dir() + " (run ./ledger up)");
            return Verdict.Exit.NOT_DEPLOYED.code;
        }
        Topology t = Topology.load(deployment.dir());
        boolean rounds = watch || count > 0;
        boolean terminal = System.console() != null;
        try (StatusProbe probe = StatusProbe.open(t)) {
            int exit = 0;
            long start = System.nanoTime();
            for (int round = 1; !rounds || count == 0 || round <= count; round++) {
                JsonObject report = report(t, probe);
                exit = report.getInteger("exitCode");
                if (json) {
                    System.out.println(rounds ? report.encode() : report.encodePrettily());
                } else {
                    if (rounds) {
                        // On a terminal: redraw in place; into a file or pipe: one block per round.
                        System.out.print(terminal ? "\033[H\033[2J" : "");
                        System.out.println("--- " + java.time.LocalTime.now().withNano(0) + " (round " + round
                                + (count > 0 ? " of " + count : "; Ctrl-C stops") + ")");
                    }
                    print(report, System.out);
                }
                System.out.flush();
                if (!rounds || (count > 0 && round == count)) {
                    break;
                }
                long next = start + round * WATCH_INTERVAL_MS * 1_000_000L;
                LocalDeployment.sleep(Math.max(0, (next - System.nanoTime()) / 1_000_000L));
            }
            return exit;
        }
    }

    /** One round of asking, with clients built just for it (tests, and callers that ask once). */
    public static JsonObject report(Topology t) {
        try (StatusProbe probe = StatusProbe.open(t)) {
            return report(t, probe);
        }
    }

    public static JsonObject report(Topology t, StatusProbe probe) {
        return report(t, probe.ask());
    }

    /** The report of what the processes answered ({@code snap}) and what the deployment's files say. */
    static JsonObject report(Topology t, StatusProbe.Snapshot snap) {
        Verdict verdict = snap.verdict();
        JsonArray regions = new JsonArray();
        NodeStatus leaderView = null;
        NodeStatus newestView = null;
        int syncCopies = 0;
        JsonObject cpByRegion = new JsonObject();
        int cpAlive = -1;
        for (Topology.Region r : t.regions().values()) {
            Verdict.Node n = snap.byRegion().get(r.name());
            // Only its data directory is read (postmaster.pid): no TLS material needed.
            PgCluster pg = new PgCluster(PgCluster.Options.of(r.name(), r.pgDir(), r.pgPort()));
            JsonObject region = new JsonObject().put("region", r.name())
                    .put("postgres", new JsonObject().put("address", t.host(r.name()) + ":" + r.pgPort())
                            .put("pid", pg.postmasterPid().orElse(null)).put("dataDir", pg.dataDir().toString()))
                    .put("node", new JsonObject().put("grpcAddress", t.host(r.name()) + ":" + r.grpcPort())
                            .put("pid", n.pid().orElse(null))
                            .put("log", Processes.logFile(t, LocalDeployment.nodeName(r.name())).toString())
                            .put("answer", answer(n.pid(), n.reply())));
            NodeStatus s = n.reply().value();
            if (s != null) {
                region.mergeIn(io.paymentledger.router.page.NodeStatusJson.fields(s));
                if (verdict.confirmed() && r.name().equals(verdict.leader())) {
                    syncCopies = s.getSyncCopies();
                    leaderView = s;
                }
                if (newestView == null || s.getEpoch() > newestView.getEpoch()) {
                    newestView = s;
                }
                // A starting node has not asked the CP group yet: its 0 and false mean "not known" (null here).
                boolean starting = s.getRole() == io.paymentledger.api.v1.NodeRole.NODE_ROLE_STARTING;
                int alive = starting ? -1 : s.getCpMembersAlive();
                cpByRegion.put(r.name(), new JsonObject().put("alive", alive)
                        .put("cpGroupAnswers", starting ? null : s.getCoordinatorQuorum()));
                cpAlive = Math.max(cpAlive, alive);
            } else {
                // "down" only when provably so; otherwise what is known: it runs but did not answer.
                region.put("role", n.pid().isEmpty() && n.reply() instanceof Reply.Refused<?> ? "down" : "unknown");
            }
            regions.add(region);
        }
        Verdict.RouterView rv = snap.router().value();
        JsonObject router = new JsonObject().put("address", "127.0.0.1:" + t.routerPort())
                .put("pid", snap.routerPid().orElse(null))
                .put("log", Processes.logFile(t, LocalDeployment.ROUTER).toString())
                .put("serving", rv != null && rv.serving())
                .put("routesTo", rv == null ? null : new JsonObject().put("region", rv.leaderRegion()).put("epoch", rv.leaderEpoch()))
                .put("statusPage", "https://127.0.0.1:" + t.routerPort() + RouterProcess.STATUS_PAGE_PATH)
                .put("answer", answer(snap.routerPid(), snap.router()));
        JsonObject witness = new JsonObject().put("hazelcast", t.host(Topology.WITNESS_SITE) + ":" + t.witnessHazelcastPort())
                .put("walService", t.walKeeperUrl())
                .put("pid", snap.witnessPid().orElse(null))
                .put("log", Processes.logFile(t, LocalDeployment.WITNESS).toString())
                .put("answer", answer(snap.witnessPid(), snap.witnessCpPort()));
        java.nio.file.Path pkiDir = t.dir().resolve("pki");
        JsonObject pki = new JsonObject().put("dir", pkiDir.toString()).put("ca", pkiDir.resolve("ca.crt").toString())
                .put("crl", pkiDir.resolve("ca.crl").toString())
                .put("operatorCertificate", pkiDir.resolve("operator.crt").toString())
                .put("operatorKey", pkiDir.resolve("operator.key").toString())
                .put("trustDomain", t.trustDomain());
        JsonObject nodeCerts = new JsonObject();
        t.regions().keySet().forEach(r -> nodeCerts.put(r, pkiDir.resolve("node-" + r + ".crt").toString()));
        pki.put("nodeCertificates", nodeCerts).put("routerCertificate", pkiDir.resolve("router.crt").toString());
        return new JsonObject().put("deployed", true).put("dir", t.dir().toString()).put("leader", verdict.leader())
                .put("epoch", verdict.epoch()).put("leaderConfirmed", verdict.confirmed()).put("leaderSource", verdict.source())
                .put("exitCode", verdict.exit().code).put("askedInMs", snap.roundMs())
                .put("budgets", new JsonObject().put("connectMs", Clients.CONNECT_BUDGET_MS).put("answerMs", StatusProbe.ANSWER_BUDGET_MS))
                .put("syncCopies", syncCopies)
                .put("cpMembers", new JsonObject().put("expected", t.regions().size() + 1).put("alive", cpAlive < 0 ? null : cpAlive)
                        .put("byRegion", cpByRegion))
                .put("lastFailover", lastFailover(newestView))
                .put("router", router).put("witness", witness)
                .put("walKeeper", walKeeper(t, leaderView)).put("pki", pki).put("regions", regions)
                .put("prometheus", new JsonObject().put("address", io.paymentledger.cli.deploy.Monitoring.prometheusAddress(t)))
                .put("kafka", io.paymentledger.cli.deploy.KafkaProcess.status(t));
    }

    /**
     * The last leadership change as the CP record says it (every node reads the same record; the node of the newest
     * epoch has the newest view): reason, duration, and which node said so. Reason "" when no node answered.
     */
    private static JsonObject lastFailover(NodeStatus newest) {
        if (newest == null || newest.getLastFailoverReason().isEmpty()) {
            return new JsonObject().put("reason", "").put("durationMs", 0L).putNull("reportedBy");
        }
        return new JsonObject().put("reason", newest.getLastFailoverReason()).put("durationMs", newest.getLastFailoverDurationMs())
                .put("reportedBy", newest.getRegion());
    }

    /** A process's reply: its kind, how long it took, and a sentence ("running (pid 42) but no answer in 1500 ms"). */
    private static JsonObject answer(java.util.Optional<Long> pid, Reply<?> reply) {
        String state = switch (reply) {
            case Reply.Answered<?> a -> "answered";
            case Reply.NoAnswer<?> n -> "no-answer";
            case Reply.Refused<?> r -> pid.isEmpty() ? "not-running" : "refused";
            case Reply.TlsFailed<?> f -> "tls-error";
            case Reply.Failed<?> f -> "error";
        };
        JsonObject j = new JsonObject().put("state", state).put("detail", Verdict.process(pid, reply));
        if (reply instanceof Reply.Answered<?> a) {
            j.put("ms", a.ms()).put("connectMs", a.connectMs());
        }
        return j;
    }

    /**
     * The WAL keeper: its own account (the witness's status file: state, whom it follows, base backups, where its WAL
     * ends after a takeover) and the leader's view of its stream (pg_stat_replication: connected, flushed, lag).
     */
    static JsonObject walKeeper(Topology t, NodeStatus leader) {
        JsonObject k = new JsonObject();
        java.nio.file.Path file = WitnessProcess.statusFile(t);
        try {
            if (java.nio.file.Files.exists(file)) {
                k = new JsonObject(java.nio.file.Files.readString(file));
            } else {
                k.put("state", "UNKNOWN").put("detail", "no status yet (" + file + " does not exist: has the witness started?)");
            }
        } catch (java.io.IOException | io.vertx.core.json.DecodeException e) {
            k.put("state", "UNKNOWN").put("detail", "cannot read " + file + ": " + e.getMessage());
        }
        k.put("statusFile", file.toString()).put("dir", t.witnessDir().toString());
        JsonObject stream = new JsonObject().put("connected", false);
        if (leader != null) {
            for (var rep : leader.getReplicationList()) {
                if (rep.getStandbyName().equals(WalKeeper.NAME)) {
                    stream.put("connected", true).put("state", rep.getState()).put("syncState", rep.getSyncState())
                            .put("flushLsn", rep.getFlushLsn()).put("lagBytes", rep.getLagBytes()).put("from", leader.getRegion());
                }
            }
        }
        return k.put("stream", stream);
    }

    /** "pid 42", or "no PID" when no process of ours runs. */
    private static String pid(JsonObject process) {
        Object pid = process.getValue("pid");
        return pid == null ? "no PID" : "pid " + pid;
    }

    /**
     * "cp members: 3 of 3 alive (node a: 3, node b: 3)": the most any node counts, each node's count and whether its
     * CP calls get answers; "no majority" as the LedgerCpQuorumLost alert decides it (fewer than a majority counted
     * by every node, or no node's CP calls answered).
     */
    static String cpMembersLine(JsonObject cp) {
        int expected = cp.getInteger("expected");
        java.util.List<String> nodes = new java.util.ArrayList<>();
        int asked = 0;
        int unanswered = 0;
        for (String region : cp.getJsonObject("byRegion").fieldNames()) {
            JsonObject n = cp.getJsonObject("byRegion").getJsonObject(region);
            int alive = n.getInteger("alive");
            Boolean answers = n.getBoolean("cpGroupAnswers");
            asked += answers == null ? 0 : 1;
            unanswered += Boolean.FALSE.equals(answers) ? 1 : 0;
            nodes.add("node " + region + ": " + (alive < 0 ? "not counted yet" : Integer.toString(alive))
                    + (Boolean.FALSE.equals(answers) ? ", its CP calls get no answer" : ""));
        }
        boolean noneAnswered = asked > 0 && unanswered == asked;
        Integer alive = cp.getInteger("alive");
        if (nodes.isEmpty()) {
            return "cp members: unknown (no node answered)";
        }
        int majority = expected / 2 + 1;
        return "cp members: " + (alive == null ? "unknown" : alive + " of " + expected + " alive") + " (" + String.join(", ", nodes) + ")"
                + ((alive != null && alive < majority) || noneAnswered
                        ? "; no majority: no leader can be elected or keep its lease (runbooks/region-loss.md)" : "");
    }

    /** The human output of one round (what {@code ./ledger status} prints without --json). */
    public static void print(JsonObject r, java.io.PrintStream out) {
        out.println("deployment: " + r.getString("dir"));
        String leader = r.getString("leader");
        out.println("leader:     " + (leader.isEmpty() ? "NONE (" + r.getString("leaderSource") + ")"
                : "region " + leader + " (epoch " + r.getLong("epoch") + ")" + (r.getBoolean("leaderConfirmed")
                        ? ", says " + r.getString("leaderSource") : " UNCONFIRMED, named by " + r.getString("leaderSource"))));
        out.println("asked:      every process at once, " + r.getLong("askedInMs") + " ms in all (each: "
                + r.getJsonObject("budgets").getInteger("connectMs") + " ms to connect, "
                + r.getJsonObject("budgets").getLong("answerMs") + " ms to answer); exit code " + r.getInteger("exitCode"));
        JsonObject router = r.getJsonObject("router");
        JsonObject routesTo = router.getJsonObject("routesTo");
        out.println("router:     " + router.getString("address") + " " + pid(router) + ": "
                + router.getJsonObject("answer").getString("detail") + (routesTo == null ? ""
                : router.getBoolean("serving") ? "; serving, routes writes to region " + routesTo.getString("region") + " (epoch "
                + routesTo.getLong("epoch") + ")" : "; NOT serving (knows no usable leader: calls wait)"));
        out.println("            status page (operator certificate): " + router.getString("statusPage"));
        JsonObject witness = r.getJsonObject("witness");
        out.println("witness:    " + witness.getString("hazelcast") + " " + pid(witness) + ": "
                + (witness.getJsonObject("answer").getString("state").equals("answered")
                        ? "its CP port accepts connections (" + witness.getJsonObject("answer").getLong("ms") + " ms)"
                        : witness.getJsonObject("answer").getString("detail")));
        if (witness.getString("walService") != null) {
            out.println("            WAL service (a takeover fetches from it): " + witness.getString("walService"));
        }
        if (r.containsKey("kafka")) {
            out.println(io.paymentledger.cli.deploy.KafkaProcess.statusLine(r.getJsonObject("kafka")));
        }
        JsonObject k = r.getJsonObject("walKeeper");
        JsonObject stream = k.getJsonObject("stream");
        out.println("wal keeper: " + k.getString("state", "UNKNOWN") + " — " + k.getString("detail", "")
                + (stream.getBoolean("connected") ? "; the leader sees it " + stream.getString("state") + " (" + stream.getString("syncState")
                + "), flushed " + stream.getString("flushLsn") + ", lag " + stream.getLong("lagBytes") + " bytes"
                : "; not connected to the leader"));
        JsonArray backups = k.getJsonArray("backups", new JsonArray());
        out.println("            base backups: " + backups.size() + (backups.isEmpty() ? " (none yet)" : " (newest "
                + java.time.Instant.ofEpochMilli(backups.getJsonObject(0).getLong("takenAtMs")) + " from "
                + backups.getJsonObject(0).getString("source") + ", starts at " + backups.getJsonObject(0).getString("start") + ")")
                + "; WAL in " + k.getString("walDir", k.getString("dir")));
        int copies = r.getInteger("syncCopies");
        out.println("sync copies: " + copies + (!r.getBoolean("leaderConfirmed") ? " (no confirmed leader: nobody can count them)"
                : copies >= 2 ? " (every acknowledged write is on the leader and " + (copies - 1) + " more site" + (copies > 2 ? "s" : "") + ")"
                : " (acknowledged writes are on the leader only as far as it can see: see its explanation)"));
        out.println(cpMembersLine(r.getJsonObject("cpMembers")));
        JsonObject last = r.getJsonObject("lastFailover");
        if (!last.getString("reason").isEmpty()) {
            out.println("last change: " + last.getString("reason") + " (" + last.getLong("durationMs")
                    + " ms from taking the lock to serving; the CP record as node " + last.getString("reportedBy") + " read it)");
        }
        out.println("pki:        CA " + r.getJsonObject("pki").getString("ca") + "; operator "
                + r.getJsonObject("pki").getString("operatorCertificate") + " / " + r.getJsonObject("pki").getString("operatorKey"));
        for (Object o : r.getJsonArray("regions")) {
            JsonObject g = (JsonObject) o;
            JsonObject nodeAnswer = g.getJsonObject("node").getJsonObject("answer");
            out.printf("region %s: %-8s node %s %s%s | postgres %s %s%n", g.getString("region"), g.getString("role"),
                    g.getJsonObject("node").getString("grpcAddress"), pid(g.getJsonObject("node")),
                    nodeAnswer.containsKey("ms") ? " (" + nodeAnswer.getString("detail") + ")" : "",
                    g.getJsonObject("postgres").getString("address"), pid(g.getJsonObject("postgres")));
            if (!g.getJsonObject("node").getJsonObject("answer").getString("state").equals("answered")) {
                out.println("          node: " + g.getJsonObject("node").getJsonObject("answer").getString("detail"));
            }
            if (g.containsKey("explanation")) {
                out.println("          " + g.getString("explanation"));
                if (!g.getString("writerStalled", "").isEmpty()) {
                    out.println("          WRITER STALLED: " + g.getString("writerStalled"));
                }
                for (Object rep : g.getJsonArray("replication")) {
                    JsonObject x = (JsonObject) rep;
                    out.printf("          standby %s: %s, %s, flushed %s, lag %d bytes / %.3f s%n", x.getString("standby"),
                            x.getString("state"), x.getString("syncState"), x.getString("flushLsn"), x.getLong("lagBytes"),
                            x.getDouble("lagSeconds"));
                }
                if (!g.getJsonArray("commitSet").isEmpty() || !g.getJsonArray("syncStandbys").isEmpty()) {
                    out.println("          commits wait for any of " + g.getJsonArray("commitSet").getList()
                            + "; acknowledged writes are recorded to be in " + g.getJsonArray("syncStandbys").getList());
                }
            }
        }
    }
}
