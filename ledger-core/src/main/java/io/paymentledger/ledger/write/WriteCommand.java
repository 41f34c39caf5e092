package io.paymentledger.ledger.write;

import io.paymentledger.ledger.Caller;
import io.paymentledger.ledger.account.AccountSpec;
import io.paymentledger.ledger.account.AccountStatus;
import io.paymentledger.ledger.payment.PaymentRole;
import io.paymentledger.ledger.transfer.TransferSpec;
import io.paymentledger.ledger.transfer.TransferStatus;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * One request for the single writer. Items of a command are applied in order; commands are applied in the
 * order they were queued. {@code deadlineNanos} is on the {@link System#nanoTime()} scale (0 = none): a
 * command whose deadline passed before the writer took it is answered DEADLINE_EXCEEDED and writes nothing.
 */
public sealed interface WriteCommand {

    Caller caller();

    long deadlineNanos();

    /** How many items this command adds to a batch. */
    int size();

    /** Fails the command without writing anything. */
    void fail(Throwable cause);

    /**
     * @param preChecked per item: the stateless validation's verdict, or null when the item is well formed
     */
    record CreateAccounts(Caller caller, List<AccountSpec> accounts, AccountStatus[] preChecked, long deadlineNanos,
            CompletableFuture<List<AccountResult>> result) implements WriteCommand {
        public int size() { return accounts.size(); }
        public void fail(Throwable cause) { result.completeExceptionally(cause); }
    }

    record CreateTransfers(Caller caller, List<TransferSpec> transfers, TransferStatus[] preChecked, long deadlineNanos,
            CompletableFuture<List<TransferResult>> result) implements WriteCommand {
        public int size() { return transfers.size(); }
        public void fail(Throwable cause) { result.completeExceptionally(cause); }
    }

    /**
     * A payments call. For CAPTURE / VOID / REFUND the transfer's accounts and currency are filled in by the
     * writer from the payment.
     */
    record Payment(Caller caller, PaymentRole role, TransferSpec transfer, long deadlineNanos,
            CompletableFuture<PaymentOutcome> result) implements WriteCommand {
        public int size() { return 1; }
        public void fail(Throwable cause) { result.completeExceptionally(cause); }
    }
}
