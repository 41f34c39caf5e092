package io.paymentledger.cli.command;

import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.cli.deploy.Clients;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.Processes;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.cli.deploy.WitnessProcess;
import io.paymentledger.replication.walkeeper.WalKeeper;
import io.paymentledger.replication.postgres.PgCluster;
import io.paymentledger.security.logging.LogSetup;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "status", description = "Show the local deployment: regions, roles, epoch, replication, endpoints, PIDs.")
public final class StatusCommand implements Callable<Integer> {

    @Mixin
    DeploymentOptions deployment;

    @Option(names = "--json", description = "Machine-readable output.")
    boolean json;

    @Override
    public Integer call() {
        LogSetup.install("ledger-status", Level.SEVERE);
        if (!Topology.exists(deployment.dir())) {
            System.out.println(json ? new JsonObject().put("deployed", false).encodePrettily()
                    : "ledger status: nothing deployed in " + deployment.dir() + " (run ./ledger up)");
            return 3;
        }
        JsonObject report = report(Topology.load(deployment.dir()));
        if (json) {
            System.out.println(report.encodePrettily());
        } else {
            print(report);
        }
        return report.getString("leader", "").isEmpty() ? 2 : 0;
    }

    public static JsonObject report(Topology t) {
        LocalDeployment d = new LocalDeployment(t, System.out);
        JsonArray regions = new JsonArray();
        String leader = "";
        long epoch = 0;
        int syncCopies = 0;
        NodeStatus leaderView = null;
        try (Clients clients = Clients.operator(t)) {
            for (Topology.Region r : t.regions().values()) {
                PgCluster pg = d.postgres(r.name());
                JsonObject region = new JsonObject().put("region", r.name())
                        .put("postgres", new JsonObject().put("address", "127.0.0.1:" + r.pgPort())
                                .put("pid", pg.postmasterPid().orElse(null)).put("dataDir", pg.dataDir().toString()))
                        .put("node", new JsonObject().put("grpcAddress", "127.0.0.1:" + r.grpcPort())
                                .put("pid", Processes.running(t, LocalDeployment.nodeName(r.name())).map(ProcessHandle::pid).orElse(null))
                                .put("log", Processes.logFile(t, LocalDeployment.nodeName(r.name())).toString()));
                Optional<NodeStatus> st = clients.nodeStatus(r.grpcPort());
                if (st.isPresent()) {
                    NodeStatus s = st.get();
                    JsonArray replication = new JsonArray();
                    s.getReplicationList().forEach(rep -> replication.add(new JsonObject().put("standby", rep.getStandbyName())
                            .put("state", rep.getState()).put("syncState", rep.getSyncState()).put("lagBytes", rep.getLagBytes())
                            .put("lagSeconds", rep.getLagSeconds()).put("flushLsn", rep.getFlushLsn())));
                    region.put("role", s.getRole().name().replace("NODE_ROLE_", "").toLowerCase())
                            .put("epoch", s.getEpoch()).put("explanation", s.getExplanation())
                            .put("databasePrimary", s.getDatabasePrimary()).put("replication", replication)
                            .put("standbyReplayLagBytes", s.getStandbyReplayLagBytes())
                            .put("syncStandbys", new JsonArray(s.getSyncStandbysList()))
                            .put("commitSet", new JsonArray(s.getCommitSetList())).put("syncCopies", s.getSyncCopies())
                            .put("lastFailover", new JsonObject().put("reason", s.getLastFailoverReason())
                                    .put("durationMs", s.getLastFailoverDurationMs()))
                            .put("cpMembersAlive", s.getCpMembersAlive());
                    if (s.getRole() == io.paymentledger.api.v1.NodeRole.NODE_ROLE_LEADER && s.getEpoch() >= epoch) {
                        leader = r.name();
                        epoch = s.getEpoch();
                        syncCopies = s.getSyncCopies();
                        leaderView = s;
                    }
                } else {
                    region.put("role", "down");
                }
                regions.add(region);
            }
        }
        JsonObject router = new JsonObject().put("address", "127.0.0.1:" + t.routerPort())
                .put("pid", Processes.running(t, LocalDeployment.ROUTER).map(ProcessHandle::pid).orElse(null))
                .put("log", Processes.logFile(t, LocalDeployment.ROUTER).toString());
        JsonObject witness = new JsonObject().put("hazelcast", "127.0.0.1:" + t.witnessHazelcastPort())
                .put("pid", Processes.running(t, LocalDeployment.WITNESS).map(ProcessHandle::pid).orElse(null))
                .put("log", Processes.logFile(t, LocalDeployment.WITNESS).toString());
        try (Clients clients = Clients.operator(t)) {
            router.put("serving", clients.serving(t.routerPort()));
        }
        java.nio.file.Path pkiDir = t.dir().resolve("pki");
        JsonObject pki = new JsonObject().put("dir", pkiDir.toString()).put("ca", pkiDir.resolve("ca.crt").toString())
                .put("crl", pkiDir.resolve("ca.crl").toString())
                .put("operatorCertificate", pkiDir.resolve("operator.crt").toString())
                .put("operatorKey", pkiDir.resolve("operator.key").toString())
                .put("trustDomain", t.trustDomain());
        JsonObject nodeCerts = new JsonObject();
        t.regions().keySet().forEach(r -> nodeCerts.put(r, pkiDir.resolve("node-" + r + ".crt").toString()));
        pki.put("nodeCertificates", nodeCerts).put("routerCertificate", pkiDir.resolve("router.crt").toString());
        return new JsonObject().put("deployed", true).put("dir", t.dir().toString()).put("leader", leader)
                .put("epoch", epoch).put("syncCopies", syncCopies).put("router", router).put("witness", witness)
                .put("walKeeper", walKeeper(t, leaderView)).put("pki", pki).put("regions", regions)
                .put("prometheus", new JsonObject().put("address", io.paymentledger.cli.deploy.Monitoring.prometheusAddress(t)));
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

    static void print(JsonObject r) {
        System.out.println("deployment: " + r.getString("dir"));
        System.out.println("leader:     " + (r.getString("leader").isEmpty() ? "NONE (writes are not served)" : "region "
                + r.getString("leader") + " (epoch " + r.getLong("epoch") + ")"));
        JsonObject router = r.getJsonObject("router");
        System.out.println("router:     " + router.getString("address") + " pid " + router.getValue("pid") + " ("
                + (router.getBoolean("serving") ? "serving, routes to region " + r.getString("leader") : "NOT serving") + ")");
        System.out.println("witness:    " + r.getJsonObject("witness").getString("hazelcast") + " pid "
                + r.getJsonObject("witness").getValue("pid"));
        JsonObject k = r.getJsonObject("walKeeper");
        JsonObject stream = k.getJsonObject("stream");
        System.out.println("wal keeper: " + k.getString("state", "UNKNOWN") + " — " + k.getString("detail", "")
                + (stream.getBoolean("connected") ? "; the leader sees it " + stream.getString("state") + " (" + stream.getString("syncState")
                + "), flushed " + stream.getString("flushLsn") + ", lag " + stream.getLong("lagBytes") + " bytes"
                : "; not connected to the leader"));
        JsonArray backups = k.getJsonArray("backups", new JsonArray());
        System.out.println("            base backups: " + backups.size() + (backups.isEmpty() ? " (none yet)" : " (newest "
                + java.time.Instant.ofEpochMilli(backups.getJsonObject(0).getLong("takenAtMs")) + " from "
                + backups.getJsonObject(0).getString("source") + ", starts at " + backups.getJsonObject(0).getString("start") + ")")
                + "; WAL in " + k.getString("walDir", k.getString("dir")));
        int copies = r.getInteger("syncCopies");
        System.out.println("sync copies: " + copies + (r.getString("leader").isEmpty() ? " (no leader: nobody can count them)"
                : copies >= 2 ? " (every acknowledged write is on the leader and " + (copies - 1) + " more site" + (copies > 2 ? "s" : "") + ")"
                : " (acknowledged writes are on the leader only as far as it can see: see its explanation)"));
        System.out.println("pki:        CA " + r.getJsonObject("pki").getString("ca") + "; operator "
                + r.getJsonObject("pki").getString("operatorCertificate") + " / " + r.getJsonObject("pki").getString("operatorKey"));
        for (Object o : r.getJsonArray("regions")) {
            JsonObject g = (JsonObject) o;
            System.out.printf("region %s: %-8s node %s pid %s | postgres %s pid %s%n", g.getString("region"), g.getString("role"),
                    g.getJsonObject("node").getString("grpcAddress"), g.getJsonObject("node").getValue("pid"),
                    g.getJsonObject("postgres").getString("address"), g.getJsonObject("postgres").getValue("pid"));
            if (g.containsKey("explanation")) {
                System.out.println("          " + g.getString("explanation"));
                for (Object rep : g.getJsonArray("replication")) {
                    JsonObject x = (JsonObject) rep;
                    System.out.printf("          standby %s: %s, %s, flushed %s, lag %d bytes / %.3f s%n", x.getString("standby"),
                            x.getString("state"), x.getString("syncState"), x.getString("flushLsn"), x.getLong("lagBytes"),
                            x.getDouble("lagSeconds"));
                }
                if (!g.getJsonArray("commitSet").isEmpty() || !g.getJsonArray("syncStandbys").isEmpty()) {
                    System.out.println("          commits wait for any of " + g.getJsonArray("commitSet").encode()
                            + "; acknowledged writes are recorded to be in " + g.getJsonArray("syncStandbys").encode());
                }
                String last = g.getJsonObject("lastFailover").getString("reason");
                if (!last.isEmpty()) {
                    System.out.println("          last change: " + last + " (" + g.getJsonObject("lastFailover").getLong("durationMs")
                            + " ms from taking the lock to serving)");
                }
            }
        }
    }
}
