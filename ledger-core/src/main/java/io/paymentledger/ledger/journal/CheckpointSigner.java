package io.paymentledger.ledger.journal;

/**
 * Signs journal checkpoints: now and then the leader signs the hash of the batch it commits, with its region's
 * key, so that rewriting the journal also requires that key. {@link #NONE} signs nothing.
 */
public interface CheckpointSigner {

    /** A signature over a batch's journal hash. */
    record Checkpoint(String signer, String algorithm, byte[] publicKey, byte[] signature) {}

    /** Signs {@code hash} (the journal hash of batch {@code seq}), or returns null to skip this batch. */
    Checkpoint sign(long seq, byte[] hash);

    CheckpointSigner NONE = (seq, hash) -> null;
}
