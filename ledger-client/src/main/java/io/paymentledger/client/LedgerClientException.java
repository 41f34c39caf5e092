package io.paymentledger.client;

import io.vertx.grpc.common.GrpcStatus;

/**
 * A call that did not end with an answer: the gRPC status and message of its last attempt, and whether what it
 * asked for may have been applied anyway. When {@link #outcomeUnknown()} is true, call again with the same ids:
 * the ledger answers EXISTS for what was applied and applies the rest, never twice.
 */
public final class LedgerClientException extends RuntimeException {

    private final GrpcStatus status;
    private final boolean outcomeUnknown;
    private final int attempts;

    public LedgerClientException(GrpcStatus status, String message, boolean outcomeUnknown, int attempts) {
        super(status + ": " + message + (outcomeUnknown ? " (it may or may not have been applied: retry with the same ids)" : "")
                + " after " + attempts + " attempt(s)", null, false, false);
        this.status = status;
        this.outcomeUnknown = outcomeUnknown;
        this.attempts = attempts;
    }

    public GrpcStatus status() {
        return status;
    }

    public boolean outcomeUnknown() {
        return outcomeUnknown;
    }

    public int attempts() {
        return attempts;
    }
}
