package io.paymentledger.ledger.transfer;

import java.util.Map;

/**
 * A transfer as a client asks for it. {@code paymentId} is set only by the payments API (the payment this
 * transfer belongs to); plain ledger clients never set it.
 */
public record TransferSpec(String id, String debitAccountId, String creditAccountId, long amount, String currency,
        long code, int flags, String pendingId, int timeoutSeconds, Map<String, String> metadata, String paymentId) {

    public TransferSpec {
        metadata = Map.copyOf(metadata);
        debitAccountId = debitAccountId == null ? "" : debitAccountId;
        creditAccountId = creditAccountId == null ? "" : creditAccountId;
        currency = currency == null ? "" : currency;
        pendingId = pendingId == null ? "" : pendingId;
    }

    public boolean has(int flag) {
        return TransferFlags.has(flags, flag);
    }

    /** The idempotency rule: the same id with the same fields is the same transfer. */
    public boolean sameFieldsAs(TransferRow t) {
        boolean resolves = TransferFlags.resolvesPending(flags);
        // Post/void may leave accounts and currency empty (they inherit them from the pending transfer);
        // a void's amount is what it released, the client sends 0.
        return flags == t.flags()
                && (debitAccountId.equals(t.debitAccountId()) || (resolves && debitAccountId.isEmpty()))
                && (creditAccountId.equals(t.creditAccountId()) || (resolves && creditAccountId.isEmpty()))
                && (currency.equals(t.currency()) || (resolves && currency.isEmpty()))
                && (amount == t.amount() || (has(TransferFlags.VOID_PENDING) && amount == 0))
                && code == t.code()
                && pendingId.equals(t.pendingId() == null ? "" : t.pendingId())
                && timeoutSeconds == t.timeoutSeconds()
                && metadata.equals(t.metadata())
                && java.util.Objects.equals(paymentId, t.paymentId());
    }
}
