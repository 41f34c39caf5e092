package io.paymentledger.cli.bench;

import io.paymentledger.api.v1.Account;
import io.paymentledger.api.v1.AccountLookup;
import io.paymentledger.api.v1.AuthorizeRequest;
import io.paymentledger.api.v1.Balance;
import io.paymentledger.api.v1.CaptureRequest;
import io.paymentledger.api.v1.CreateAccountResult;
import io.paymentledger.api.v1.CreateAccountStatus;
import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateAccountsResponse;
import io.paymentledger.api.v1.CreateTransferResult;
import io.paymentledger.api.v1.CreateTransferStatus;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.CreateTransfersResponse;
import io.paymentledger.api.v1.LedgerServiceGrpcClient;
import io.paymentledger.api.v1.LookupAccountsRequest;
import io.paymentledger.api.v1.LookupAccountsResponse;
import io.paymentledger.api.v1.LookupStatus;
import io.paymentledger.api.v1.LookupTransfersRequest;
import io.paymentledger.api.v1.LookupTransfersResponse;
import io.paymentledger.api.v1.PaymentResponse;
import io.paymentledger.api.v1.PaymentResult;
import io.paymentledger.api.v1.PaymentsServiceGrpcClient;
import io.paymentledger.api.v1.RefundRequest;
import io.paymentledger.api.v1.Transfer;
import io.paymentledger.api.v1.TransferLookup;
import io.paymentledger.api.v1.VoidRequest;
import io.paymentledger.cli.bench.Expected.Effect;
import io.paymentledger.ledger.read.LedgerChecks;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.common.ServiceMethod;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * The load generator behind `./ledger bench`: drives the ledger through its own gRPC API (whatever client and
 * address it is given: the region router with mTLS in the local deployment, or a test node), measures, and
 * then proves the ledger is still right.
 *
 * <p><b>Closed loop</b> ({@link Mode#CLOSED}): {@code concurrency} lanes, each sends its next request when
 * the previous one is answered: the most the ledger can do at that concurrency. Latency is measured from the
 * actual send, so it is service time, not what a client with its own arrival rate would see.
 *
 * <p><b>Open loop</b> ({@link Mode#OPEN}): requests are due at fixed intervals from the start
 * ({@code start + k·interval}, independent of how fast answers come), and latency is measured from that
 * <em>intended</em> send time, so a stall is charged to every request that should have gone out during it
 * (coordinated-omission correction). At most {@code concurrency} requests are in flight; a request due when
 * the bound is reached is not sent and counted as dropped.
 *
 * <p>Only the measured window counts (warm-up excluded): latency and errors of calls due inside it,
 * transfers/s of calls that completed inside it. Every accepted transfer, warm-up included, goes into the
 * expected balances that the check compares with the ledger afterwards.
 */
public final class Bench {

    public enum Scenario {
        /** Random distinct debit and credit accounts among all accounts. */
        UNIFORM,
        /** Every transfer credits one merchant account (account 0); debits are uniform among the others. */
        HOT,
        /** Debit and credit drawn from a Zipf distribution (s = 1.0) over the accounts. */
        ZIPF,
        /** Authorize → Capture (full or partial), ~10% voids, ~5% refunds after capture: unary calls. */
        PAYMENTS,
        /**
         * Authorize, then two partial captures of the payment sent at the same moment from two callers (together the
         * whole amount): the race that deadlocked the writer's two commit lanes under large batches (issue #18). Not
         * part of {@code all}; run it beside a large-batch run.
         */
        CAPTURES,
        /**
         * Reads, no writes: each call is one GetAccountTransfers page ({@link #HISTORY_PAGE} transfers, both directions)
         * of one of the accounts given by {@link Bench#historyAccounts}, newest first. Not part of {@code all}.
         */
        HISTORY_NEWEST,
        /** The same, oldest first: the page furthest back in the account's history. */
        HISTORY_OLDEST;

        /** A payments-API scenario (unary calls, one transfer each). */
        public boolean payments() {
            return this == PAYMENTS || this == CAPTURES;
        }

        /** A read scenario: pages of existing accounts' histories; nothing written, nothing to check. */
        public boolean history() {
            return this == HISTORY_NEWEST || this == HISTORY_OLDEST;
        }

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static Scenario parse(String s) {
            return valueOf(s.trim().toUpperCase(Locale.ROOT).replace('-', '_'));
        }
    }

    public enum Mode {
        CLOSED, OPEN;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static Mode parse(String s) {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        }
    }

    /** Transfers per page of the history scenarios. */
    public static final int HISTORY_PAGE = 100;
    /** The request shapes: transfers per CreateTransfers request. */
    public static final List<Integer> SHAPES = List.of(1, 100, 1000, 8000);
    static final String CURRENCY = "EUR";
    /** Authorisations of the payments scenario never lapse during (or soon after) a run: 30 days, the maximum. */
    static final int AUTHORIZATION_EXPIRY_SECONDS = 2_592_000;
    /** Calls per payment on average: authorize; then void (10%) or capture (90%); refund after 5% of captures. */
    static final double CALLS_PER_PAYMENT = 1 + 0.10 + 0.90 * 1.05;
    /** Ids of calls with an unknown outcome that the check may look up; beyond it the check cannot conclude. */
    static final long UNKNOWN_IDS_MAX = 2_000_000;
    private static final long LATENCY_MAX_MICROS = TimeUnit.MINUTES.toMicros(10);
    private static final int LOOKUP_CHUNK = 8000;

    /**
     * One run.
     *
     * @param transfersPerRequest 1, 100, 1000 or 8000 (payments: always 1, every call is one transfer)
     * @param rate                open loop: transfers per second (payments: calls per second); ignored in closed loop
     * @param concurrency         closed loop: requests in flight; open loop: the most allowed in flight
     * @param accounts            accounts created for the run (fresh ones, under a unique prefix)
     * @param seed                what the scenario's account and amount choices are drawn from
     * @param callTimeoutMs       each call's deadline (sent as grpc-timeout)
     * @param target              where each call goes (the router, or whichever node leads)
     * @param owner               the merchant id that owns the run's accounts ("" for platform accounts, which only
     *                            an operator may move money between); must be the caller's own id for a merchant
     */
    public record Options(Scenario scenario, int transfersPerRequest, Mode mode, double rate, int concurrency,
            double durationSeconds, double warmupSeconds, int accounts, long seed, long callTimeoutMs,
            Supplier<SocketAddress> target, String owner) {

        public Options {
            Objects.requireNonNull(scenario, "scenario");
            owner = owner == null ? "" : owner;
            Objects.requireNonNull(mode, "mode");
            Objects.requireNonNull(target, "target");
            if (scenario.payments() || scenario.history()) {
                transfersPerRequest = 1;
            } else if (!SHAPES.contains(transfersPerRequest)) {
                throw new IllegalArgumentException("transfers per request must be one of " + SHAPES + ", not " + transfersPerRequest);
            }
            if (mode == Mode.OPEN && !(rate > 0)) {
                throw new IllegalArgumentException("open loop needs a rate > 0 (transfers per second)");
            }
            if (concurrency < 1 || concurrency > 100_000) {
                throw new IllegalArgumentException("concurrency must be 1..100000");
            }
            if (!(durationSeconds > 0) || warmupSeconds < 0) {
                throw new IllegalArgumentException("duration must be > 0 and warm-up >= 0 seconds");
            }
            if (accounts < 2 || accounts > 1_000_000) {
                throw new IllegalArgumentException("accounts must be 2..1000000");
            }
            if (callTimeoutMs < 100) {
                throw new IllegalArgumentException("call timeout must be >= 100 ms");
            }
        }

        /** Closed loop at the default concurrency, 10 s measured after 2 s of warm-up, 10,000 accounts. */
        public static Options of(Scenario scenario, int transfersPerRequest, Supplier<SocketAddress> target) {
            return new Options(scenario, transfersPerRequest, Mode.CLOSED, 0,
                    defaultConcurrency(scenario, transfersPerRequest, Mode.CLOSED), 10, 2, 10_000, 1, 10_000, target, "");
        }

        /**
         * Enough in flight to keep the single writer's batches full without queueing far past them: 64 one-transfer
         * requests, 16 of 100, 8 of 1000, 4 of 8000 (a writer batch holds at most 16,380 items). Open loop allows four
         * times that in flight before it drops.
         */
        public static int defaultConcurrency(Scenario scenario, int transfersPerRequest, Mode mode) {
            int closed = scenario.history() ? 1 : scenario.payments() ? 64 : switch (transfersPerRequest) {
                case 1 -> 64;
                case 100 -> 16;
                case 1000 -> 8;
                default -> 4;
            };
            return mode == Mode.OPEN ? closed * 4 : closed;
        }

        public Options closedLoop(int concurrency) {
            return new Options(scenario, transfersPerRequest, Mode.CLOSED, 0, concurrency, durationSeconds, warmupSeconds,
                    accounts, seed, callTimeoutMs, target, owner);
        }

        public Options openLoop(double rate, int maxInFlight) {
            return new Options(scenario, transfersPerRequest, Mode.OPEN, rate, maxInFlight, durationSeconds, warmupSeconds,
                    accounts, seed, callTimeoutMs, target, owner);
        }

        public Options duration(double durationSeconds, double warmupSeconds) {
            return new Options(scenario, transfersPerRequest, mode, rate, concurrency, durationSeconds, warmupSeconds,
                    accounts, seed, callTimeoutMs, target, owner);
        }

        public Options accounts(int accounts) {
            return new Options(scenario, transfersPerRequest, mode, rate, concurrency, durationSeconds, warmupSeconds,
                    accounts, seed, callTimeoutMs, target, owner);
        }

        public Options seed(long seed) {
            return new Options(scenario, transfersPerRequest, mode, rate, concurrency, durationSeconds, warmupSeconds,
                    accounts, seed, callTimeoutMs, target, owner);
        }

        public Options owner(String owner) {
            return new Options(scenario, transfersPerRequest, mode, rate, concurrency, durationSeconds, warmupSeconds,
                    accounts, seed, callTimeoutMs, target, owner);
        }

        public Options callTimeoutMs(long callTimeoutMs) {
            return new Options(scenario, transfersPerRequest, mode, rate, concurrency, durationSeconds, warmupSeconds,
                    accounts, seed, callTimeoutMs, target, owner);
        }
    }

    /** A superuser connection to the leading region's ledger database, for the invariant checks. */
    @FunctionalInterface
    public interface LeaderDatabase {
        Connection open() throws SQLException;
    }

    private final List<GrpcClient> clients;
    private final LeaderDatabase database;
    private final Consumer<String> progress;
    /**
     * When set, single-transfer requests go through the merchants' client with automatic batching (`--client
     * batching`): every lane is one caller of {@code createTransfer}, and the client packs concurrent calls into
     * CreateTransfers requests.
     */
    private volatile io.paymentledger.client.LedgerClient batchingClient;
    /** Whose CPU time is read over the measured window (at least this JVM, the load generator). */
    private volatile ProcessCpu cpu = new ProcessCpu(List.of(ProcessCpu.self()));
    /** Test hooks: right before the load starts, and after the load, before the check. */
    volatile Runnable beforeLoad = () -> {};
    volatile Consumer<Expected> beforeCheck = e -> {};

    /**
     * @param clients   one or more gRPC clients (each its own connection); requests are spread over them
     * @param database  the leader's database, for LedgerChecks
     * @param progress  where one-line progress notes go (e.g. stderr), or null
     */
    public Bench(List<GrpcClient> clients, LeaderDatabase database, Consumer<String> progress) {
        if (clients.isEmpty()) {
            throw new IllegalArgumentException("at least one gRPC client");
        }
        this.clients = List.copyOf(clients);
        this.database = database;
        this.progress = progress == null ? s -> {} : progress;
    }

    private volatile List<String> historyAccounts = List.of();

    /** The accounts whose history pages the history scenarios read (the caller's own), in turn. */
    public Bench historyAccounts(List<String> ids) {
        this.historyAccounts = List.copyOf(ids);
        return this;
    }

    /** Single-transfer calls through this client (its automatic batching) instead of one request per call. */
    public Bench batchingClient(io.paymentledger.client.LedgerClient client) {
        this.batchingClient = client;
        return this;
    }

    /** Something read when each measured window starts and when it ends (the processes' stage histograms). */
    public interface Window {
        Window NONE = new Window() {
            @Override
            public void started() {}

            @Override
            public void ended() {}
        };

        /** Called (off the load's threads) when the measured window starts. */
        void started();

        /** Called when it ends. */
        void ended();
    }

    private volatile Window window = Window.NONE;

    /** Calls {@code w} at the start and the end of each measured window (warm-up and set-up excluded). */
    public Bench window(Window w) {
        this.window = w;
        return this;
    }

    /** Also reads these processes' CPU time over each measured window (the server's, the generator's). */
    public Bench measureCpu(ProcessCpu cpu) {
        this.cpu = cpu;
        return this;
    }

    /** Sets up fresh accounts, drives the load, then checks the ledger. */
    public BenchResult run(Options options) throws InterruptedException {
        if (options.scenario().history() && historyAccounts.isEmpty()) {
            throw new IllegalArgumentException("the " + options.scenario().label() + " scenario reads the history of given"
                    + " accounts: none given");
        }
        Run run = new Run(options);
        if (!options.scenario().history()) {
            run.setUp();
        }
        beforeLoad.run();
        run.drive();
        beforeCheck.accept(run.expected);
        // Reads write nothing: there is nothing of theirs to check (and the whole-ledger checks are not theirs to pay).
        BenchResult.Check check = options.scenario().history() ? new BenchResult.Check(true, List.of(), 0, 0) : run.check();
        return run.result(check);
    }

    static final long PRELOAD_PROGRESS_MS = 5_000;

    /**
     * What one preload pass did: transfers accepted (answered CREATED, plus those of calls with an unknown outcome that
     * the check found in the ledger), how long the writing took, errors by kind, the check of its accounts, and the
     * prefix of its account ids ({@code <prefix>-a0} is the account with the most transfers: rank 0 of the Zipf).
     */
    public record Preloaded(long accepted, double seconds, Map<String, Long> errors, BenchResult.Check check, String prefix) {}

    /**
     * One preload pass (`./ledger bench --preload`): creates {@code o.accounts()} fresh accounts, then writes
     * {@code plan.toWrite()} transfers of {@code o.scenario()} in requests of up to {@link Preload#BATCH},
     * {@code o.concurrency()} in flight, then checks the ledger like every run (its accounts hold what the accepted
     * transfers imply; every ledger sums to zero).
     */
    public Preloaded preload(Preload.Plan plan, Options o) throws InterruptedException {
        Run run = new Run(o);
        run.setUp();
        run.driveCount(plan);
        double seconds = (System.nanoTime() - run.start) / 1e9;
        BenchResult.Check check = run.check();
        return new Preloaded(run.acceptedTotal.sum() + check.reconciled(), seconds, run.errorsNow(), check, run.prefix);
    }

    /** Calls with an unknown outcome, remembered by their ids so the check can look them up. */
    private sealed interface Unknown {
        long ids();

        record Transfers(long firstSeq, int count) implements Unknown {
            public long ids() {
                return count;
            }
        }

        record Call(String id) implements Unknown {
            public long ids() {
                return 1;
            }
        }
    }

    private final class Run {
        final Options o;
        final String prefix;
        final String[] accountIds;
        final Expected expected;
        final TransferPool pool;
        final AtomicLong seq = new AtomicLong();
        final Recorder latency = new Recorder(LATENCY_MAX_MICROS, 3);
        final LongAdder windowTransfers = new LongAdder();
        final LongAdder windowRequests = new LongAdder();
        /** Calls (answered or failed) that ended inside the measured window: what the window's CPU time paid for. */
        final LongAdder windowCalls = new LongAdder();
        volatile ProcessCpu.Usage cpuUsage = ProcessCpu.Usage.none();
        final LongAdder acceptedTotal = new LongAdder();
        final LongAdder dropped = new LongAdder();
        final LongAdder warmupErrors = new LongAdder();
        final LongAdder exists = new LongAdder();
        final Map<String, LongAdder> errors = new ConcurrentHashMap<>();
        final ConcurrentLinkedQueue<Unknown> unknown = new ConcurrentLinkedQueue<>();
        final AtomicLong unknownIds = new AtomicLong();
        volatile boolean unknownOverflow;
        long start;
        long measureFrom;
        long measureUntil;

        Run(Options o) {
            this.o = o;
            // Unique per run whatever the seed: a run never meets ids of an earlier one.
            this.prefix = "bn" + Long.toString(System.currentTimeMillis(), 36)
                    + Long.toString(ThreadLocalRandom.current().nextLong(36L * 36 * 36 * 36), 36);
            this.accountIds = new String[o.accounts()];
            for (int i = 0; i < accountIds.length; i++) {
                accountIds[i] = prefix + "-a" + i;
            }
            this.expected = new Expected(o.accounts());
            this.pool = TransferPool.build(o.scenario().history() ? Scenario.UNIFORM : o.scenario(), o.accounts(), o.seed());
        }

        String transferId(long seq) {
            return prefix + "-t" + Long.toString(seq, 36);
        }

        int accountIndex(String id) {
            if (!id.startsWith(prefix) || id.length() <= prefix.length() + 2 || !id.startsWith("-a", prefix.length())) {
                return -1;
            }
            try {
                int i = Integer.parseInt(id, prefix.length() + 2, id.length(), 10);
                return i < accountIds.length ? i : -1;
            } catch (NumberFormatException e) {
                return -1;
            }
        }

        GrpcClient client(long k) {
            return clients.get((int) (k % clients.size()));
        }

        // ------------------------------------------------------------------ set-up

        /** Creates the run's accounts, 8,000 per request (idempotent: retried on an unknown outcome). */
        void setUp() throws InterruptedException {
            int merchants = TransferPool.merchants(o.scenario(), o.accounts());
            for (int from = 0; from < accountIds.length; from += LOOKUP_CHUNK) {
                CreateAccountsRequest.Builder req = CreateAccountsRequest.newBuilder();
                for (int i = from; i < Math.min(accountIds.length, from + LOOKUP_CHUNK); i++) {
                    // No limit flags: no transfer of the benchmark is ever refused for funds.
                    req.addAccounts(Account.newBuilder().setId(accountIds[i]).setCurrency(CURRENCY).setCode(i < merchants ? 2 : 1)
                            .setOwner(o.owner()));
                }
                CreateAccountsRequest request = req.build();
                CreateAccountsResponse resp = withRetries("create accounts",
                        () -> Calls.unary(client(0), o.target().get(), LedgerServiceGrpcClient.CreateAccounts, request, 30_000));
                for (CreateAccountResult r : resp.getResultsList()) {
                    if (r.getStatus() != CreateAccountStatus.CREATE_ACCOUNT_CREATED
                            && r.getStatus() != CreateAccountStatus.CREATE_ACCOUNT_EXISTS) {
                        throw new IllegalStateException("account " + r.getId() + " could not be created: " + r.getStatus());
                    }
                }
            }
            progress.accept("bench: " + accountIds.length + " accounts created (prefix " + prefix + ")");
        }

        // ------------------------------------------------------------------ load

        /**
         * Writes {@code plan}'s transfers, {@code o.concurrency()} requests in flight, each lane taking the next request
         * of the plan until none is left; a failed request is not sent again (the caller counts what the ledger holds
         * and plans again). Every call counts as measured: there is no warm-up and no window.
         */
        void driveCount(Preload.Plan plan) throws InterruptedException {
            start = System.nanoTime();
            measureFrom = start;
            measureUntil = start + TimeUnit.DAYS.toNanos(365);
            AtomicLong next = new AtomicLong();
            long requests = plan.requests();
            Thread reporter = Thread.ofVirtual().name("preload-progress").start(() -> {
                long last = 0;
                long lastAt = start;
                while (true) {
                    try {
                        Thread.sleep(PRELOAD_PROGRESS_MS);
                    } catch (InterruptedException e) {
                        return;
                    }
                    long now = System.nanoTime();
                    long done = acceptedTotal.sum();
                    long failed = errors.values().stream().mapToLong(LongAdder::sum).sum();
                    progress.accept(String.format(Locale.ROOT, "preload: %,d of %,d written (%,.0f/s now, %,.0f/s overall)%s",
                            done, plan.toWrite(), (done - last) * 1e9 / (now - lastAt), done * 1e9 / (now - start),
                            failed == 0 ? "" : String.format(Locale.ROOT, ", %,d failed calls or items: %s", failed, errorsNow())));
                    last = done;
                    lastAt = now;
                }
            });
            try (ExecutorService lanes = Executors.newVirtualThreadPerTaskExecutor()) {
                for (int lane = 0; lane < o.concurrency(); lane++) {
                    GrpcClient c = client(lane);
                    lanes.execute(() -> {
                        long k;
                        while ((k = next.getAndIncrement()) < requests) {
                            long due = System.nanoTime();
                            try {
                                transfers(c, due, plan.requestSize(k));
                            } catch (RuntimeException e) {
                                failed(due, "client: " + e.getClass().getSimpleName() + ": " + e.getMessage());
                            }
                        }
                    });
                }
            } finally {
                reporter.interrupt();
                // It only sleeps and prints: interrupted, it returns at once.
                reporter.join(Duration.ofSeconds(5));
            }
        }

        private Map<String, Long> errorsNow() {
            Map<String, Long> errs = new TreeMap<>();
            errors.forEach((k, v) -> errs.put(k, v.sum()));
            return errs;
        }

        void drive() throws InterruptedException {
            start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
            measureFrom = start + (long) (o.warmupSeconds() * 1e9);
            measureUntil = measureFrom + (long) (o.durationSeconds() * 1e9);
            ProcessCpu meter = cpu;
            Window w = window;
            Thread cpuWindow = Thread.ofVirtual().name("bench-cpu").start(() -> {
                sleepUntil(measureFrom);
                ProcessCpu.Sample first = meter.sample();
                w.started();
                sleepUntil(measureUntil);
                cpuUsage = first.until(meter.sample());
                w.ended();
            });
            if (o.mode() == Mode.CLOSED) {
                closedLoop();
            } else {
                openLoop();
            }
            cpuWindow.join();
        }

        private void closedLoop() {
            try (ExecutorService lanes = Executors.newVirtualThreadPerTaskExecutor()) {
                for (int lane = 0; lane < o.concurrency(); lane++) {
                    GrpcClient c = client(lane);
                    lanes.execute(() -> {
                        sleepUntil(start);
                        long now;
                        while ((now = System.nanoTime()) - measureUntil < 0) {
                            one(c, now);
                        }
                    });
                }
            } // close() waits for every lane to finish its last call
        }

        private void openLoop() throws InterruptedException {
            double perSend = o.scenario() == Scenario.CAPTURES ? 3 : o.scenario() == Scenario.PAYMENTS ? CALLS_PER_PAYMENT
                    : o.transfersPerRequest();
            double intervalNanos = 1e9 * perSend / o.rate();
            AtomicInteger inFlight = new AtomicInteger();
            ExecutorService senders = Executors.newVirtualThreadPerTaskExecutor();
            try {
                for (long k = 0; ; k++) {
                    // Due times come from the clock and k alone, never from when answers arrive.
                    long due = start + (long) (k * intervalNanos);
                    if (due - measureUntil >= 0) {
                        break;
                    }
                    sleepUntil(due);
                    if (inFlight.get() >= o.concurrency()) {
                        if (measured(due)) {
                            dropped.increment();
                        }
                        continue;
                    }
                    inFlight.incrementAndGet();
                    GrpcClient c = client(k);
                    senders.execute(() -> {
                        try {
                            one(c, due);
                        } finally {
                            inFlight.decrementAndGet();
                        }
                    });
                }
            } finally {
                senders.shutdown();
                if (!senders.awaitTermination(o.callTimeoutMs() * 3 + 10_000, TimeUnit.MILLISECONDS)) {
                    progress.accept("bench: some calls did not end in time; counted as unknown outcome");
                }
            }
        }

        private void sleepUntil(long t) {
            long now;
            while ((now = System.nanoTime()) - t < 0) {
                LockSupport.parkNanos(t - now);
            }
        }

        boolean measured(long due) {
            return due - measureFrom >= 0 && due - measureUntil < 0;
        }

        void one(GrpcClient c, long due) {
            try {
                if (o.scenario().history()) {
                    historyPage(c, due);
                } else if (o.scenario().payments()) {
                    payment(c, due);
                } else {
                    transfers(c, due);
                }
            } catch (RuntimeException e) {
                failed(due, "client: " + e.getClass().getSimpleName() + ": " + e.getMessage());
            }
        }

        /**
         * One page of an account's history (GetAccountTransfers, both directions, {@link #HISTORY_PAGE} transfers, newest
         * or oldest first), the accounts taken in turn; counted as the transfers it returned.
         */
        private void historyPage(GrpcClient c, long due) {
            List<String> accounts = historyAccounts;
            String account = accounts.get((int) (seq.getAndIncrement() % accounts.size()));
            io.paymentledger.api.v1.GetAccountTransfersRequest req = io.paymentledger.api.v1.GetAccountTransfersRequest.newBuilder()
                    .setAccountId(account).setPageSize(HISTORY_PAGE).setReversed(o.scenario() == Scenario.HISTORY_NEWEST).build();
            io.paymentledger.api.v1.GetAccountTransfersResponse resp;
            try {
                resp = Calls.unary(c, o.target().get(), LedgerServiceGrpcClient.GetAccountTransfers, req, o.callTimeoutMs());
            } catch (Calls.Failure f) {
                failed(due, f.key);
                return;
            }
            long done = System.nanoTime();
            if (resp.getTransfersCount() == 0) {
                itemErrors(due, "empty page (no such account, or not the caller's)", 1);
            }
            succeeded(due, done, resp.getTransfersCount());
        }

        /** One single-transfer call of the merchants' client; the client batches it with the other lanes' calls. */
        private void batchedTransfer(io.paymentledger.client.LedgerClient client, long due) {
            long n = seq.getAndIncrement();
            int e = pool.entry(n);
            Transfer t = Transfer.newBuilder().setId(transferId(n)).setDebitAccountId(accountIds[pool.debit[e]])
                    .setCreditAccountId(accountIds[pool.credit[e]]).setAmount(pool.amount[e]).setCurrency(CURRENCY).setCode(1).build();
            CreateTransferResult r;
            try {
                r = client.createTransfer(t).join();
            } catch (java.util.concurrent.CompletionException ce) {
                if (ce.getCause() instanceof io.paymentledger.client.LedgerClientException f) {
                    failed(due, f.status().name());
                    if (f.outcomeUnknown()) {
                        unknown(new Unknown.Transfers(n, 1));
                    }
                    return;
                }
                throw ce;
            }
            long done = System.nanoTime();
            if (r.getStatus() == CreateTransferStatus.CREATE_TRANSFER_CREATED) {
                synchronized (expected) {
                    expected.apply(Effect.POSTED, pool.debit[e], pool.credit[e], pool.amount[e]);
                }
                succeeded(due, done, 1);
            } else {
                if (r.getStatus() == CreateTransferStatus.CREATE_TRANSFER_EXISTS) {
                    exists.increment();
                }
                itemErrors(due, "item " + r.getStatus().name().replace("CREATE_TRANSFER_", ""), 1);
                succeeded(due, done, 0);
            }
        }

        private void transfers(GrpcClient c, long due) {
            io.paymentledger.client.LedgerClient batching = batchingClient;
            if (batching != null && o.transfersPerRequest() == 1) {
                batchedTransfer(batching, due);
                return;
            }
            transfers(c, due, o.transfersPerRequest());
        }

        /** One CreateTransfers request of {@code n} transfers, built from the templates. */
        void transfers(GrpcClient c, long due, int n) {
            long first = seq.getAndAdd(n);
            CreateTransfersRequest.Builder req = CreateTransfersRequest.newBuilder();
            for (int i = 0; i < n; i++) {
                int e = pool.entry(first + i);
                req.addTransfers(Transfer.newBuilder().setId(transferId(first + i))
                        .setDebitAccountId(accountIds[pool.debit[e]]).setCreditAccountId(accountIds[pool.credit[e]])
                        .setAmount(pool.amount[e]).setCurrency(CURRENCY).setCode(1));
            }
            CreateTransfersResponse resp;
            try {
                resp = Calls.unary(c, o.target().get(), LedgerServiceGrpcClient.CreateTransfers, req.build(), o.callTimeoutMs());
            } catch (Calls.Failure f) {
                failed(due, f.key);
                if (f.ambiguous) {
                    unknown(new Unknown.Transfers(first, n));
                }
                return;
            }
            long done = System.nanoTime();
            int accepted = 0;
            Map<CreateTransferStatus, Integer> rejected = null;
            synchronized (expected) {
                for (CreateTransferResult r : resp.getResultsList()) {
                    if (r.getStatus() == CreateTransferStatus.CREATE_TRANSFER_CREATED) {
                        int e = pool.entry(first + r.getIndex());
                        expected.apply(Effect.POSTED, pool.debit[e], pool.credit[e], pool.amount[e]);
                        accepted++;
                    } else {
                        if (rejected == null) {
                            rejected = new EnumMap<>(CreateTransferStatus.class);
                        }
                        rejected.merge(r.getStatus(), 1, Integer::sum);
                    }
                }
            }
            if (rejected != null) {
                rejected.forEach((status, count) -> {
                    if (status == CreateTransferStatus.CREATE_TRANSFER_EXISTS) {
                        exists.add(count);
                    }
                    itemErrors(due, "item " + status.name().replace("CREATE_TRANSFER_", ""), count);
                });
            }
            succeeded(due, done, accepted);
        }

        /** One payment: authorize, then void or capture, sometimes a refund; every call measured on its own. */
        private void payment(GrpcClient c, long due) {
            long n = seq.getAndIncrement();
            int e = pool.entry(n);
            int payer = pool.debit[e];
            int merchant = pool.credit[e];
            long amount = pool.amount[e];
            SplittableRandom r = new SplittableRandom(o.seed() * 0x9E3779B97F4A7C15L + n);
            String id = prefix + "-p" + Long.toString(n, 36);
            // A dependent call is due when the call it depends on was answered.
            long t = paymentCall(c, PaymentsServiceGrpcClient.Authorize, AuthorizeRequest.newBuilder().setPaymentId(id)
                    .setPayerAccountId(accountIds[payer]).setMerchantAccountId(accountIds[merchant]).setAmount(amount)
                    .setCurrency(CURRENCY).setExpiresInSeconds(AUTHORIZATION_EXPIRY_SECONDS).build(), id, due,
                    Effect.PENDING, payer, merchant, amount);
            if (t == 0) {
                return;
            }
            if (o.scenario() == Scenario.CAPTURES && amount > 1) {
                racingCaptures(c, id, t, payer, merchant, amount);
                return;
            }
            if (r.nextDouble() < 0.10) {
                paymentCall(c, PaymentsServiceGrpcClient.VoidPayment, VoidRequest.newBuilder().setPaymentId(id)
                        .setVoidId(id + "-v").build(), id + "-v", t, Effect.VOID_PENDING, payer, merchant, amount);
                return;
            }
            long captured = amount > 1 && r.nextDouble() < 0.20 ? 1 + r.nextLong(amount - 1) : amount;
            t = paymentCall(c, PaymentsServiceGrpcClient.Capture, CaptureRequest.newBuilder().setPaymentId(id)
                    .setCaptureId(id + "-c").setAmount(captured).build(), id + "-c", t, Effect.POST_PENDING, payer,
                    merchant, captured);
            if (t == 0) {
                return;
            }
            if (r.nextDouble() < 0.05) {
                long refund = 1 + r.nextLong(captured);
                paymentCall(c, PaymentsServiceGrpcClient.Refund, RefundRequest.newBuilder().setPaymentId(id)
                        .setRefundId(id + "-r").setAmount(refund).build(), id + "-r", t, Effect.POSTED, merchant, payer, refund);
            }
        }

        /**
         * Two partial captures of one payment at the same moment, from two callers (this thread and a virtual one):
         * half and the rest. Both must be answered OK (they fit in the authorization whatever their order).
         */
        private void racingCaptures(GrpcClient c, String id, long due, int payer, int merchant, long amount) {
            long first = amount / 2;
            long second = amount - first;
            Thread other = Thread.ofVirtual().start(() -> paymentCall(c, PaymentsServiceGrpcClient.Capture, CaptureRequest.newBuilder()
                    .setPaymentId(id).setCaptureId(id + "-c1").setAmount(first).build(), id + "-c1", due, Effect.POST_PENDING,
                    payer, merchant, first));
            paymentCall(c, PaymentsServiceGrpcClient.Capture, CaptureRequest.newBuilder().setPaymentId(id).setCaptureId(id + "-c2")
                    .setAmount(second).build(), id + "-c2", due, Effect.POST_PENDING, payer, merchant, second);
            try {
                // Bounded: the other call has the same deadline as this one had.
                if (!other.join(java.time.Duration.ofMillis(o.callTimeoutMs() + 5_000))) {
                    failed(due, "second capture not answered");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        /** Returns when the call was answered OK (nanoTime, never 0), or 0 when the payment cannot go on. */
        private <Req> long paymentCall(GrpcClient c, ServiceMethod<PaymentResponse, Req> method, Req req, String callId,
                long due, Effect effect, int debit, int credit, long amount) {
            PaymentResponse resp;
            try {
                resp = Calls.unary(c, o.target().get(), method, req, o.callTimeoutMs());
            } catch (Calls.Failure f) {
                failed(due, f.key);
                if (f.ambiguous) {
                    unknown(new Unknown.Call(callId));
                }
                return 0;
            }
            long done = System.nanoTime();
            if (resp.getResult() == PaymentResult.PAYMENT_RESULT_OK) {
                expected.apply(effect, debit, credit, amount);
                succeeded(due, done, 1);
                return done == 0 ? 1 : done;
            }
            if (resp.getResult() == PaymentResult.PAYMENT_RESULT_EXISTS) {
                exists.increment();
            }
            itemErrors(due, "payment " + resp.getResult().name().replace("PAYMENT_RESULT_", ""), 1);
            succeeded(due, done, 0);
            return 0;
        }

        void succeeded(long due, long done, int accepted) {
            if (measured(due)) {
                latency.recordValue(Math.min(LATENCY_MAX_MICROS, Math.max(1, (done - due) / 1000)));
                windowRequests.increment();
            }
            if (inWindow(done)) {
                windowTransfers.add(accepted);
                windowCalls.increment();
            }
            acceptedTotal.add(accepted);
        }

        private boolean inWindow(long t) {
            return t - measureFrom >= 0 && t - measureUntil <= 0;
        }

        void failed(long due, String key) {
            if (inWindow(System.nanoTime())) {
                windowCalls.increment();
            }
            if (measured(due)) {
                windowRequests.increment();
                errors.computeIfAbsent(key, k -> new LongAdder()).increment();
            } else {
                warmupErrors.increment();
            }
        }

        void itemErrors(long due, String key, int count) {
            if (measured(due)) {
                errors.computeIfAbsent(key, k -> new LongAdder()).add(count);
            } else {
                warmupErrors.add(count);
            }
        }

        void unknown(Unknown u) {
            if (unknownIds.addAndGet(u.ids()) > UNKNOWN_IDS_MAX) {
                unknownOverflow = true;
            } else {
                unknown.add(u);
            }
        }

        // ------------------------------------------------------------------ check

        BenchResult.Check check() throws InterruptedException {
            List<String> problems = new ArrayList<>();
            long reconciled = reconcile(problems);
            int accounts = compareBalances(problems);
            if (exists.sum() > 0) {
                problems.add(exists.sum() + " fresh ids were answered EXISTS (a duplicate id, or a lost answer): should never happen");
            }
            try (Connection c = database.open()) {
                for (String p : LedgerChecks.currenciesBalance(c)) {
                    problems.add("database: " + p);
                }
                for (String p : LedgerChecks.balancesMatchTransfers(c)) {
                    problems.add("database: " + p);
                }
            } catch (SQLException e) {
                problems.add("database: the invariant checks could not run: " + e.getMessage());
            }
            return new BenchResult.Check(problems.isEmpty(), List.copyOf(problems), accounts, reconciled);
        }

        /**
         * Calls whose outcome is unknown (a deadline, a reset, UNAVAILABLE after the writer may have committed):
         * looked up by id; what the ledger has is added to the expected balances, with the ledger's own amounts.
         */
        private long reconcile(List<String> problems) throws InterruptedException {
            if (unknownOverflow) {
                problems.add("more than " + UNKNOWN_IDS_MAX + " transfers had an unknown outcome: the balances cannot be"
                        + " reconciled (the run overloaded the ledger; lower the rate or the concurrency)");
            }
            if (unknown.isEmpty()) {
                return 0;
            }
            // A write the server still held when the client gave up is dropped at its deadline or committed by now.
            Thread.sleep(Math.min(3_000, o.callTimeoutMs()));
            long found = 0;
            List<String> ids = new ArrayList<>(LOOKUP_CHUNK);
            for (Unknown u : unknown) {
                switch (u) {
                    case Unknown.Transfers t -> {
                        for (int i = 0; i < t.count(); i++) {
                            ids.add(transferId(t.firstSeq() + i));
                            if (ids.size() == LOOKUP_CHUNK) {
                                found += lookUpAndApply(ids, problems);
                            }
                        }
                    }
                    case Unknown.Call call -> {
                        ids.add(call.id());
                        if (ids.size() == LOOKUP_CHUNK) {
                            found += lookUpAndApply(ids, problems);
                        }
                    }
                }
            }
            if (!ids.isEmpty()) {
                found += lookUpAndApply(ids, problems);
            }
            return found;
        }

        private long lookUpAndApply(List<String> ids, List<String> problems) throws InterruptedException {
            LookupTransfersRequest req = LookupTransfersRequest.newBuilder().addAllIds(ids).build();
            ids.clear();
            LookupTransfersResponse resp = withRetries("look up transfers",
                    () -> Calls.unary(client(0), o.target().get(), LedgerServiceGrpcClient.LookupTransfers, req, 30_000));
            long found = 0;
            for (TransferLookup l : resp.getResultsList()) {
                if (l.getStatus() != LookupStatus.LOOKUP_FOUND) {
                    continue;
                }
                Transfer t = l.getTransfer();
                int d = accountIndex(t.getDebitAccountId());
                int c = accountIndex(t.getCreditAccountId());
                if (d < 0 || c < 0) {
                    problems.add("transfer " + t.getId() + " moves money between accounts outside the run: "
                            + t.getDebitAccountId() + " -> " + t.getCreditAccountId());
                    continue;
                }
                expected.apply(Expected.effectOf(t), d, c, t.getAmount());
                found++;
            }
            return found;
        }

        /** The balances the API reports for the run's accounts equal what the accepted transfers imply. */
        private int compareBalances(List<String> problems) throws InterruptedException {
            int differ = 0;
            int compared = 0;
            long posted = 0;
            long pending = 0;
            List<String> first = new ArrayList<>();
            for (int from = 0; from < accountIds.length; from += LOOKUP_CHUNK) {
                LookupAccountsRequest req = LookupAccountsRequest.newBuilder()
                        .addAllIds(List.of(accountIds).subList(from, Math.min(accountIds.length, from + LOOKUP_CHUNK))).build();
                LookupAccountsResponse resp = withRetries("look up accounts",
                        () -> Calls.unary(client(0), o.target().get(), LedgerServiceGrpcClient.LookupAccounts, req, 30_000));
                for (AccountLookup l : resp.getResultsList()) {
                    int i = accountIndex(l.getId());
                    if (l.getStatus() != LookupStatus.LOOKUP_FOUND || i < 0) {
                        differ++;
                        if (first.size() < 10) {
                            first.add("account " + l.getId() + ": " + l.getStatus());
                        }
                        continue;
                    }
                    compared++;
                    Balance got = l.getAccount().getBalance();
                    Balance want = expected.balance(i);
                    posted += got.getCreditsPosted() - got.getDebitsPosted();
                    pending += got.getCreditsPending() - got.getDebitsPending();
                    if (!got.equals(want)) {
                        differ++;
                        if (first.size() < 10) {
                            first.add("account " + l.getId() + ": the ledger has " + show(got) + ", the accepted transfers imply "
                                    + show(want));
                        }
                    }
                }
            }
            if (differ > 0) {
                problems.add(differ + " of " + accountIds.length + " accounts do not hold what the accepted transfers imply");
                problems.addAll(first);
            }
            if (posted != 0 || pending != 0) {
                problems.add("the run's accounts do not sum to zero: posted " + posted + ", pending " + pending);
            }
            return compared;
        }

        private static String show(Balance b) {
            return "(debits pending " + b.getDebitsPending() + ", posted " + b.getDebitsPosted() + "; credits pending "
                    + b.getCreditsPending() + ", posted " + b.getCreditsPosted() + ")";
        }

        BenchResult result(BenchResult.Check check) {
            Histogram h = latency.getIntervalHistogram();
            double seconds = (measureUntil - measureFrom) / 1e9;
            Map<String, Long> errs = new TreeMap<>();
            errors.forEach((k, v) -> errs.put(k, v.sum()));
            long samples = h.getTotalCount();
            return new BenchResult(o.scenario().label(), o.transfersPerRequest(), o.mode().label(),
                    o.mode() == Mode.OPEN ? o.rate() : 0, o.concurrency(), clients.size(), seconds, windowTransfers.sum(),
                    windowTransfers.sum() / seconds, windowRequests.sum(), ms(h, samples, 50), ms(h, samples, 90),
                    ms(h, samples, 99), ms(h, samples, 99.9), samples == 0 ? 0 : BenchResult.round(h.getMaxValue() / 1000.0),
                    samples, errs, dropped.sum(), acceptedTotal.sum(), warmupErrors.sum(), prefix,
                    BenchResult.Cpu.of(cpuUsage, windowCalls.sum(), windowTransfers.sum()), check);
        }

        private static double ms(Histogram h, long samples, double percentile) {
            return samples == 0 ? 0 : BenchResult.round(h.getValueAtPercentile(percentile) / 1000.0);
        }
    }

    @FunctionalInterface
    private interface Attempt<T> {
        T call() throws Calls.Failure;
    }

    /** Set-up and check calls: retried (they are idempotent) for up to a minute on an unknown outcome. */
    private static <T> T withRetries(String what, Attempt<T> attempt) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        long backoffMs = 100;
        while (true) {
            try {
                return attempt.call();
            } catch (Calls.Failure f) {
                if (!f.ambiguous && !"RESOURCE_EXHAUSTED".equals(f.key) || System.nanoTime() - deadline > 0) {
                    throw new IllegalStateException(what + " failed: " + f.key);
                }
                Thread.sleep(backoffMs);
                backoffMs = Math.min(2_000, backoffMs * 2);
            }
        }
    }
}
