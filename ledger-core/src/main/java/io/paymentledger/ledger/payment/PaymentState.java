package io.paymentledger.ledger.payment;

import java.util.Map;

/** A payment's amounts as the writer keeps them. Mutated only by the writer. */
public final class PaymentState {

    /** Why the rest of the hold was released. */
    public static final short RELEASED_NONE = 0;
    public static final short RELEASED_VOIDED = 1;
    public static final short RELEASED_EXPIRED = 2;

    private final String id;
    private final String payerAccountId;
    private final String merchantAccountId;
    private final String currency;
    private final long authorizedAmount;
    private final long authorizedAtNs;
    private final long expiresAtNs;
    private final Map<String, String> metadata;
    long capturedAmount;
    long refundedAmount;
    long releasedAmount;
    short releaseReason;

    public PaymentState(String id, String payerAccountId, String merchantAccountId, String currency, long authorizedAmount,
            long capturedAmount, long refundedAmount, long releasedAmount, long authorizedAtNs, long expiresAtNs,
            short releaseReason, Map<String, String> metadata) {
        this.id = id;
        this.payerAccountId = payerAccountId;
        this.merchantAccountId = merchantAccountId;
        this.currency = currency;
        this.authorizedAmount = authorizedAmount;
        this.capturedAmount = capturedAmount;
        this.refundedAmount = refundedAmount;
        this.releasedAmount = releasedAmount;
        this.authorizedAtNs = authorizedAtNs;
        this.expiresAtNs = expiresAtNs;
        this.releaseReason = releaseReason;
        this.metadata = Map.copyOf(metadata);
    }

    public String id() { return id; }
    public String payerAccountId() { return payerAccountId; }
    public String merchantAccountId() { return merchantAccountId; }
    public String currency() { return currency; }
    public long authorizedAmount() { return authorizedAmount; }
    public long capturedAmount() { return capturedAmount; }
    public long refundedAmount() { return refundedAmount; }
    public long releasedAmount() { return releasedAmount; }
    public long authorizedAtNs() { return authorizedAtNs; }
    public long expiresAtNs() { return expiresAtNs; }
    public short releaseReason() { return releaseReason; }
    public Map<String, String> metadata() { return metadata; }

    public long heldAmount() {
        return authorizedAmount - capturedAmount - releasedAmount;
    }

    public PaymentView view() {
        return new PaymentView(id, payerAccountId, merchantAccountId, currency, authorizedAmount, capturedAmount,
                refundedAmount, releasedAmount, authorizedAtNs, expiresAtNs, releaseReason, metadata);
    }

    public void restore(PaymentView v) {
        capturedAmount = v.capturedAmount();
        refundedAmount = v.refundedAmount();
        releasedAmount = v.releasedAmount();
        releaseReason = v.releaseReason();
    }

    public void captured(long amount) {
        capturedAmount += amount;
    }

    public void refunded(long amount) {
        refundedAmount += amount;
    }

    public void released(long amount, short reason) {
        releasedAmount += amount;
        releaseReason = reason;
    }
}
