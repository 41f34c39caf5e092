package io.paymentledger.cli.deploy;

import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.replication.postgres.PgCluster;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * One site's lifecycle from its configuration file ({@link SiteConfig}): {@code ./ledger site up|down|status}, what
 * Terraform's sites target runs per resource, and what {@code ./ledger up} runs for each site of its default layout.
 * {@code up} applies a file: the deployment's topology takes the site's settings, the site's processes start, and a
 * running site whose configuration changed is rolled ({@link RollingRestart}: a leading region hands over first).
 * The configuration a site runs with is kept in {@code <dir>/sites/<site>.json}.
 */
public final class SiteLifecycle {

    /** Sites applied or removed at once (Terraform runs resources in parallel) take turns within this. */
    static final Duration TOPOLOGY_LOCK_WAIT = Duration.ofSeconds(300);
    /** A region brought up while another leads streams in its commit quorum within this. */
    static final Duration JOIN_TIMEOUT = Duration.ofSeconds(180);
    static final Duration NODE_STOP_GRACE = Duration.ofSeconds(15);
    static final Duration STOP_GRACE = Duration.ofSeconds(10);

    private final PrintStream out;

    public SiteLifecycle(PrintStream out) {
        this.out = out;
    }

    /** Applies {@code c} (read from a file): the topology created or updated, then the site up as {@link #up(LocalDeployment, SiteConfig)}. */
    public LocalDeployment up(SiteConfig c) {
        LocalDeployment.requireCurl();
        LocalDeployment d = locked(c.dir(), () -> {
            Topology t = c.applyTo(Topology.exists(c.dir()) ? Topology.load(c.dir()) : null);
            t.save();
            LocalDeployment deployment = new LocalDeployment(t, out);
            deployment.prepareSite();
            return deployment;
        });
        up(d, c);
        return d;
    }

    /**
     * Brings {@code c}'s site up on {@code d} (whose topology already holds {@code c}'s settings): a running site whose
     * own configuration differs from the one it runs with is rolled first; then whatever is not running starts; a region
     * is waited for until it streams in the leader's commit quorum (when another region leads).
     */
    public void up(LocalDeployment d, SiteConfig c) {
        Topology t = d.topology();
        // What runs is what the topology file says (the nodes and the witness read it when they start).
        locked(t.dir(), () -> {
            c.applyTo(t).save();
            return null;
        });
        Path appliedFile = SiteConfig.appliedFile(t.dir(), c.site());
        SiteConfig previous = Files.exists(appliedFile) ? SiteConfig.read(appliedFile) : null;
        boolean changed = previous != null && !previous.own().equals(c.own());
        RollingRestart rolling = new RollingRestart(d, step -> out.println("site " + c.site() + ": " + step.what()
                + " whole again after " + step.millis() + " ms: " + step.detail()));
        switch (c.kind()) {
            case REGION -> {
                boolean pgChanged = changed && !previous.postgres().equals(c.postgres());
                boolean nodeChanged = changed && !previous.cp().equals(c.cp());
                boolean running = Processes.running(t, LocalDeployment.nodeName(c.site())).isPresent()
                        && d.postgres(c.site()).isRunning();
                if (running && (pgChanged || nodeChanged)) {
                    out.println("site " + c.site() + ": configuration changed (" + (pgChanged ? "postgres " + previous.postgres()
                            + " -> " + c.postgres() : "") + (pgChanged && nodeChanged ? "; " : "") + (nodeChanged ? "cp "
                            + previous.cp() + " -> " + c.cp() : "") + "): rolling change");
                    rolling.region(c.site(), new RollingRestart.Parts(pgChanged, nodeChanged));
                }
                d.regionUp(c.site());
                String leader = d.currentLeaderRegion();
                if (!leader.isEmpty() && !leader.equals(c.site())) {
                    try (Clients clients = Clients.operator(t)) {
                        SiteHealth.awaitQuorum(t, clients, leader, c.site(), JOIN_TIMEOUT);
                        SiteHealth.awaitFullCpGroup(t, clients, JOIN_TIMEOUT);
                    }
                    out.println("site " + c.site() + ": streams in " + leader + "'s commit quorum; CP group whole");
                }
            }
            case WITNESS -> {
                if (changed && !previous.cp().equals(c.cp()) && Processes.running(t, LocalDeployment.WITNESS).isPresent()) {
                    out.println("site witness: CP timing changed (" + previous.cp() + " -> " + c.cp() + "): rolling change");
                    rolling.witness();
                }
                d.witnessUp();
            }
            case ROUTER -> {
                d.startRouter();
                // Prometheus and the PostgreSQL exporters run beside the router, on the operator's side.
                new Monitoring(t, d.security(), out).up();
                // Applied at once with the others (Terraform), the router is up once a leader serves through it.
                NodeStatus leader = d.awaitLeader(JOIN_TIMEOUT);
                d.awaitRouter(JOIN_TIMEOUT);
                out.println("site router: serving on 127.0.0.1:" + t.routerPort() + ", routes to region " + leader.getRegion());
            }
        }
        c.write(appliedFile);
    }

    /**
     * Stops {@code c}'s site, unless another configuration of it was applied since (then this file is stale: Terraform
     * replacing a changed site applies the new one first, then removes the old, which must not stop it). A leading region
     * hands over first. With {@code purge} its data goes too (a planned removal: the other region leads, with the WAL
     * keeper as its second site); once no site has anything left the deployment's directory and network go as well.
     */
    public void down(SiteConfig c, boolean purge) {
        if (!Topology.exists(c.dir())) {
            out.println("site " + c.site() + ": nothing deployed in " + c.dir());
            return;
        }
        // One site at a time (Terraform destroys them all at once): a leading region hands over to a running other
        // region, and only the last site removed finds nothing left and removes the deployment.
        locked(c.dir(), () -> {
            downLocked(c, purge);
            return null;
        });
    }

    private void downLocked(SiteConfig c, boolean purge) {
        Topology t = Topology.load(c.dir());
        Path appliedFile = SiteConfig.appliedFile(t.dir(), c.site());
        if (Files.exists(appliedFile) && !SiteConfig.read(appliedFile).equals(c)) {
            out.println("site " + c.site() + ": another configuration is applied (" + appliedFile + "); this one is stale:"
                    + " nothing stopped");
            return;
        }
        LocalDeployment d = new LocalDeployment(t, out);
        switch (c.kind()) {
            case REGION -> regionDown(d, c.site(), purge);
            case WITNESS -> {
                stop(t, LocalDeployment.WITNESS, STOP_GRACE);
                if (purge) {
                    LocalDeployment.deleteTree(t.witnessDir());
                }
            }
            case ROUTER -> {
                new Monitoring(t, d.security(), out).down();
                stop(t, LocalDeployment.ROUTER, STOP_GRACE);
            }
        }
        try {
            Files.deleteIfExists(appliedFile);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (purge && nothingLeft(t)) {
            d.destroy();
        }
    }

    private void regionDown(LocalDeployment d, String region, boolean purge) {
        Topology t = d.topology();
        String leader = d.currentLeaderRegion();
        String other = t.otherRegion(region);
        boolean otherNodeRuns = Processes.running(t, LocalDeployment.nodeName(other)).isPresent();
        if (leader.equals(region) && otherNodeRuns) {
            try (Clients clients = Clients.operator(t)) {
                SiteHealth.awaitQuorum(t, clients, region, other, RollingRestart.WHOLE_BEFORE);
                d.switchover(other);
                out.println("site " + region + ": handed leadership over to " + other + " (planned switchover)");
            } catch (Exception e) {
                throw new IllegalStateException("site " + region + " leads and could not hand over to " + other + " ("
                        + e.getMessage() + "); not stopping it: stopping the leader now would be a failover", e);
            }
        }
        stop(t, LocalDeployment.nodeName(region), NODE_STOP_GRACE);
        PgCluster pg = d.postgres(region);
        // Under its lifecycle lock: a rejoin its node began (pg_rewind, then a start) has finished or never starts.
        pg.exclusively(() -> {
            if (pg.isRunning()) {
                pg.stop();
                out.println("postgres " + region + ": stopped");
            }
            if (purge) {
                LocalDeployment.deleteTree(pg.dataDir());
            }
            return null;
        });
        if (purge) {
            out.println("postgres " + region + ": data removed (" + pg.dataDir() + ")" + (d.postgres(other).isInitialised()
                    ? "; site up rebuilds it from " + other : ""));
        }
    }

    private void stop(Topology t, String process, Duration grace) {
        if (Processes.stop(t, process, grace)) {
            out.println(process + ": stopped");
        }
    }

    /** No process of the deployment runs and no site has data or an applied configuration left. */
    private static boolean nothingLeft(Topology t) {
        for (String site : SiteConfig.allSites(t)) {
            if (Files.exists(SiteConfig.appliedFile(t.dir(), site))) {
                return false;
            }
        }
        return true;
    }

    /** One line per process of the site: running (pid) or not; a region's and the witness's place in the quorum. */
    public List<String> status(SiteConfig c) {
        List<String> lines = new ArrayList<>();
        if (!Topology.exists(c.dir())) {
            lines.add("site " + c.site() + ": nothing deployed in " + c.dir());
            return lines;
        }
        Topology t = Topology.load(c.dir());
        LocalDeployment d = new LocalDeployment(t, out);
        Path appliedFile = SiteConfig.appliedFile(t.dir(), c.site());
        lines.add("site " + c.site() + ": " + (!Files.exists(appliedFile) ? "not applied"
                : SiteConfig.read(appliedFile).equals(c) ? "applied (" + appliedFile + ")"
                : "another configuration is applied (" + appliedFile + "): site up applies this one"));
        List<String> processes = switch (c.kind()) {
            case REGION -> List.of(LocalDeployment.nodeName(c.site()));
            case WITNESS -> List.of(LocalDeployment.WITNESS);
            case ROUTER -> List.of(LocalDeployment.ROUTER);
        };
        for (String p : processes) {
            lines.add("  " + p + ": " + Processes.running(t, p).map(h -> "running (pid " + h.pid() + ")").orElse("not running"));
        }
        if (c.kind() == SiteConfig.Kind.REGION) {
            PgCluster pg = d.postgres(c.site());
            lines.add("  postgres-" + c.site() + ": " + (pg.isRunning() ? "running (pid " + pg.postmasterPid().orElse(-1L) + ")"
                    : pg.isInitialised() ? "stopped" : "no data"));
            try (Clients clients = Clients.operator(t)) {
                clients.nodeStatus(t.region(c.site()).grpcPort()).ifPresent(st -> lines.add("  role: " + roleLine(t, clients, st)));
            }
        }
        return lines;
    }

    private static String roleLine(Topology t, Clients clients, NodeStatus st) {
        if (st.getRole() == io.paymentledger.api.v1.NodeRole.NODE_ROLE_LEADER) {
            return "leads (epoch " + st.getEpoch() + "), every acknowledged write in " + st.getSyncCopies() + " sites";
        }
        String leader = st.getLeaderRegion();
        boolean inQuorum = !leader.isEmpty() && t.regions().containsKey(leader) && clients.nodeStatus(t.region(leader).grpcPort())
                .map(l -> SiteHealth.inQuorum(l, st.getRegion())).orElse(false);
        return st.getRole().name().replace("NODE_ROLE_", "").toLowerCase() + (leader.isEmpty() ? "" : ", " + leader + " leads")
                + (inQuorum ? "; streams in its commit quorum" : "; not in the leader's commit quorum");
    }

    /** Runs {@code work} holding {@code <dir>/sites.lock} (sites applied at once take turns), waiting a bounded time. */
    static <T> T locked(Path dir, java.util.function.Supplier<T> work) {
        try {
            Files.createDirectories(dir);
            try (FileChannel ch = FileChannel.open(dir.resolve("sites.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                long deadline = System.nanoTime() + TOPOLOGY_LOCK_WAIT.toNanos();
                FileLock lock;
                while ((lock = ch.tryLock()) == null) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("another ./ledger site command has held " + dir.resolve("sites.lock")
                                + " for " + TOPOLOGY_LOCK_WAIT.toSeconds() + " s");
                    }
                    LocalDeployment.sleep(200);
                }
                try (FileLock held = lock) {
                    return work.get();
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
