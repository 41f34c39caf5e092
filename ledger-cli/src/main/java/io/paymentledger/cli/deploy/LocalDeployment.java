package io.paymentledger.cli.deploy;

import io.paymentledger.api.v1.NodeRole;
import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.replication.postgres.PgCluster;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * The whole local deployment on loopback: PostgreSQL per region, ledger nodes, all under one directory.
 * Every operation is idempotent: `up` starts what is not running, `down` stops what is.
 */
public final class LocalDeployment {

    private static final Logger LOG = Logger.getLogger(LocalDeployment.class.getName());
    /** The region that is primary on a fresh deployment. */
    public static final String FIRST_PRIMARY = "a";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(90);

    private final Topology topology;
    private final PrintStream out;

    public LocalDeployment(Topology topology, PrintStream out) {
        this.topology = topology;
        this.out = out;
    }

    public static LocalDeployment open(Path dir, PrintStream out) {
        Topology t = Topology.exists(dir) ? Topology.load(dir) : Topology.create(dir);
        t.save();
        return new LocalDeployment(t, out);
    }

    public Topology topology() {
        return topology;
    }

    public PgCluster postgres(String region) {
        Topology.Region r = topology.region(region);
        return new PgCluster(PgCluster.Options.of(region, r.pgDir(), r.pgPort()));
    }

    public static String nodeName(String region) {
        return "node-" + region;
    }

    /** Starts everything that is not running and waits until a leader serves. */
    public void up() {
        PgCluster pg = postgres(FIRST_PRIMARY);
        if (!pg.isInitialised()) {
            out.println("postgres " + FIRST_PRIMARY + ": creating " + pg.dataDir());
            pg.initdb();
        }
        if (!pg.isRunning()) {
            pg.start();
        }
        pg.createDatabase("ledger");
        out.println("postgres " + FIRST_PRIMARY + ": 127.0.0.1:" + pg.port() + " (pid " + pg.postmasterPid().orElse(-1L) + ")");
        startNode(FIRST_PRIMARY);
        NodeStatus leader = awaitLeader(START_TIMEOUT);
        out.println("ledger node " + leader.getRegion() + ": " + leader.getGrpcAddress() + " (" + leader.getExplanation() + ")");
        out.println("ledger up: gRPC API at 127.0.0.1:" + topology.region(leader.getRegion()).grpcPort()
                + "  (logs: " + topology.logs() + ")");
    }

    public void startNode(String region) {
        String name = nodeName(region);
        if (Processes.running(topology, name).isPresent()) {
            return;
        }
        long pid = Processes.startJava(topology, name, List.of("-Xmx512m", "-XX:+UseG1GC"),
                List.of("node", "--dir", topology.dir().toString(), "--region", region));
        out.println("ledger node " + region + ": starting (pid " + pid + ", log " + Processes.logFile(topology, name) + ")");
    }

    /** Waits until some node reports that it leads. */
    public NodeStatus awaitLeader(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        try (Clients clients = new Clients()) {
            while (System.nanoTime() < deadline) {
                for (Topology.Region r : topology.regions().values()) {
                    Optional<NodeStatus> st = clients.nodeStatus(r.grpcPort());
                    if (st.isPresent() && st.get().getRole() == NodeRole.NODE_ROLE_LEADER) {
                        return st.get();
                    }
                }
                sleep(250);
            }
        }
        throw new IllegalStateException("no ledger node leads after " + timeout.toSeconds() + " s; see the logs in "
                + topology.logs() + " and run ./ledger status");
    }

    /** Stops every process of the deployment (nodes first, then PostgreSQL). */
    public void down() {
        for (String region : topology.regions().keySet()) {
            if (Processes.stop(topology, nodeName(region), Duration.ofSeconds(15))) {
                out.println("ledger node " + region + ": stopped");
            }
        }
        for (String region : topology.regions().keySet()) {
            PgCluster pg = postgres(region);
            if (pg.isRunning()) {
                pg.stop();
                out.println("postgres " + region + ": stopped");
            }
        }
    }

    /** Stops everything and deletes all data. */
    public void destroy() {
        down();
        for (Topology.Region r : topology.regions().values()) {
            deleteTree(r.pgDir());
        }
        deleteTree(topology.dir());
        out.println("ledger destroy: removed " + topology.dir());
    }

    static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (var walk = Files.walk(root)) {
            walk.sorted((a, b) -> b.getNameCount() - a.getNameCount()).forEach(p -> p.toFile().delete());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
