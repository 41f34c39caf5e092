package io.paymentledger.ledger.write;

/**
 * A command the writer did not apply at all; nothing of it was written. {@code reason} maps to the gRPC status
 * the caller gets.
 */
public final class WriteRejected extends RuntimeException {

    public enum Reason {
        /** Not the leader, fenced, or the database failed: retry (the router does). */
        UNAVAILABLE,
        /** The write queue is full: back off and retry. */
        OVERLOADED,
        /** The caller's deadline passed before the writer reached the command. */
        DEADLINE_EXCEEDED
    }

    private final Reason reason;

    public WriteRejected(Reason reason, String message) {
        super(message, null, false, false);
        this.reason = reason;
    }

    public WriteRejected(Reason reason, String message, Throwable cause) {
        super(message, cause, false, false);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
