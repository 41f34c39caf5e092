package io.paymentledger.ledger.events;

import io.paymentledger.ledger.transfer.TransferFlags;
import io.paymentledger.ledger.transfer.TransferRow;

/**
 * What an event says happened; one per journal row (an account, or a transfer). Names map 1:1 to the proto's
 * {@code EVENT_TYPE_*}. Payments are transfers that carry a payment id: the authorisation is its hold, a capture a
 * post of it, a void a void of it, a refund a plain transfer merchant to payer, an expiry the ledger's release.
 */
public enum EventType {
    ACCOUNT_CREATED,
    TRANSFER_POSTED,
    PENDING_CREATED,
    PENDING_POSTED,
    PENDING_VOIDED,
    PENDING_EXPIRED,
    PAYMENT_AUTHORIZED,
    PAYMENT_CAPTURED,
    PAYMENT_VOIDED,
    PAYMENT_REFUNDED,
    PAYMENT_EXPIRED;

    public boolean isPayment() {
        return name().startsWith("PAYMENT_");
    }

    /** The type of the event a transfer row is. */
    public static EventType of(TransferRow t) {
        boolean payment = t.paymentId() != null;
        if (t.has(TransferFlags.EXPIRY)) {
            return payment ? PAYMENT_EXPIRED : PENDING_EXPIRED;
        }
        if (t.has(TransferFlags.VOID_PENDING)) {
            return payment ? PAYMENT_VOIDED : PENDING_VOIDED;
        }
        if (t.has(TransferFlags.POST_PENDING)) {
            return payment ? PAYMENT_CAPTURED : PENDING_POSTED;
        }
        if (t.has(TransferFlags.PENDING)) {
            return payment ? PAYMENT_AUTHORIZED : PENDING_CREATED;
        }
        return payment ? PAYMENT_REFUNDED : TRANSFER_POSTED;
    }
}
