package io.paymentledger.ledger;

/**
 * Who is asking, as the ledger's authorisation sees it: the platform operator (every account), or one
 * merchant. Built from the peer's certificate or API key by the gRPC layer; what it may do is decided by
 * {@link io.paymentledger.ledger.access.Access} alone.
 */
public record Caller(String merchantId) {

    public static final Caller OPERATOR = new Caller(null);

    public static Caller merchant(String id) {
        if (id == null || id.isEmpty()) {
            throw new IllegalArgumentException("merchant id required");
        }
        return new Caller(id);
    }

    public boolean isOperator() {
        return merchantId == null;
    }

    @Override
    public String toString() {
        return isOperator() ? "operator" : "merchant:" + merchantId;
    }
}
