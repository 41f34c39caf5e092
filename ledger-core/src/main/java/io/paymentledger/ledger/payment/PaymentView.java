package io.paymentledger.ledger.payment;

import java.util.Map;

/** An immutable picture of a payment, for answers and reads. */
public record PaymentView(String id, String payerAccountId, String merchantAccountId, String currency,
        long authorizedAmount, long capturedAmount, long refundedAmount, long releasedAmount, long authorizedAtNs,
        long expiresAtNs, short releaseReason, Map<String, String> metadata) {

    public long heldAmount() {
        return authorizedAmount - capturedAmount - releasedAmount;
    }

    public enum State { AUTHORIZED, PARTIALLY_CAPTURED, CAPTURED, VOIDED, EXPIRED, REFUNDED }

    public State state() {
        if (capturedAmount > 0 && refundedAmount == capturedAmount && heldAmount() == 0) {
            return State.REFUNDED;
        }
        if (heldAmount() == 0) {
            if (capturedAmount > 0) {
                return State.CAPTURED;
            }
            return releaseReason == PaymentState.RELEASED_EXPIRED ? State.EXPIRED : State.VOIDED;
        }
        return capturedAmount > 0 ? State.PARTIALLY_CAPTURED : State.AUTHORIZED;
    }
}
