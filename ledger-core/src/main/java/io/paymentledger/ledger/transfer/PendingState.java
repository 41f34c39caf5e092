package io.paymentledger.ledger.transfer;

/** The life of a hold. Codes are stored in pending_transfer.state. */
public enum PendingState {
    HELD(1), POSTED(2), VOIDED(3), EXPIRED(4);

    public final short code;

    PendingState(int code) {
        this.code = (short) code;
    }

    public static PendingState of(short code) {
        for (PendingState s : values()) {
            if (s.code == code) {
                return s;
            }
        }
        throw new IllegalArgumentException("unknown pending state " + code);
    }
}
