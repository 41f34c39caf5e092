package io.paymentledger.ledger;

/**
 * Who is asking, as the ledger's authorisation sees it: the platform operator (every account), or one
 * merchant (only what it owns). Built from the peer's certificate or API key by the gRPC layer.
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

    /** May this caller act for an account owned by {@code owner}? */
    public boolean owns(String owner) {
        return isOperator() || merchantId.equals(owner);
    }

    @Override
    public String toString() {
        return isOperator() ? "operator" : "merchant:" + merchantId;
    }
}
