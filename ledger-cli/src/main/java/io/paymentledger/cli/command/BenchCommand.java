package io.paymentledger.cli.command;

import io.paymentledger.cli.bench.Bench;
import io.paymentledger.cli.bench.BenchReport;
import io.paymentledger.cli.bench.BenchResult;
import io.paymentledger.cli.bench.PgBenchComparison;
import io.paymentledger.cli.bench.Preload;
import io.paymentledger.cli.bench.ProcessCpu;
import io.paymentledger.cli.bench.StageLatency;
import io.paymentledger.cli.bench.StreamLag;
import io.paymentledger.client.LedgerClient;
import io.paymentledger.cli.deploy.Clients;
import io.paymentledger.cli.deploy.DeploymentSecurity;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.Processes;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.cli.drill.LeaderTracker;
import io.paymentledger.security.logging.LogSetup;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Supplier;
import java.util.logging.Level;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "bench", mixinStandardHelpOptions = true, description = {
        "Load the running deployment through its gRPC API (the region router, with its mTLS and the synchronous standby"
                + " in place) and report transfers/s, p50/p99/p99.9 latency and errors per scenario × request shape;"
                + " after every run, check that every ledger sums to zero and that the balances equal what the accepted"
                + " transfers imply (exit code 1 when a check fails).",
        "Closed loop: --concurrency requests in flight, each sent when the previous is answered (maximum throughput)."
                + " Open loop: requests due at a fixed --rate, latency measured from when each was due (corrected for"
                + " coordinated omission), at most --concurrency in flight (the rest dropped and counted)."})
public final class BenchCommand implements Callable<Integer> {

    @Mixin
    DeploymentOptions deployment;

    @Option(names = "--scenario", defaultValue = "all", description = "uniform | hot | zipf | payments | all (default: all: these four),"
            + " or a comma-separated list; also captures: two partial captures of each payment sent at the same moment"
            + " (run it beside a large-batch run: the race that once deadlocked the writer); history_newest / history_oldest:"
            + " reads, no writes: each call one GetAccountTransfers page of " + Bench.HISTORY_PAGE + " transfers (both"
            + " directions) of the --history-accounts in turn, newest or oldest first (default --concurrency 1; the"
            + " transfers/s column counts the transfers returned); none: no run (with --preload: only the preload).")
    String scenario;

    @Option(names = "--batch", defaultValue = "all", description = "Transfers per request: 1 | 100 | 1000 | 8000 | all"
            + " (default: all), or a comma-separated list. Payments are unary and run once whatever this says.")
    String batch;

    @Option(names = "--mode", defaultValue = "closed", description = "closed (max throughput) | open (fixed rate).")
    String mode;

    @Option(names = "--rate", defaultValue = "1000", description = "Open loop: transfers per second (payments: calls per"
            + " second). Default: ${DEFAULT-VALUE}.")
    double rate;

    @Option(names = "--concurrency", description = "Closed loop: requests in flight; open loop: the most allowed in flight."
            + " Default per shape: 64 (1 and payments), 16 (100), 8 (1000), 4 (8000); 4x that in open loop.")
    Integer concurrency;

    @Option(names = "--connections", defaultValue = "1", description = "gRPC connections to spread requests over."
            + " Default: ${DEFAULT-VALUE}.")
    int connections;

    @Option(names = "--duration", defaultValue = "10", description = "Measured seconds per run. Default: ${DEFAULT-VALUE}.")
    double duration;

    @Option(names = "--warmup", defaultValue = "2", description = "Warm-up seconds per run, not measured. Default: ${DEFAULT-VALUE}.")
    double warmup;

    @Option(names = "--warmup-until-steady", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Before the first run, run its load in " + STEADY_SLICE_S + " s slices until two in a row differ by at"
                    + " most " + STEADY_TOLERANCE_PERCENT + " %% (at most " + STEADY_SLICES_MAX + " slices): right after"
                    + " ./ledger up the JIT compilers are cold and the first figures would be a third of the steady ones."
                    + " Default: on (--no-warmup-until-steady to skip).")
    boolean warmupUntilSteady;

    static final int STEADY_SLICE_S = 2;
    static final int STEADY_TOLERANCE_PERCENT = 10;
    static final int STEADY_SLICES_MAX = 15;

    @Option(names = "--accounts", defaultValue = "10000", description = "Accounts per run. Default: ${DEFAULT-VALUE}.")
    int accounts;

    @Option(names = "--seed", description = "Seed of the account and amount choices (default: random, printed).")
    Long seed;

    @Option(names = "--timeout", defaultValue = "10000", description = "Deadline of each call in ms. Default: ${DEFAULT-VALUE}.")
    long timeoutMs;

    @Option(names = "--compare-pgbench", description = "Also run pgbench tpcb-like (-s 16 and -s 1, -c 16 -j 2 -M prepared,"
            + " --duration seconds) on a fresh PostgreSQL primary with a synchronous standby, and print the ratios.")
    boolean comparePgbench;

    @Option(names = "--client", defaultValue = "direct", description = "direct: one CreateTransfers request per call"
            + " (the default); batching: single-transfer calls through ledger-client, which batches concurrent calls by"
            + " itself (--batch 1 only; default --concurrency 4096 callers).")
    String client;

    @Option(names = "--json", description = "Machine-readable output on stdout (progress goes to stderr).")
    boolean json;

    @Option(names = "--events", description = "Also subscribe to the load's events during each measured window"
            + " (SubscribeEvents from now, as the load's merchant, through the same target) and report how long after its"
            + " ledger timestamp each event arrived (p50/p99/max): the live stream's lag at the bench's write rate. The"
            + " subscriber costs the ledger some throughput of its own.")
    boolean events;

    @Option(names = "--direct", description = "Send to whichever node leads instead of through the region router.")
    boolean direct;

    @Option(names = "--history-accounts", split = ",", paramLabel = "ID", description = "The accounts the history scenarios"
            + " read (comma-separated; the --merchant's own, e.g. the busiest account a preload names).")
    List<String> historyAccounts;

    @Option(names = "--preload", paramLabel = "N", description = "Before the runs, bring the ledger to N transfers, counted"
            + " from what it already holds (nothing to do when it holds N or more), then measure on it: through the API"
            + " (the journal stays hash-chained; ./ledger verify passes afterwards), " + Preload.BATCH + " transfers per"
            + " CreateTransfers, " + Preload.IN_FLIGHT + " in flight, to the leading node directly, zipf over "
            + Preload.ACCOUNTS + " fresh accounts, checked like a run. N: a whole number >= 0 (1000000, 1_000_000, 250k,"
            + " 1M). Progress on stderr; last line 'preload: N transfers in the ledger (M written in S s, R/s)'.")
    String preload;

    @Option(names = "--merchant", defaultValue = DeploymentSecurity.LOAD_MERCHANT, description = "The merchant identity"
            + " (mTLS certificate of the deployment's PKI) the load comes from; it owns the run's accounts."
            + " Default: ${DEFAULT-VALUE}.")
    String merchant;

    /** How long the router may take to say SERVING before the bench gives up (a busy host answers slowly). */
    static final long ROUTER_WAIT_MS = 15_000;

    private static boolean routerServes(Clients operator, int port) throws InterruptedException {
        long until = System.nanoTime() + ROUTER_WAIT_MS * 1_000_000L;
        while (!operator.serving(port)) {
            if (System.nanoTime() - until > 0) {
                return false;
            }
            Thread.sleep(500);
        }
        return true;
    }

    /** `--client batching`: this many concurrent single-transfer callers in one process (TigerBeetle's measure). */
    static final int BATCHING_CALLERS = 4096;

    private LedgerClient batchingClient;

    static boolean parseClient(String s) {
        return switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "direct" -> false;
            case "batching" -> true;
            default -> throw new IllegalArgumentException("--client must be direct or batching, not " + s);
        };
    }

    @Override
    public Integer call() throws Exception {
        LogSetup.install("ledger-bench", Level.SEVERE);
        List<Bench.Scenario> scenarios = parseScenarios(scenario);
        if (scenarios.stream().anyMatch(Bench.Scenario::history) && (historyAccounts == null || historyAccounts.isEmpty())) {
            throw new IllegalArgumentException("--scenario history_newest / history_oldest read the pages of given accounts:"
                    + " name them with --history-accounts ID[,ID...]");
        }
        List<Integer> shapes = parseShapes(batch);
        Long preloadTo = preload == null ? null : Preload.parseCount(preload);
        Bench.Mode m = Bench.Mode.parse(mode);
        long s = seed != null ? seed : ThreadLocalRandom.current().nextLong(1, 1L << 40);
        if (connections < 1 || connections > 64) {
            throw new IllegalArgumentException("--connections must be 1..64");
        }
        PrintStream err = System.err;
        Topology topology = Topology.load(deployment.dir());
        LocalDeployment d = new LocalDeployment(topology, err);
        DeploymentSecurity security = d.security();
        List<Clients> pool = new ArrayList<>();
        LeaderTracker tracker = null;
        Clients scraper = null;
        Clients operator = Clients.operator(topology);
        try {
            // The load comes from a merchant, over mutual TLS, each connection its own client (and Vert.x instance).
            for (int i = 0; i < connections; i++) {
                pool.add(Clients.tls(security, security.merchant(merchant)));
            }
            Supplier<SocketAddress> target;
            String targetName;
            if (direct) {
                tracker = new LeaderTracker(topology, operator);
                target = tracker;
                targetName = "the leading node (direct)";
            } else {
                if (!routerServes(operator, topology.routerPort())) {
                    throw new IllegalStateException("the region router on 127.0.0.1:" + topology.routerPort()
                            + " does not serve; start the deployment with ./ledger up");
                }
                SocketAddress router = Clients.loopback(topology.routerPort());
                target = () -> router;
                targetName = "the region router at 127.0.0.1:" + topology.routerPort();
            }
            List<GrpcClient> grpcs = pool.stream().map(Clients::grpc).toList();
            boolean batching = parseClient(client);
            if (batching && (!shapes.equals(List.of(1)) || scenarios.stream().anyMatch(Bench.Scenario::payments))) {
                throw new IllegalArgumentException("--client batching sends single-transfer calls: use it with --batch 1 and"
                        + " the uniform, hot or zipf scenario");
            }
            if (batching) {
                SocketAddress a = target.get();
                var identity = security.merchant(merchant);
                LedgerClient.Limits def = LedgerClient.Limits.defaults();
                batchingClient = LedgerClient.builder().address(a.host(), a.port()).trustCa(security.caFile())
                        .clientCertificate(identity.certFile(), identity.keyFile())
                        .limits(new LedgerClient.Limits(timeoutMs, Math.max(timeoutMs, def.callTimeoutMs()),
                                def.retryBackoffInitialMs(), def.retryBackoffMaxMs(), def.batchTransfersMax(),
                                def.batchesInFlightMax(), def.queuedTransfersMax(), connections))
                        .build();
            }
            Bench.LeaderDatabase leaderDb = () -> d.postgres(d.awaitLeader(Duration.ofSeconds(30)).getRegion()).connect("ledger");
            Bench bench = new Bench(grpcs, leaderDb, err::println).measureCpu(cpuSources(topology, d)).batchingClient(batchingClient);
            if (historyAccounts != null) {
                bench.historyAccounts(historyAccounts);
            }
            String command = reproduce(s);
            err.println("bench: target " + targetName + "; " + command);
            io.vertx.core.json.JsonObject preloaded = null;
            if (preloadTo != null) {
                Supplier<SocketAddress> leader = tracker;
                LeaderTracker own = null;
                if (leader == null) {
                    own = new LeaderTracker(topology, operator);
                    leader = own;
                }
                try {
                    preloaded = preload(bench, leaderDb, preloadTo, leader, s, merchant, err);
                } finally {
                    if (own != null) {
                        own.close();
                    }
                }
                if (!preloaded.getBoolean("reached") || !preloaded.getBoolean("checkPassed")) {
                    if (json) {
                        System.out.println(new io.vertx.core.json.JsonObject().put("command", command).put("preload", preloaded).encodePrettily());
                    }
                    return 1;
                }
            }
            List<BenchResult> results = new ArrayList<>();
            List<List<StageLatency.Stage>> stages = new ArrayList<>();
            List<StreamLag.Result> streamLags = new ArrayList<>();
            scraper = Clients.tls(security, security.prometheus());
            io.vertx.core.Vertx scrapeVertx = scraper.vertx();
            io.vertx.core.http.HttpClient metrics = scrapeVertx.createHttpClient(
                    io.paymentledger.security.tls.Tls.clientOptions(security.prometheus().certFile(), security.prometheus().keyFile(),
                            security.caFile()).setConnectTimeout(Clients.CONNECT_BUDGET_MS));
            boolean warmed = !warmupUntilSteady;
            for (Bench.Scenario sc : scenarios) {
                for (int shape : sc.payments() || sc.history() ? List.of(1) : shapes) {
                    Bench.Options o = Bench.Options.of(sc, shape, target).duration(duration, warmup).accounts(accounts)
                            .seed(s).callTimeoutMs(timeoutMs).owner(merchant);
                    int c = concurrency != null ? concurrency : batchingClient != null ? BATCHING_CALLERS
                            : Bench.Options.defaultConcurrency(sc, shape, m);
                    o = m == Bench.Mode.OPEN ? o.openLoop(rate, c) : o.closedLoop(c);
                    if (!warmed) {
                        warmUntilSteady(bench, o, err);
                        warmed = true;
                    }
                    err.printf(Locale.ROOT, "bench: %s × %s, %s loop%s, %d in flight, %.0f s + %.0f s warm-up...%n", sc.label(),
                            sc.payments() ? "unary" : sc.history() ? "page" : shape, m.label(),
                            m == Bench.Mode.OPEN ? " at " + rate + "/s" : "", c, duration, warmup);
                    List<Map.Entry<String, Integer>> scraped = stageTargets(topology, d, direct);
                    java.util.concurrent.atomic.AtomicReference<StageLatency.Scrape> before = new java.util.concurrent.atomic.AtomicReference<>();
                    java.util.concurrent.atomic.AtomicReference<StageLatency.Scrape> after = new java.util.concurrent.atomic.AtomicReference<>();
                    java.util.concurrent.atomic.AtomicReference<StreamLag> subscriber = new java.util.concurrent.atomic.AtomicReference<>();
                    java.util.concurrent.atomic.AtomicReference<StreamLag.Result> lag = new java.util.concurrent.atomic.AtomicReference<>();
                    bench.window(new Bench.Window() {
                        @Override
                        public void started() {
                            before.set(StageLatency.scrape(scrapeVertx, metrics, scraped));
                            if (events) {
                                subscriber.set(StreamLag.start(grpcs.get(0), target.get()));
                            }
                        }

                        @Override
                        public void ended() {
                            StreamLag sub = subscriber.getAndSet(null);
                            if (sub != null) {
                                lag.set(sub.stop());
                            }
                            after.set(StageLatency.scrape(scrapeVertx, metrics, scraped));
                        }
                    });
                    BenchResult r = bench.run(o);
                    List<StageLatency.Stage> st = before.get() == null || after.get() == null ? List.of()
                            : StageLatency.between(before.get(), after.get());
                    err.printf(Locale.ROOT, "bench: %.0f transfers/s, p99 %.2f ms, check %s%n", r.transfersPerSecond(), r.p99Ms(),
                            r.check().passed() ? "passed" : "FAILED");
                    err.println("bench: " + StageLatency.line(st));
                    if (lag.get() != null) {
                        err.println("bench: " + lag.get().line());
                    }
                    results.add(r);
                    stages.add(st);
                    streamLags.add(lag.get());
                }
            }
            PgBenchComparison.Result pgbench = null;
            if (comparePgbench) {
                pgbench = PgBenchComparison.run(PgBenchComparison.SCALES, (int) Math.max(1, Math.round(duration)), err::println);
            }
            if (json) {
                io.vertx.core.json.JsonObject report = BenchReport.json(results, pgbench, command, targetName);
                if (preloaded != null) {
                    report.put("preload", preloaded);
                }
                io.vertx.core.json.JsonArray perRun = new io.vertx.core.json.JsonArray();
                stages.forEach(st -> perRun.add(new io.vertx.core.json.JsonArray(st.stream().map(StageLatency.Stage::toJson).toList())));
                report.put("stages", perRun);
                if (events) {
                    io.vertx.core.json.JsonArray lags = new io.vertx.core.json.JsonArray();
                    streamLags.forEach(l -> lags.add(l == null ? null : l.toJson()));
                    report.put("events", lags);
                }
                System.out.println(report.encodePrettily());
            } else if (results.isEmpty()) {
                System.out.println("ledger bench: no runs (--scenario none)");
                System.out.println("reproduce: " + command);
            } else {
                System.out.println("ledger bench against " + targetName);
                System.out.print(BenchReport.table(results, pgbench));
                System.out.println("where the time went, per run (the leader's and the router's histograms, its measured window only):");
                for (int i = 0; i < results.size(); i++) {
                    String shape = results.get(i).scenario().startsWith("history") ? "page" : Integer.toString(results.get(i).shape());
                    System.out.println("  " + results.get(i).scenario() + " × " + shape + ": " + StageLatency.line(stages.get(i)));
                    if (streamLags.get(i) != null) {
                        System.out.println("  " + results.get(i).scenario() + " × " + shape + ": " + streamLags.get(i).line());
                    }
                }
                System.out.println("transfers/s: accepted transfers answered inside the measured window; latency: "
                        + (m == Bench.Mode.OPEN ? "from each request's due time (open loop, coordinated-omission corrected)"
                                : "from each request's send (closed loop: service time)")
                        + "; check: ledgers sum to zero, stored balances match transfers, API balances match accepted transfers");
                System.out.println("reproduce: " + command);
            }
            return BenchReport.passed(results) ? 0 : 1;
        } finally {
            if (batchingClient != null) {
                batchingClient.close();
            }
            if (tracker != null) {
                tracker.close();
            }
            if (scraper != null) {
                scraper.close();
            }
            pool.forEach(Clients::close);
            operator.close();
        }
    }

    /**
     * `--preload N`: counts the ledger's transfers, writes what is missing (in up to {@link Preload#PASSES_MAX} passes:
     * a pass whose calls failed leaves a rest, counted again), prints the summary line; returns what it did (JSON).
     */
    static io.vertx.core.json.JsonObject preload(Bench bench, Bench.LeaderDatabase db, long target, Supplier<SocketAddress> leader,
            long seed, String owner, PrintStream err) throws Exception {
        long present;
        try (java.sql.Connection c = db.open()) {
            present = Preload.transfersInLedger(c);
        }
        long before = present;
        Preload.Plan plan = new Preload.Plan(target, present);
        err.println(plan.describe());
        long written = 0;
        double seconds = 0;
        boolean checked = true;
        io.vertx.core.json.JsonArray passes = new io.vertx.core.json.JsonArray();
        for (int pass = 1; !plan.nothingToDo() && pass <= Preload.PASSES_MAX; pass++) {
            Bench.Options o = Bench.Options.of(Preload.SCENARIO, Preload.BATCH, leader).accounts(Preload.ACCOUNTS)
                    .seed(seed + pass).closedLoop(Preload.IN_FLIGHT).owner(owner);
            Bench.Preloaded p = bench.preload(plan, o);
            written += p.accepted();
            seconds += p.seconds();
            checked &= p.check().passed();
            err.printf(Locale.ROOT, "preload: pass %d: %,d accepted in %.1f s (accounts %s-a0..%d, %s-a0 the busiest), errors %s,"
                    + " check %s%n", pass, p.accepted(), p.seconds(), p.prefix(), Preload.ACCOUNTS - 1, p.prefix(),
                    p.errors().isEmpty() ? "none" : p.errors(), p.check().passed() ? "passed" : "FAILED: " + p.check().problems());
            passes.add(new io.vertx.core.json.JsonObject().put("accepted", p.accepted()).put("seconds", p.seconds())
                    .put("accountPrefix", p.prefix()).put("errors", new io.vertx.core.json.JsonObject(new java.util.TreeMap<>(p.errors())))
                    .put("check", p.check().toJson()));
            try (java.sql.Connection c = db.open()) {
                present = Preload.transfersInLedger(c);
            }
            plan = new Preload.Plan(target, present);
            if (p.accepted() == 0 || !p.check().passed()) {
                break;
            }
        }
        boolean reached = present >= target;
        err.println(Preload.summary(present, written, seconds));
        if (!reached) {
            err.printf(Locale.ROOT, "preload: FAILED: the ledger holds %,d transfers, %,d short of %,d%n", present, target - present, target);
        }
        return new io.vertx.core.json.JsonObject().put("target", target).put("before", before).put("after", present)
                .put("written", written).put("seconds", seconds).put("reached", reached).put("checkPassed", checked)
                .put("passes", passes);
    }

    /**
     * Runs {@code o}'s load in short slices until its rate is steady (two slices in a row within the tolerance), so
     * that the first measured run does not measure the JIT compilers (issue #24: 324 transfers/s right after `up`).
     */
    static void warmUntilSteady(Bench bench, Bench.Options o, PrintStream err) throws InterruptedException {
        double previous = -1;
        for (int i = 1; i <= STEADY_SLICES_MAX; i++) {
            double rate = bench.run(o.duration(STEADY_SLICE_S, 0)).transfersPerSecond();
            err.printf(Locale.ROOT, "bench: warming up until steady: slice %d: %.0f transfers/s%n", i, rate);
            if (previous > 0 && Math.abs(rate - previous) <= previous * STEADY_TOLERANCE_PERCENT / 100.0) {
                err.printf(Locale.ROOT, "bench: steady after %d slices (within %d %%)%n", i, STEADY_TOLERANCE_PERCENT);
                return;
            }
            previous = rate;
        }
        err.printf(Locale.ROOT, "bench: not steady after %d slices of %d s; measuring anyway (a busy machine?)%n",
                STEADY_SLICES_MAX, STEADY_SLICE_S);
    }

    /**
     * Whose histograms the stage line reads: the leading node's (the writer's stages and its calls) and, unless the bench
     * calls the leader directly, the router's.
     */
    static List<Map.Entry<String, Integer>> stageTargets(Topology topology, LocalDeployment d, boolean direct) {
        List<Map.Entry<String, Integer>> targets = new ArrayList<>();
        try {
            String leader = d.awaitLeader(Duration.ofSeconds(10)).getRegion();
            targets.add(Map.entry(topology.host(leader), topology.region(leader).grpcPort()));
        } catch (RuntimeException e) {
            // No leader to read: the run itself will say so.
        }
        if (!direct) {
            targets.add(Map.entry("127.0.0.1", topology.routerPort()));
        }
        return targets;
    }

    /**
     * Whose CPU the report shows: the router, every node and PostgreSQL server (the server's cost per call), the
     * witness (shown, not counted as server: it is off the call path) and this process (the load generator).
     */
    static ProcessCpu cpuSources(Topology topology, LocalDeployment d) {
        List<ProcessCpu.Source> sources = new ArrayList<>();
        Processes.running(topology, LocalDeployment.ROUTER).ifPresent(h -> sources.add(
                new ProcessCpu.JvmProcess(LocalDeployment.ROUTER, ProcessCpu.Role.SERVER, h.pid())));
        for (String region : topology.regions().keySet()) {
            String node = LocalDeployment.nodeName(region);
            Processes.running(topology, node).ifPresent(h -> sources.add(
                    new ProcessCpu.JvmProcess(node, ProcessCpu.Role.SERVER, h.pid())));
            d.postgres(region).postmasterPid().ifPresent(pid -> sources.add(new ProcessCpu.PostgresServer("postgres-" + region, pid)));
        }
        Processes.running(topology, LocalDeployment.WITNESS).ifPresent(h -> sources.add(
                new ProcessCpu.JvmProcess(LocalDeployment.WITNESS, ProcessCpu.Role.OTHER, h.pid())));
        sources.add(ProcessCpu.self());
        return new ProcessCpu(sources);
    }

    /** The exact command line that reproduces this session (every value spelled out, the seed included). */
    String reproduce(long s) {
        StringBuilder sb = new StringBuilder("./ledger bench --scenario ").append(scenario.toLowerCase(Locale.ROOT))
                .append(" --batch ").append(batch.toLowerCase(Locale.ROOT)).append(" --mode ").append(mode.toLowerCase(Locale.ROOT));
        if (Bench.Mode.parse(mode) == Bench.Mode.OPEN) {
            sb.append(" --rate ").append(num(rate));
        }
        if (concurrency != null) {
            sb.append(" --concurrency ").append(concurrency);
        }
        if (connections != 1) {
            sb.append(" --connections ").append(connections);
        }
        if (parseClient(client)) {
            sb.append(" --client batching");
        }
        sb.append(" --duration ").append(num(duration)).append(" --warmup ").append(num(warmup)).append(" --accounts ")
                .append(accounts).append(" --seed ").append(s).append(" --timeout ").append(timeoutMs);
        if (comparePgbench) {
            sb.append(" --compare-pgbench");
        }
        if (!warmupUntilSteady) {
            sb.append(" --no-warmup-until-steady");
        }
        if (events) {
            sb.append(" --events");
        }
        if (direct) {
            sb.append(" --direct");
        }
        if (preload != null) {
            sb.append(" --preload ").append(Preload.parseCount(preload));
        }
        if (historyAccounts != null && !historyAccounts.isEmpty()) {
            sb.append(" --history-accounts ").append(String.join(",", historyAccounts));
        }
        if (!DeploymentSecurity.LOAD_MERCHANT.equals(merchant)) {
            sb.append(" --merchant ").append(merchant);
        }
        if (json) {
            sb.append(" --json");
        }
        if (deployment.dir != null) {
            sb.append(" --dir ").append(deployment.dir());
        }
        return sb.toString();
    }

    private static String num(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }

    static List<Bench.Scenario> parseScenarios(String s) {
        if (s.trim().equalsIgnoreCase("all")) {
            return List.of(Bench.Scenario.UNIFORM, Bench.Scenario.HOT, Bench.Scenario.ZIPF, Bench.Scenario.PAYMENTS);
        }
        if (s.trim().equalsIgnoreCase("none")) {
            return List.of();
        }
        return Arrays.stream(s.split(",")).map(Bench.Scenario::parse).distinct().toList();
    }

    static List<Integer> parseShapes(String s) {
        if (s.trim().equalsIgnoreCase("all")) {
            return Bench.SHAPES;
        }
        List<Integer> shapes = Arrays.stream(s.split(",")).map(String::trim).map(Integer::parseInt).distinct().toList();
        for (int shape : shapes) {
            if (!Bench.SHAPES.contains(shape)) {
                throw new IllegalArgumentException("--batch must be one of " + Bench.SHAPES + " or all, not " + shape);
            }
        }
        return shapes;
    }
}
