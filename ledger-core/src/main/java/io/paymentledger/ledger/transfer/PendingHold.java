package io.paymentledger.ledger.transfer;

/** A pending transfer and what is left of it. Mutated only by the writer. */
public final class PendingHold {

    private final TransferRow transfer;
    private final long expiresAtNs;
    long remaining;
    long posted;
    PendingState state;

    public PendingHold(TransferRow transfer, long remaining, long posted, PendingState state, long expiresAtNs) {
        this.transfer = transfer;
        this.remaining = remaining;
        this.posted = posted;
        this.state = state;
        this.expiresAtNs = expiresAtNs;
    }

    public TransferRow transfer() { return transfer; }
    public long remaining() { return remaining; }
    public long posted() { return posted; }
    public PendingState state() { return state; }
    /** 0 when the hold never expires. */
    public long expiresAtNs() { return expiresAtNs; }

    public boolean isExpiredAt(long nowNs) {
        return state == PendingState.HELD && expiresAtNs > 0 && nowNs >= expiresAtNs;
    }

    /** Snapshot for the undo log. */
    public Snapshot snapshot() {
        return new Snapshot(remaining, posted, state);
    }

    public void restore(Snapshot s) {
        remaining = s.remaining();
        posted = s.posted();
        state = s.state();
    }

    /** Posts part or all of what is held. A hold is never posted once released, nor beyond what it holds. */
    public void post(long amount) {
        if (state != PendingState.HELD || amount < 0 || amount > remaining) {
            throw new io.paymentledger.ledger.write.LedgerBug("hold " + transfer.id() + " posted " + amount + " while "
                    + state + " with " + remaining + " left");
        }
        remaining -= amount;
        posted += amount;
        if (remaining == 0) {
            state = PendingState.POSTED;
        }
    }

    /** Releases what is left; returns the released amount. */
    public long release(PendingState why) {
        if (state != PendingState.HELD || why == PendingState.HELD || why == PendingState.POSTED) {
            throw new io.paymentledger.ledger.write.LedgerBug("hold " + transfer.id() + " released as " + why + " while " + state);
        }
        long released = remaining;
        remaining = 0;
        state = why;
        return released;
    }

    public record Snapshot(long remaining, long posted, PendingState state) {}
}
