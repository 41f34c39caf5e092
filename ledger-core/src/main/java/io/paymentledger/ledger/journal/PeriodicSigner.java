package io.paymentledger.ledger.journal;

import io.paymentledger.security.journal.JournalSigner;
import java.util.function.LongSupplier;

/** Signs a checkpoint at most once per {@code intervalMs} (the first batch after the interval gets it). */
public final class PeriodicSigner implements CheckpointSigner {

    private final JournalSigner signer;
    private final String identity;
    private final long intervalNanos;
    private final LongSupplier nanoClock;
    private long lastNanos;
    private boolean first = true;

    public PeriodicSigner(JournalSigner signer, String identity, long intervalMs, LongSupplier nanoClock) {
        this.signer = signer;
        this.identity = identity;
        this.intervalNanos = intervalMs * 1_000_000L;
        this.nanoClock = nanoClock;
    }

    @Override
    public Checkpoint sign(long seq, byte[] hash) {
        long now = nanoClock.getAsLong();
        if (!first && now - lastNanos < intervalNanos) {
            return null;
        }
        first = false;
        lastNanos = now;
        var s = signer.sign(hash);
        return new Checkpoint(identity, s.algorithm(), s.publicKey(), s.signature());
    }
}
