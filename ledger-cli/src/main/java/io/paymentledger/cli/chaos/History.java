package io.paymentledger.cli.chaos;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * What a chaos workload's clients saw: every operation with the real-time interval in which it ran
 * ({@link System#nanoTime()} when it was invoked and when its answer arrived) and what it was told. The
 * {@link HistoryChecker} judges it against the ledger's final state; nothing here interprets anything.
 *
 * <p>Only what a client may rely on is recorded as such: a write is {@link Outcome#ACKED} only when the ledger
 * said it was created (or already existed with the same fields), {@link Outcome#REFUSED} only when the ledger
 * refused that item for a reason of its own (insufficient funds, ...), and {@link Outcome#UNKNOWN} for everything
 * else (timeouts, UNAVAILABLE, a cut connection): an unknown write may or may not have happened.
 */
public final class History {

    public enum Outcome { ACKED, REFUSED, UNKNOWN }

    public sealed interface Op permits Write, TransferRead, BalanceRead, PaymentStep, PaymentRead {
        long invokeNanos();

        long completeNanos();
    }

    /**
     * One transfer written (a plain transfer, or the transfer behind a payment call). {@code invokeNanos} is when
     * its FIRST attempt was sent (retries keep the id, so the write may have been committed by any attempt);
     * {@code posts} says whether it adds its amount to the credit account's posted credits (a hold does not).
     */
    public record Write(String transferId, String debitAccountId, String creditAccountId, long amount, boolean posts,
            long invokeNanos, long completeNanos, Outcome outcome, String detail) implements Op {}

    /** A linearizable lookup of one transfer id that answered: found or not found. */
    public record TransferRead(String transferId, boolean found, long invokeNanos, long completeNanos) implements Op {}

    /** A linearizable read of an account's posted credits that answered. */
    public record BalanceRead(String accountId, long creditsPosted, long invokeNanos, long completeNanos) implements Op {}

    /** A payments call (each is one ledger transfer whose id is the call's own id). */
    public enum PaymentCall { AUTHORIZE, CAPTURE, VOID, REFUND }

    /**
     * One payments call as its client saw it: {@code callId} is the transfer id it creates (the payment id for
     * AUTHORIZE); {@code amount} what it asked for (0 for VOID, which releases whatever is still held). ACKED when the
     * ledger answered OK or EXISTS, REFUSED for a business refusal (capture above the authorisation, a void after a
     * void, an expired authorisation...), UNKNOWN when no answer came within the retries.
     */
    public record PaymentStep(String paymentId, String callId, PaymentCall call, long amount, long invokeNanos,
            long completeNanos, Outcome outcome, String detail) implements Op {}

    /** A linearizable GetPayment that answered: {@code found} false when the ledger said PAYMENT_NOT_FOUND. */
    public record PaymentRead(String paymentId, boolean found, long capturedAmount, long refundedAmount, long invokeNanos,
            long completeNanos) implements Op {}

    private final ConcurrentLinkedQueue<Op> ops = new ConcurrentLinkedQueue<>();

    public void add(Op op) {
        if (op.completeNanos() - op.invokeNanos() < 0) {
            throw new IllegalArgumentException("an operation cannot complete before it was invoked: " + op);
        }
        ops.add(op);
    }

    public List<Op> ops() {
        return new ArrayList<>(ops);
    }

    public <T extends Op> List<T> ops(Class<T> kind) {
        return ops.stream().filter(kind::isInstance).map(kind::cast).toList();
    }

    public int size() {
        return ops.size();
    }
}
