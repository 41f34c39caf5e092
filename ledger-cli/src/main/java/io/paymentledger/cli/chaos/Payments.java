package io.paymentledger.cli.chaos;

import io.paymentledger.api.v1.Account;
import io.paymentledger.api.v1.AuthorizeRequest;
import io.paymentledger.api.v1.CaptureRequest;
import io.paymentledger.api.v1.CreateAccountsRequest;
import io.paymentledger.api.v1.CreateAccountsResponse;
import io.paymentledger.api.v1.GetPaymentRequest;
import io.paymentledger.api.v1.LedgerServiceGrpcClient;
import io.paymentledger.api.v1.PaymentResponse;
import io.paymentledger.api.v1.PaymentResult;
import io.paymentledger.api.v1.PaymentsServiceGrpcClient;
import io.paymentledger.api.v1.ReadConsistency;
import io.paymentledger.api.v1.ReadOptions;
import io.paymentledger.api.v1.RefundRequest;
import io.paymentledger.api.v1.VoidRequest;
import io.paymentledger.cli.chaos.History.Outcome;
import io.paymentledger.cli.chaos.History.PaymentCall;
import io.paymentledger.cli.chaos.History.PaymentRead;
import io.paymentledger.cli.chaos.History.PaymentStep;
import io.vertx.core.Future;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * Payments as a merchant makes them during a chaos run, through the region router: authorise, capture part, capture
 * more, then void the rest or capture too much (a refusal that must never appear in the ledger), then refund part;
 * one payment in four lapses after {@link #SHORT_EXPIRY_S} s, so its expiry races the captures. Every call is retried
 * with its own id until the ledger answers (as a merchant retries); after every step a linearizable GetPayment reads the
 * payment back. Everything goes into the {@link History}: the steps and what each read showed, which
 * {@link HistoryChecker} judges against the ledger afterwards.
 */
public final class Payments implements AutoCloseable {

    /** Each call's deadline (through the router it may wait out a failover). */
    static final long CALL_TIMEOUT_MS = 10_000;
    /** The client waits this much longer than the deadline for the answer. */
    static final long CALL_WAIT_MARGIN_MS = 1_000;
    /** A call is retried (same id) for this long at most, unless the run is stopping. */
    static final long GIVE_UP_MS = 60_000;
    /** One payment in {@link #SHORT_EXPIRY_SHARE} lapses after this many seconds (the others after an hour). */
    static final int SHORT_EXPIRY_S = 2;
    static final int SHORT_EXPIRY_SHARE = 4;
    static final int LONG_EXPIRY_S = 3_600;
    static final String CURRENCY = "EUR";
    /** Pause between two payments of one worker. */
    static final long PAUSE_MS = 20;

    private static final ReadOptions LINEARIZABLE = ReadOptions.newBuilder()
            .setConsistency(ReadConsistency.READ_CONSISTENCY_LINEARIZABLE).build();

    private final GrpcClient grpc;
    private final Supplier<SocketAddress> target;
    private final History history;
    private final String runId;
    private final String owner;
    private final int workers;
    private final AtomicBoolean running = new AtomicBoolean();
    private volatile long giveUpAtNanos;
    private final List<Thread> threads = new ArrayList<>();
    private final Map<String, Long> errors = new ConcurrentHashMap<>();

    public Payments(GrpcClient grpc, Supplier<SocketAddress> target, History history, String runId, String owner, int workers) {
        this.grpc = grpc;
        this.target = target;
        this.history = history;
        this.runId = runId;
        this.owner = owner;
        this.workers = workers;
    }

    /** The account payments are authorised from (may go below zero: a card's issuer, as the bench's payers). */
    public String payer() {
        return runId + "-pay-payer";
    }

    /** The merchant account payments credit. */
    public String merchant() {
        return runId + "-pay-merchant";
    }

    /** Creates the two accounts (idempotent; retried for up to a minute). */
    public void setUp() {
        CreateAccountsRequest req = CreateAccountsRequest.newBuilder()
                .addAccounts(Account.newBuilder().setId(payer()).setCurrency(CURRENCY).setCode(1).setOwner(owner))
                .addAccounts(Account.newBuilder().setId(merchant()).setCurrency(CURRENCY).setCode(2).setOwner(owner))
                .build();
        Answer<CreateAccountsResponse> a = retrying(LedgerServiceGrpcClient.CreateAccounts, req, 60_000);
        if (a.response() == null) {
            throw new IllegalStateException("could not create the payments accounts: " + a.error());
        }
    }

    public void start() {
        running.set(true);
        for (int w = 0; w < workers; w++) {
            int worker = w;
            threads.add(Thread.ofPlatform().name("chaos-payments-" + w).daemon(true).start(() -> work(worker)));
        }
    }

    private void work(int worker) {
        Random random = new Random(worker * 104_729L + runId.hashCode());
        for (long n = 0; running.get(); n++) {
            runOne(runId + "-pay-" + worker + "-" + n, random);
            sleep(PAUSE_MS);
        }
    }

    /** One payment's life; stops at the first step whose outcome is unknown (what follows would depend on it). */
    private void runOne(String paymentId, Random random) {
        long authorized = 300 + random.nextInt(700);
        boolean lapses = random.nextInt(SHORT_EXPIRY_SHARE) == 0;
        Outcome auth = step(paymentId, paymentId, PaymentCall.AUTHORIZE, authorized, PaymentsServiceGrpcClient.Authorize,
                AuthorizeRequest.newBuilder().setPaymentId(paymentId).setPayerAccountId(payer()).setMerchantAccountId(merchant())
                        .setAmount(authorized).setCurrency(CURRENCY).setExpiresInSeconds(lapses ? SHORT_EXPIRY_S : LONG_EXPIRY_S).build());
        read(paymentId);
        if (auth != Outcome.ACKED) {
            return;
        }
        if (lapses) {
            sleep(random.nextInt(SHORT_EXPIRY_S * 1_500)); // the capture races the expiry
        }
        // Once the run stops, no new step: the one in flight settles (retried), the rest of the payment is not sent.
        long first = authorized / 3;
        long captured = 0;
        if (!running.get()) {
            return;
        }
        Outcome c1 = capture(paymentId, paymentId + "-c1", first);
        if (c1 == Outcome.UNKNOWN) {
            return;
        }
        captured += c1 == Outcome.ACKED ? first : 0;
        long second = authorized / 4;
        if (!running.get()) {
            return;
        }
        Outcome c2 = capture(paymentId, paymentId + "-c2", second);
        if (c2 == Outcome.UNKNOWN) {
            return;
        }
        captured += c2 == Outcome.ACKED ? second : 0;
        if (!running.get()) {
            return;
        }
        if (random.nextBoolean()) {
            Outcome v = step(paymentId, paymentId + "-v", PaymentCall.VOID, 0, PaymentsServiceGrpcClient.VoidPayment,
                    VoidRequest.newBuilder().setPaymentId(paymentId).setVoidId(paymentId + "-v").build());
            read(paymentId);
            if (v == Outcome.UNKNOWN) {
                return;
            }
        } else {
            // More than is still held: the ledger must refuse it, and it must never appear.
            Outcome c3 = capture(paymentId, paymentId + "-c3", authorized);
            if (c3 == Outcome.UNKNOWN) {
                return;
            }
        }
        if (!running.get()) {
            return;
        }
        if (captured > 1) {
            long refund = captured / 2;
            step(paymentId, paymentId + "-r1", PaymentCall.REFUND, refund, PaymentsServiceGrpcClient.Refund,
                    RefundRequest.newBuilder().setPaymentId(paymentId).setRefundId(paymentId + "-r1").setAmount(refund).build());
            read(paymentId);
        }
    }

    private Outcome capture(String paymentId, String captureId, long amount) {
        Outcome o = step(paymentId, captureId, PaymentCall.CAPTURE, amount, PaymentsServiceGrpcClient.Capture,
                CaptureRequest.newBuilder().setPaymentId(paymentId).setCaptureId(captureId).setAmount(amount).build());
        read(paymentId);
        return o;
    }

    private <Req> Outcome step(String paymentId, String callId, PaymentCall call, long amount,
            ServiceMethod<PaymentResponse, Req> method, Req request) {
        long invoked = System.nanoTime();
        Answer<PaymentResponse> a = retrying(method, request, GIVE_UP_MS);
        long completed = System.nanoTime();
        Outcome outcome;
        String detail;
        if (a.response() == null) {
            outcome = Outcome.UNKNOWN;
            detail = "given up: " + a.error();
        } else {
            PaymentResult r = a.response().getResult();
            detail = r.name();
            outcome = r == PaymentResult.PAYMENT_RESULT_OK || r == PaymentResult.PAYMENT_RESULT_EXISTS ? Outcome.ACKED
                    // The same call with the same fields never differs: if the ledger says so, nobody can tell what happened.
                    : r == PaymentResult.PAYMENT_RESULT_EXISTS_WITH_DIFFERENT_FIELDS ? Outcome.UNKNOWN
                    : Outcome.REFUSED;
        }
        history.add(new PaymentStep(paymentId, callId, call, amount, invoked, completed, outcome, detail));
        return outcome;
    }

    /** A linearizable GetPayment; only an answered read goes into the history. */
    private void read(String paymentId) {
        long invoked = System.nanoTime();
        Answer<PaymentResponse> a = once(PaymentsServiceGrpcClient.GetPayment,
                GetPaymentRequest.newBuilder().setPaymentId(paymentId).setRead(LINEARIZABLE).build());
        long completed = System.nanoTime();
        PaymentResponse r = a.response();
        if (r == null) {
            return;
        }
        if (r.getResult() == PaymentResult.PAYMENT_RESULT_PAYMENT_NOT_FOUND) {
            history.add(new PaymentRead(paymentId, false, 0, 0, invoked, completed));
        } else if (r.hasPayment()) {
            history.add(new PaymentRead(paymentId, true, r.getPayment().getCapturedAmount(), r.getPayment().getRefundedAmount(),
                    invoked, completed));
        }
    }

    /** An answer, or why there was none. */
    record Answer<T>(T response, String error) {}

    /** One call with its deadline sent along. */
    <Req, Resp> Answer<Resp> once(ServiceMethod<Resp, Req> method, Req request) {
        try {
            Resp r = grpc.request(target.get(), method).compose(req -> {
                req.timeout(CALL_TIMEOUT_MS, TimeUnit.MILLISECONDS);
                req.end(request);
                return req.response().compose(resp -> resp.last().compose(last -> resp.status() == null
                        || resp.status() == GrpcStatus.OK ? Future.succeededFuture(last)
                        : Future.failedFuture(resp.status().name())));
            }).await(CALL_TIMEOUT_MS + CALL_WAIT_MARGIN_MS, TimeUnit.MILLISECONDS);
            return new Answer<>(r, "");
        } catch (Exception e) {
            String why = io.paymentledger.cli.drill.Workload.describe(e);
            errors.merge(why, 1L, Long::sum);
            return new Answer<>(null, why);
        }
    }

    /** The same call (same id) until it is answered, for {@code giveUpMs} at most, or until the run gives up. */
    private <Req, Resp> Answer<Resp> retrying(ServiceMethod<Resp, Req> method, Req request, long giveUpMs) {
        long deadline = System.nanoTime() + giveUpMs * 1_000_000L;
        long backoffMs = 20;
        while (true) {
            Answer<Resp> a = once(method, request);
            long giveUpAt = giveUpAtNanos;
            if (a.response() != null || System.nanoTime() - deadline > 0 || (giveUpAt != 0 && System.nanoTime() - giveUpAt > 0)) {
                return a;
            }
            sleep(backoffMs);
            backoffMs = Math.min(250, backoffMs * 2);
        }
    }

    /** What the calls failed with (each retried with the same id). */
    public Map<String, Long> errors() {
        return Map.copyOf(errors);
    }

    /**
     * Stops starting payments; calls in flight are retried for at most {@code settle} more, then given up (unknown).
     * Returns within {@code settle} plus one call's deadline and the pause.
     */
    public void stop(Duration settle) {
        giveUpAtNanos = System.nanoTime() + settle.toNanos();
        running.set(false);
        long joinBy = System.nanoTime() + settle.toNanos() + (CALL_TIMEOUT_MS + CALL_WAIT_MARGIN_MS + 1_000) * 1_000_000L
                + SHORT_EXPIRY_S * 1_500L * 1_000_000L;
        for (Thread t : threads) {
            try {
                t.join(Math.max(1, (joinBy - System.nanoTime()) / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public void close() {
        stop(Duration.ZERO);
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
