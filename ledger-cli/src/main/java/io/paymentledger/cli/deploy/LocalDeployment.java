package io.paymentledger.cli.deploy;

import io.paymentledger.api.v1.NodeStatus;
import io.paymentledger.replication.failover.FailoverStateMachine;
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
    /** The region that is primary on a fresh deployment of the default layout (topology settings say which, per deployment). */
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

    /**
     * Opens the deployment in {@code dir}, creating it with its sites laid out as {@code layout} on first use. The
     * layout is chosen once: asking an existing deployment for another one is refused (destroy it first).
     */
    public static LocalDeployment open(Path dir, PrintStream out, Sites.Layout layout) {
        if (Topology.exists(dir)) {
            Topology t = Topology.load(dir);
            if (t.sites().layout() != layout) {
                throw new IllegalArgumentException("the deployment in " + dir + " has its sites on "
                        + t.sites().layout().name().toLowerCase(java.util.Locale.ROOT) + " (chosen at its first up); to use "
                        + layout.name().toLowerCase(java.util.Locale.ROOT) + ", ./ledger destroy --dir " + dir + " first");
            }
            return new LocalDeployment(t, out);
        }
        if (layout == Sites.Layout.LOOPBACK) {
            return open(dir, out);
        }
        SiteNetwork.requireSupported();
        Topology t = Topology.create(dir, SiteNetwork.choose(java.util.List.of("a", "b", Topology.WITNESS_SITE),
                dir.toAbsolutePath().toString()));
        t.save();
        return new LocalDeployment(t, out);
    }

    public Topology topology() {
        return topology;
    }

    public PgCluster postgres(String region) {
        return postgres(topology, DeploymentSecurity.open(topology), region);
    }

    /** PostgreSQL of {@code region}, secured with the deployment's PKI (TLS 1.3, client certificate, password). */
    public static PgCluster postgres(Topology topology, DeploymentSecurity security, String region) {
        Topology.Region r = topology.region(region);
        Sites sites = topology.sites();
        return new PgCluster(PgCluster.Options.of(region, r.pgDir(), r.pgPort()).withSecurity(security.postgresSecurity(region))
                .withSettings(topology.settings().postgres(region))
                .withNetwork(new PgCluster.Network(sites.host(region), sites.clientCidr(), sites.launcher(region))));
    }

    public DeploymentSecurity security() {
        return DeploymentSecurity.open(topology);
    }

    public static String nodeName(String region) {
        return "node-" + region;
    }

    public static final String WITNESS = "witness";
    public static final String ROUTER = "router";

    /** How long a region created as a standby waits for a running primary to clone from. */
    static final Duration PRIMARY_WAIT = Duration.ofSeconds(120);

    /**
     * Starts everything that is not running and waits until a leader serves: each site the way {@code ./ledger site up}
     * starts it, with the configuration made from this deployment's layout ({@link SiteConfig#of}) — region by region
     * (the first primary's PostgreSQL created with initdb, the other's cloned from it as its streaming standby), the
     * witness, the router.
     */
    public void up() {
        requireCurl();
        prepareSite();
        // Before the nodes, whose relays publish to it (with --kafka only; a broker that does not come up stops nothing).
        KafkaProcess.upIfEnabled(topology, out);
        for (String site : SiteConfig.allSites(topology)) {
            new SiteLifecycle(out).up(this, SiteConfig.of(topology, site));
        }
        NodeStatus leader = awaitLeader(START_TIMEOUT);
        awaitRouter(START_TIMEOUT);
        out.println("leader: region " + leader.getRegion() + " (epoch " + leader.getEpoch() + "): " + leader.getExplanation());
        out.println("ledger up: gRPC API for merchants at 127.0.0.1:" + topology.routerPort()
                + " (the region router)  (./ledger status for everything; logs: " + topology.logs() + ")");
    }

    static void requireCurl() {
        if (!io.paymentledger.replication.walkeeper.WalService.curlAvailable()) {
            throw new IllegalStateException("curl is not installed: a standby that takes over fetches what it lacks from the"
                    + " WAL keeper's service with it (restore_command); install it (Debian: apt-get install curl) and run"
                    + " ./ledger up again");
        }
    }

    /**
     * What every site needs first (once, before any site starts): its network namespace (netns layout) and the
     * deployment's certificates.
     */
    void prepareSite() {
        if (topology.sites().netns()) {
            SiteNetwork net = new SiteNetwork(topology.sites());
            if (!topology.siteNames().stream().allMatch(net::exists)) {
                net.up();
                out.println("sites: network namespaces " + topology.sites().namespaces() + " on bridge " + topology.sites().bridge()
                        + " (" + topology.sites().clientCidr() + "); cut links with ./ledger chaos isolate|partition, undo with heal");
            }
        }
        DeploymentSecurity security = security();
        if (!java.nio.file.Files.exists(security.pki().caCertFile())) {
            security.issueAll();
            out.println("pki: " + security.pki().dir() + " (CA " + security.caFile().getFileName() + ", trust domain "
                    + security.trustDomain() + "); operator certificate " + security.operator().certFile());
        } else {
            security.issueAll();
        }
    }

    /**
     * Starts a region's PostgreSQL and node. On first use its PostgreSQL is created: with initdb when it is the first
     * primary and no other region has data; otherwise cloned (pg_basebackup) from whichever region's PostgreSQL is the
     * primary, as its streaming standby (a rebuilt region too: it then rejoins by itself).
     */
    public void regionUp(String region) {
        PgCluster pg = postgres(region);
        boolean fresh = !pg.isInitialised();
        boolean created = false;
        if (fresh) {
            boolean othersHaveData = topology.regions().keySet().stream().filter(r -> !r.equals(region))
                    .anyMatch(r -> postgres(r).isInitialised());
            if (region.equals(topology.settings().firstPrimary()) && !othersHaveData) {
                out.println("postgres " + region + ": creating " + pg.dataDir());
                pg.initdb();
                created = true;
            } else {
                PgCluster primary = awaitPrimary(region, PRIMARY_WAIT);
                out.println("postgres " + region + ": cloning a streaming standby of " + primary.name() + " into " + pg.dataDir());
                primary.createReplicationSlot(region);
                pg.cloneFrom(primary, region);
            }
        }
        startPostgres(pg);
        if (region.equals(topology.settings().firstPrimary())) {
            try {
                if (!pg.isInRecovery()) {
                    pg.createDatabase("ledger");
                }
            } catch (IllegalStateException notAnswering) {
                if (created) {
                    throw notAnswering;
                }
                // Being rejoined as a standby by its node: its data, the ledger database included, exists.
            }
        }
        startNode(region);
    }

    /** The PostgreSQL of another region than {@code except} that runs as a primary (waited for up to {@code timeout}). */
    private PgCluster awaitPrimary(String except, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            for (String r : topology.regions().keySet()) {
                if (r.equals(except)) {
                    continue;
                }
                PgCluster other = postgres(r);
                try {
                    if (other.isRunning() && !other.isInRecovery()) {
                        return other;
                    }
                } catch (IllegalStateException notAnswering) {
                    // starting, or being rejoined: ask again
                }
            }
            sleep(500);
        }
        throw new IllegalStateException("region " + except + " has no data and no other region's PostgreSQL runs as the"
                + " primary to clone it from after " + timeout.toSeconds() + " s: start the primary's region first"
                + " (./ledger site up <region> --config <file>)");
    }

    /** Starts the witness site: its CP member and WAL keeper. */
    public void witnessUp() {
        startWitness();
    }

    private void startPostgres(PgCluster pg) {
        if (!pg.startUnlessBusy()) {
            // Its node is rejoining it as a standby (pg_rewind): starting it now would break that.
            out.println("postgres " + pg.name() + ": being rejoined as a standby by its node (left to it)");
            return;
        }
        out.println("postgres " + pg.name() + ": " + pg.host() + ":" + pg.port() + " (pid " + pg.postmasterPid().orElse(-1L) + ")");
    }

    public void startWitness() {
        if (Processes.running(topology, WITNESS).isPresent()) {
            return;
        }
        long pid = Processes.startJava(topology, WITNESS, List.of("-Xmx128m", "-XX:+UseSerialGC"),
                List.of("witness", "--dir", topology.dir().toString()));
        out.println("witness: starting (pid " + pid + ", CP member on "
                + topology.host(Topology.WITNESS_SITE) + ":" + topology.witnessHazelcastPort() + ")");
    }

    public void startRouter() {
        if (Processes.running(topology, ROUTER).isPresent()) {
            return;
        }
        long pid = Processes.startJava(topology, ROUTER, List.of("-Xmx256m", "-XX:+UseG1GC"),
                List.of("router", "--dir", topology.dir().toString()));
        out.println("router: starting (pid " + pid + ", merchants connect to 127.0.0.1:" + topology.routerPort() + ")");
    }

    /**
     * Restarts a region's PostgreSQL (fast shutdown, then start, waiting until it accepts connections) holding its
     * lifecycle lock, so that no rejoin by its node interleaves.
     */
    public void restartPostgres(String region) {
        PgCluster pg = postgres(region);
        pg.exclusively(() -> {
            pg.stop();
            pg.start();
            return null;
        });
        out.println("postgres " + region + ": restarted (pid " + pg.postmasterPid().orElse(-1L) + ")");
    }

    /** Stops {@code process} (a node, the witness, the router: SIGTERM, then SIGKILL after {@code grace}) and starts it. */
    public void restartProcess(String process, Duration grace) {
        if (Processes.stop(topology, process, grace)) {
            out.println(process + ": stopped");
        }
        switch (process) {
            case WITNESS -> startWitness();
            case ROUTER -> startRouter();
            default -> startNode(topology.regions().keySet().stream().filter(r -> nodeName(r).equals(process)).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("no process " + process + " (node-<region>, witness, router)")));
        }
    }

    /** Waits until the router's own health says it knows a leader. */
    public void awaitRouter(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        try (Clients clients = Clients.operator(topology)) {
            while (System.nanoTime() < deadline) {
                if (clients.serving(topology.routerPort())) {
                    return;
                }
                sleep(200);
            }
        }
        throw new IllegalStateException("the router on 127.0.0.1:" + topology.routerPort() + " does not serve after "
                + timeout.toSeconds() + " s; see " + Processes.logFile(topology, ROUTER));
    }

    public void startNode(String region) {
        String name = nodeName(region);
        if (Processes.running(topology, name).isPresent()) {
            return;
        }
        long pid = Processes.startJava(topology, name, List.of("-Xmx512m", "-XX:+UseG1GC"), nodeArguments(topology, region));
        out.println("ledger node " + region + ": starting (pid " + pid + ", log " + Processes.logFile(topology, name) + ")");
    }

    /** The command line of a region's node process: {@code node --dir … --region r --sync-loss <the recorded policy>}. */
    public static List<String> nodeArguments(Topology t, String region) {
        List<String> args = new java.util.ArrayList<>(List.of("node", "--dir", t.dir().toString(), "--region", region,
                "--sync-loss", syncLossPolicy(t).name()));
        args.addAll(KafkaProcess.nodeArguments(t));
        return List.copyOf(args);
    }

    /** Where {@code ./ledger up --sync-loss} records the policy both nodes start with (kept until {@code destroy}). */
    static Path syncLossFile(Topology t) {
        return t.run().resolve("sync-loss");
    }

    /** The policy the nodes start with: the one {@code ./ledger up --sync-loss} recorded, else BLOCK. */
    public static FailoverStateMachine.SyncLossPolicy syncLossPolicy(Topology t) {
        Path file = syncLossFile(t);
        if (!Files.exists(file)) {
            return FailoverStateMachine.SyncLossPolicy.BLOCK;
        }
        String recorded;
        try {
            recorded = Files.readString(file).trim();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot read the sync-loss policy in " + file, e);
        }
        try {
            return FailoverStateMachine.SyncLossPolicy.valueOf(recorded);
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException(file + " says '" + recorded + "', not BLOCK or DEGRADE: set it with"
                    + " ./ledger up --sync-loss BLOCK|DEGRADE");
        }
    }

    /** Records the policy both nodes start with from now on (a running node keeps its own until it restarts). */
    public static void recordSyncLossPolicy(Topology t, FailoverStateMachine.SyncLossPolicy policy) {
        try {
            Files.createDirectories(t.run());
            Files.writeString(syncLossFile(t), policy.name() + "\n");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot record the sync-loss policy in " + syncLossFile(t), e);
        }
    }

    /** Waits until some node reports that it leads. */
    public NodeStatus awaitLeader(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        try (Clients clients = Clients.operator(topology)) {
            while (System.nanoTime() < deadline) {
                Optional<NodeStatus> leader = Leadership.confirmedLeader(statuses(clients, false));
                if (leader.isPresent()) {
                    return leader.get();
                }
                sleep(250);
            }
        }
        throw new IllegalStateException("no ledger node leads after " + timeout.toSeconds() + " s; see the logs in "
                + topology.logs() + " and run ./ledger status");
    }

    /** The leader answers a switchover within 30 s (it gives up draining after 10 s); the call waits a little longer. */
    static final long SWITCHOVER_CALL_TIMEOUT_SECONDS = 40;

    /** Asks the current leader to hand over to {@code to} (planned switchover); returns once {@code to} leads. */
    public io.paymentledger.api.v1.SwitchoverResponse switchover(String to) throws Exception {
        NodeStatus leader = awaitLeader(Duration.ofSeconds(30));
        if (leader.getRegion().equals(to)) {
            throw new IllegalStateException("region " + to + " already leads (epoch " + leader.getEpoch() + ")");
        }
        try (Clients clients = Clients.operator(topology)) {
            // The request API, not the generated client: that one drops the status message, which here says why
            // (e.g. "switchover to b abandoned after 10 s (...): serving again as a").
            return clients.grpc().request(clients.address(topology.region(leader.getRegion()).grpcPort()),
                    io.paymentledger.api.v1.NodeServiceGrpcClient.Switchover).compose(req -> {
                        req.timeout(SWITCHOVER_CALL_TIMEOUT_SECONDS, java.util.concurrent.TimeUnit.SECONDS);
                        req.end(io.paymentledger.api.v1.SwitchoverRequest.newBuilder().setToRegion(to).build());
                        return req.response();
                    }).compose(resp -> resp.last().recover(err -> io.vertx.core.Future.failedFuture(new IllegalStateException(
                            "switchover to " + to + " failed: " + resp.status() + (resp.statusMessage() == null ? ""
                                    : ": " + resp.statusMessage())))))
                    .await(SWITCHOVER_CALL_TIMEOUT_SECONDS + 5, java.util.concurrent.TimeUnit.SECONDS);
        }
    }

    /** Stops every process of the deployment (nodes first, then the witness, then PostgreSQL). */
    public void down() {
        // Monitoring first: it would only report the rest going down as an outage.
        new Monitoring(topology, security(), out).down();
        // Followers first: a leader that stops while its standby's node still runs would hand it a failover.
        List<String> order = new java.util.ArrayList<>(topology.regions().keySet());
        String leader = currentLeaderRegion();
        order.sort(java.util.Comparator.comparing(region -> region.equals(leader)));
        for (String region : order) {
            if (Processes.stop(topology, nodeName(region), Duration.ofSeconds(15))) {
                out.println("ledger node " + region + ": stopped");
            }
        }
        if (Processes.stop(topology, ROUTER, Duration.ofSeconds(10))) {
            out.println("router: stopped");
        }
        if (Processes.stop(topology, WITNESS, Duration.ofSeconds(10))) {
            out.println("witness: stopped");
        }
        if (KafkaProcess.stop(topology)) {
            out.println("kafka: stopped");
        }
        for (String region : topology.regions().keySet()) {
            PgCluster pg = postgres(region);
            if (pg.isRunning()) {
                pg.stop();
                out.println("postgres " + region + ": stopped");
            }
        }
        if (topology.sites().netns()) {
            // Nothing runs in the sites any more: their namespaces go (and every link cut in them with it).
            new SiteNetwork(topology.sites()).down();
            out.println("sites: network namespaces removed");
        }
    }

    /** The region whose node says it leads (asked a few times: a cold TLS client can be slow), or "". */
    public String currentLeaderRegion() {
        try (Clients clients = Clients.operator(topology)) {
            for (int attempt = 0; attempt < 3; attempt++) {
                Optional<NodeStatus> leader = Leadership.confirmedLeader(statuses(clients, true));
                if (leader.isPresent()) {
                    return leader.get().getRegion();
                }
            }
        }
        return "";
    }

    /** The status answers of the nodes that answered; with {@code runningOnly}, only nodes whose process is ours. */
    private List<NodeStatus> statuses(Clients clients, boolean runningOnly) {
        return clients.nodeStatuses(topology.regions().values().stream()
                .filter(r -> !runningOnly || Processes.running(topology, nodeName(r.name())).isPresent()).toList());
    }

    /** Stops everything and deletes all data. */
    public void destroy() {
        down();
        for (Topology.Region r : topology.regions().values()) {
            deleteTree(r.pgDir());
        }
        deleteTree(topology.witnessDir());
        deleteTree(topology.dir());
        out.println("ledger destroy: removed " + topology.dir());
    }

    /**
     * Destroys a region's PostgreSQL data directory, as the loss of its disk would (drills only; its server must be
     * stopped or killed first).
     */
    public void destroyRegionData(String region) {
        PgCluster pg = postgres(region);
        if (pg.isRunning()) {
            throw new IllegalStateException("postgres " + region + " is running; kill it before destroying its data");
        }
        deleteTree(pg.dataDir());
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

    public static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
