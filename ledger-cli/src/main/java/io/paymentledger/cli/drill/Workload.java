package io.paymentledger.cli.drill;

import io.paymentledger.api.v1.Account;
import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateTransferResult;
import io.paymentledger.api.v1.CreateTransferStatus;
import io.paymentledger.api.v1.CreateTransfersRequest;
import io.paymentledger.api.v1.LedgerServiceGrpcClient;
import io.paymentledger.api.v1.LookupStatus;
import io.paymentledger.api.v1.LookupTransfersRequest;
import io.paymentledger.api.v1.Transfer;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.InvalidStatusException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * A steady stream of transfers that survives failovers the way a careful client does: every request keeps
 * its ids and is retried until it is acknowledged (ids are idempotency keys, so a retry never posts twice).
 * Remembers every acknowledged transfer so that, afterwards, {@link #verify} can prove none was lost.
 */
public final class Workload implements AutoCloseable {

    public static final String CURRENCY = "EUR";
    private static final int PAYERS = 16;
    /** With a wallet, one transfer in this many involves it. */
    static final int WALLET_SHARE = 4;
    /**
     * Amounts into the wallet are drawn from 1..this, amounts out of it from 1..{@link #AMOUNT_MAX}: its balance drifts
     * down to zero and stays there, so spending from it is refused again and again (EXCEEDS_CREDITS).
     */
    static final int WALLET_FUNDING_MAX = 50;
    /** Transfer amounts are drawn from 1..this (minor units). */
    static final int AMOUNT_MAX = 100;
    /** How {@link #errors()} names the ledger's refusal of one item, followed by its status. */
    public static final String ITEM_REFUSED_PREFIX = "item ";
    /** A request is retried (same ids) for at most this long before it is given up as unknown. */
    static final long GIVE_UP_MS = 60_000;
    /** The client waits this much longer than a call's deadline for its answer (the server's own end of it). */
    static final long CALL_WAIT_MARGIN_MS = 2_000;
    /** Slack for a worker to record its last answer after its last call. */
    static final long JOIN_MARGIN_MS = 1_000;

    private final GrpcClient grpc;
    private final Supplier<SocketAddress> target;
    private final String runId;
    private final String owner;
    private final int workers;
    private final long callTimeoutMs;
    private final AtomicBoolean running = new AtomicBoolean();
    private final List<Thread> threads = new ArrayList<>();
    /** Acknowledged transfer id -> amount. */
    private final Map<String, Long> acknowledged = new ConcurrentHashMap<>();
    /** Every acknowledgement: when the successful attempt started, and when it was acknowledged (nanoTime). */
    private record Ack(long attemptStartNanos, long ackNanos) {}

    private final ConcurrentLinkedQueue<Ack> acks = new ConcurrentLinkedQueue<>();
    /**
     * Every acknowledgement that created transfers: its attempt's start, its acknowledgement (nanoTime), and the
     * smallest and largest commit timestamp it reported (ledger time, Unix ns).
     */
    public record Stamped(long attemptStartNanos, long ackNanos, long minTimestampNs, long maxTimestampNs) {}

    private final ConcurrentLinkedQueue<Stamped> stamped = new ConcurrentLinkedQueue<>();
    private final ThreadLocal<long[]> lastAttemptStart = ThreadLocal.withInitial(() -> new long[1]);
    private final ThreadLocal<String[]> lastError = ThreadLocal.withInitial(() -> new String[1]);
    private final Map<String, Long> errors = new ConcurrentHashMap<>();
    /** Told about every request sent and how it ended (a chaos run records its history through it); may be null. */
    private volatile Observer observer;
    /** With a wallet: some transfers fund it and some spend from it, so the ledger refuses some (EXCEEDS_CREDITS). */
    private boolean wallet;
    /** Once stopping: retries give up at this nanoTime (0 = the normal 60 s per request). */
    private volatile long giveUpAtNanos;

    /**
     * What the workload tells its observer: when a request's first attempt is sent (its ids are in flight from then
     * on), and how it ended, with the first-attempt time kept (retries keep the ids, so any attempt may have written).
     */
    public interface Observer {
        void sending(CreateTransfersRequest request, long invokeNanos);

        /**
         * The request was answered ({@code results} per item) or given up on ({@code results} null: every item is
         * unknown; {@code lastError} says what the last attempt got).
         */
        void completed(CreateTransfersRequest request, long invokeNanos, long completeNanos, List<CreateTransferResult> results,
                String lastError);
    }

    /**
     * @param target  where to send each attempt (the router, or whichever node leads right now)
     */
    /**
     * @param callTimeoutMs  each call's deadline (sent as grpc-timeout): through the router it may wait out a failover
     */
    public Workload(GrpcClient grpc, Supplier<SocketAddress> target, String runId, String owner, int workers, long callTimeoutMs) {
        this.grpc = grpc;
        this.target = target;
        this.runId = runId;
        this.owner = owner;
        this.workers = workers;
        this.callTimeoutMs = callTimeoutMs;
    }

    String payer(int i) {
        return runId + "-payer-" + i;
    }

    public String merchant() {
        return runId + "-merchant";
    }

    /** The account that may not go below zero (only with {@link #withWallet}). */
    public String wallet() {
        return runId + "-wallet";
    }

    /** Reports every request to {@code o} (call before {@link #start}). */
    public Workload observedBy(Observer o) {
        this.observer = o;
        return this;
    }

    /**
     * Adds a wallet (debits must not exceed credits): one transfer in {@link #WALLET_SHARE} funds it from a payer or
     * spends from it to the merchant, so some are refused. Call before {@link #setUp}.
     */
    public Workload withWallet() {
        this.wallet = true;
        return this;
    }

    /** Creates the workload's accounts (idempotent). */
    public void setUp() {
        CreateAccountsRequest.Builder req = CreateAccountsRequest.newBuilder()
                .addAccounts(Account.newBuilder().setId(merchant()).setCurrency(CURRENCY).setCode(2).setOwner(owner));
        for (int i = 0; i < PAYERS; i++) {
            req.addAccounts(Account.newBuilder().setId(payer(i)).setCurrency(CURRENCY).setCode(1).setOwner(owner));
        }
        if (wallet) {
            req.addAccounts(Account.newBuilder().setId(wallet()).setCurrency(CURRENCY).setCode(1).setOwner(owner)
                    .setFlags(io.paymentledger.api.v1.AccountFlags.newBuilder().setDebitsMustNotExceedCredits(true)));
        }
        retrying(() -> client().createAccounts(req.build()).await(5, TimeUnit.SECONDS), 60_000);
    }

    /** Creates one more account of the workload's owner, {@code id} (retried like the set-up; idempotent). */
    public void createAccount(String id) {
        CreateAccountsRequest req = CreateAccountsRequest.newBuilder()
                .addAccounts(Account.newBuilder().setId(id).setCurrency(CURRENCY).setCode(1).setOwner(owner)).build();
        retrying(() -> client().createAccounts(req).await(5, TimeUnit.SECONDS), 60_000);
    }

    private LedgerServiceGrpcClient client() {
        return LedgerServiceGrpcClient.create(grpc, target.get());
    }

    public void start() {
        running.set(true);
        for (int w = 0; w < workers; w++) {
            int worker = w;
            Thread t = Thread.ofPlatform().name("workload-" + w).daemon(true).start(() -> work(worker));
            threads.add(t);
        }
    }

    private void work(int worker) {
        Random random = new Random(worker * 7919L + runId.hashCode());
        long seq = 0;
        while (running.get()) {
            CreateTransfersRequest.Builder req = CreateTransfersRequest.newBuilder();
            int n = 1 + random.nextInt(5);
            for (int k = 0; k < n; k++) {
                String debit = payer(random.nextInt(PAYERS));
                String credit = merchant();
                int amountMax = AMOUNT_MAX;
                if (wallet && random.nextInt(WALLET_SHARE) == 0) {
                    if (random.nextBoolean()) {
                        credit = wallet();
                        amountMax = WALLET_FUNDING_MAX;
                    } else {
                        debit = wallet();
                    }
                }
                req.addTransfers(Transfer.newBuilder().setId(runId + "-" + worker + "-" + (seq++))
                        .setDebitAccountId(debit).setCreditAccountId(credit)
                        .setAmount(1 + random.nextInt(amountMax)).setCurrency(CURRENCY).setCode(7));
            }
            CreateTransfersRequest request = req.build();
            Observer o = observer;
            long invoked = System.nanoTime();
            if (o != null) {
                o.sending(request, invoked);
            }
            // Keep retrying the same request (same ids) until it is acknowledged; give up only when stopping
            // and a generous grace period has passed.
            var results = retrying(() -> createTransfers(request).getResultsList(), GIVE_UP_MS);
            long now = System.nanoTime();
            if (o != null) {
                o.completed(request, invoked, now, results, lastError.get()[0]);
            }
            if (results == null) {
                continue;
            }
            long attemptStart = lastAttemptStart.get()[0];
            long minTs = Long.MAX_VALUE;
            long maxTs = Long.MIN_VALUE;
            for (CreateTransferResult r : results) {
                if (r.getStatus() == CreateTransferStatus.CREATE_TRANSFER_CREATED
                        || r.getStatus() == CreateTransferStatus.CREATE_TRANSFER_EXISTS) {
                    acknowledged.put(r.getId(), request.getTransfers(r.getIndex()).getAmount());
                } else {
                    errors.merge(ITEM_REFUSED_PREFIX + r.getStatus().name(), 1L, Long::sum);
                }
                // EXISTS answers with the first attempt's time, from before this attempt started.
                if (r.getStatus() == CreateTransferStatus.CREATE_TRANSFER_CREATED) {
                    minTs = Math.min(minTs, r.getTimestampNs());
                    maxTs = Math.max(maxTs, r.getTimestampNs());
                }
            }
            acks.add(new Ack(attemptStart, now));
            if (minTs <= maxTs) {
                stamped.add(new Stamped(attemptStart, now, minTs, maxTs));
            }
        }
    }

    /** One call with its deadline sent along (so the router and the node stop waiting when the client does). */
    private io.paymentledger.api.v1.CreateTransfersResponse createTransfers(CreateTransfersRequest request) throws Exception {
        return grpc.request(target.get(), LedgerServiceGrpcClient.CreateTransfers).compose(req -> {
            req.timeout(callTimeoutMs, TimeUnit.MILLISECONDS);
            req.end(request);
            return req.response().compose(resp -> resp.last().recover(err -> io.vertx.core.Future.failedFuture(
                    resp.status() != null && resp.status() != io.vertx.grpc.common.GrpcStatus.OK
                            ? new StatusFailure(resp.status().name()) : err)));
        }).await(callTimeoutMs + CALL_WAIT_MARGIN_MS, TimeUnit.MILLISECONDS);
    }

    /** A call that ended with a non-OK gRPC status. */
    static final class StatusFailure extends Exception {
        StatusFailure(String status) {
            super(status, null, false, false);
        }
    }

    @FunctionalInterface
    private interface Attempt<T> {
        T run() throws Exception;
    }

    private <T> T retrying(Attempt<T> attempt, long giveUpAfterMs) {
        long deadline = System.nanoTime() + giveUpAfterMs * 1_000_000L;
        long backoffMs = 20;
        lastError.get()[0] = null;
        while (true) {
            try {
                lastAttemptStart.get()[0] = System.nanoTime();
                return attempt.run();
            } catch (Exception e) {
                String error = describe(e);
                lastError.get()[0] = error;
                errors.merge(error, 1L, Long::sum);
                long giveUpAt = giveUpAtNanos;
                if (System.nanoTime() - deadline > 0 || (giveUpAt != 0 && System.nanoTime() - giveUpAt > 0)) {
                    return null;
                }
                try {
                    Thread.sleep(backoffMs);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return null;
                }
                backoffMs = Math.min(250, backoffMs * 2);
            }
        }
    }

    /** What a failed call is counted as: its gRPC status name, or the failure's message or class. */
    public static String describe(Throwable e) {
        if (e instanceof InvalidStatusException s) {
            return s.actualStatus().name();
        }
        if (e instanceof StatusFailure s) {
            return s.getMessage();
        }
        if (e instanceof java.util.concurrent.TimeoutException) {
            return "client timeout";
        }
        String name = e.getClass().getSimpleName();
        return name.isEmpty() ? "error" : name;
    }

    /** Stops sending; in-flight requests are still retried until acknowledged. */
    public void stop() {
        running.set(false);
        for (Thread t : threads) {
            try {
                t.join(90_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Stops sending and gives in-flight requests at most {@code settle} more to be acknowledged (retrying with the same
     * ids); what is still unanswered then is given up (the observer hears it as unknown). Returns within
     * {@code settle} plus one call's deadline.
     */
    public void stop(java.time.Duration settle) {
        giveUpAtNanos = System.nanoTime() + settle.toNanos();
        running.set(false);
        long joinBy = System.nanoTime() + settle.toNanos() + (callTimeoutMs + CALL_WAIT_MARGIN_MS + JOIN_MARGIN_MS) * 1_000_000L;
        for (Thread t : threads) {
            try {
                t.join(Math.max(1, (joinBy - System.nanoTime()) / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    public int acknowledgedCount() {
        return acknowledged.size();
    }

    /** The ids of every transfer acknowledged so far (CREATED or EXISTS). */
    public java.util.Set<String> acknowledgedIds() {
        return java.util.Set.copyOf(acknowledged.keySet());
    }

    /** The workload's accounts: the merchant, the payers and the wallet if there is one. */
    public List<String> accountIds() {
        List<String> ids = new ArrayList<>();
        ids.add(merchant());
        for (int i = 0; i < PAYERS; i++) {
            ids.add(payer(i));
        }
        if (wallet) {
            ids.add(wallet());
        }
        return ids;
    }

    public Map<String, Long> errors() {
        return Map.copyOf(errors);
    }

    /**
     * When writes were accepted again after {@code sinceNanos}: the first acknowledgement of an attempt that
     * started at or after it (an attempt already in flight at the fault proves nothing), or -1.
     */
    public long firstAckAfter(long sinceNanos) {
        return acks.stream().filter(a -> a.attemptStartNanos() - sinceNanos >= 0).mapToLong(Ack::ackNanos).min().orElse(-1);
    }

    /** How many calls were acknowledged with an attempt made and answered within [fromNanos, toNanos]. */
    public long acknowledgedBetween(long fromNanos, long toNanos) {
        return acks.stream().filter(a -> a.attemptStartNanos() - fromNanos >= 0 && toNanos - a.ackNanos() >= 0).count();
    }

    /** The longest time with no acknowledgement, between two acknowledgements after {@code sinceNanos}. */
    public long longestGapMsAfter(long sinceNanos) {
        long[] times = acks.stream().mapToLong(Ack::ackNanos).filter(t -> t - sinceNanos >= 0).sorted().toArray();
        long gap = 0;
        for (int i = 1; i < times.length; i++) {
            gap = Math.max(gap, times[i] - times[i - 1]);
        }
        return gap / 1_000_000;
    }

    /**
     * The longest time within [{@code fromNanos}, {@code toNanos}] without an acknowledgement, the window's edges counted
     * as its ends (a step of a rolling restart during which writes stopped shows as the whole stretch).
     */
    public long longestGapMsBetween(long fromNanos, long toNanos) {
        long[] times = acks.stream().mapToLong(Ack::ackNanos).filter(t -> t - fromNanos >= 0 && toNanos - t >= 0).sorted()
                .toArray();
        long gap = 0;
        long previous = fromNanos;
        for (long t : times) {
            gap = Math.max(gap, t - previous);
            previous = t;
        }
        return Math.max(gap, toNanos - previous) / 1_000_000;
    }

    /** The acknowledgements that created transfers, in the order they were acknowledged. */
    public List<Stamped> stamped() {
        return stamped.stream().sorted(java.util.Comparator.comparingLong(Stamped::ackNanos)).toList();
    }

    /**
     * Commit timestamps follow real time: a transfer whose call started after another's was acknowledged has a later
     * timestamp (also across a failover and a step of the leader's wall clock). Returns the violations.
     */
    public List<String> timestampOrderProblems() {
        List<Stamped> byAck = stamped();
        long[] ackAt = byAck.stream().mapToLong(Stamped::ackNanos).toArray();
        long[] maxBefore = new long[byAck.size()];
        long max = Long.MIN_VALUE;
        for (int i = 0; i < byAck.size(); i++) {
            max = Math.max(max, byAck.get(i).maxTimestampNs());
            maxBefore[i] = max;
        }
        List<String> problems = new ArrayList<>();
        for (Stamped later : byAck) {
            // the acknowledgements completed before this attempt started
            int i = java.util.Arrays.binarySearch(ackAt, later.attemptStartNanos());
            int before = (i >= 0 ? i : -i - 1) - 1;
            while (before >= 0 && ackAt[before] - later.attemptStartNanos() >= 0) {
                before--;
            }
            if (before >= 0 && maxBefore[before] >= later.minTimestampNs() && problems.size() < 20) {
                problems.add("a transfer committed at " + later.minTimestampNs() + " ns, after a call acknowledged earlier"
                        + " reported " + maxBefore[before] + " ns: timestamps went back");
            }
        }
        return problems;
    }

    /** A pending transfer of 1 from the first payer to the merchant that expires after {@code timeoutSeconds}. */
    public void hold(String id, int timeoutSeconds) {
        CreateTransfersRequest req = CreateTransfersRequest.newBuilder().addTransfers(Transfer.newBuilder().setId(id)
                .setDebitAccountId(payer(0)).setCreditAccountId(merchant()).setAmount(1).setCurrency(CURRENCY).setCode(7)
                .setFlags(io.paymentledger.api.v1.TransferFlags.newBuilder().setPending(true)).setTimeoutSeconds(timeoutSeconds))
                .build();
        var r = retrying(() -> createTransfers(req), 60_000);
        if (r == null || (r.getResults(0).getStatus() != CreateTransferStatus.CREATE_TRANSFER_CREATED
                && r.getResults(0).getStatus() != CreateTransferStatus.CREATE_TRANSFER_EXISTS)) {
            throw new IllegalStateException("could not create the hold " + id + ": " + (r == null ? "no answer" : r.getResults(0).getStatus()));
        }
    }

    /** A pending transfer's state now (PENDING_STATE_HELD, _EXPIRED, ...). */
    public io.paymentledger.api.v1.PendingState pendingState(String id) {
        var found = retrying(() -> client().lookupTransfers(LookupTransfersRequest.newBuilder().addIds(id).build())
                .await(10, TimeUnit.SECONDS), 30_000);
        if (found == null || found.getResults(0).getStatus() != LookupStatus.LOOKUP_FOUND) {
            throw new IllegalStateException("could not look the hold " + id + " up");
        }
        return found.getResults(0).getPendingState();
    }

    /**
     * Every acknowledged transfer is in the ledger, once, with its amount. Returns the problems (empty = none).
     */
    public List<String> verify() {
        List<String> problems = new ArrayList<>();
        List<String> ids = new ArrayList<>(acknowledged.keySet());
        for (int from = 0; from < ids.size(); from += 8000) {
            List<String> chunk = ids.subList(from, Math.min(ids.size(), from + 8000));
            var found = retrying(() -> client().lookupTransfers(LookupTransfersRequest.newBuilder().addAllIds(chunk).build())
                    .await(10, TimeUnit.SECONDS), 30_000);
            if (found == null) {
                problems.add("could not look the acknowledged transfers up");
                return problems;
            }
            for (var r : found.getResultsList()) {
                if (r.getStatus() != LookupStatus.LOOKUP_FOUND) {
                    problems.add("acknowledged transfer " + r.getId() + " is " + r.getStatus());
                } else if (r.getTransfer().getAmount() != acknowledged.get(r.getId())) {
                    problems.add("transfer " + r.getId() + " has amount " + r.getTransfer().getAmount() + ", acknowledged "
                            + acknowledged.get(r.getId()));
                }
                if (problems.size() > 20) {
                    return problems;
                }
            }
        }
        return problems;
    }

    @Override
    public void close() {
        stop();
    }
}
