package io.paymentledger.ledger.journal;

/**
 * Signs journal checkpoints: now and then the leader signs the hash of the batch it commits, with its region's
 * key, so that rewriting the journal also requires that key. {@link #NONE} signs nothing.
 */
public interface CheckpointSigner {

    /**
     * A signature over a batch's journal hash.
     *
     * @param certificate the DER of the signer's X.509 certificate (holding {@code publicKey}), so that the
     *                    checkpoint can be verified against the CA after the signer's certificate was renewed;
     *                    null if the signer has none
     */
    record Checkpoint(String signer, String algorithm, byte[] publicKey, byte[] signature, byte[] certificate) {}

    /** Signs {@code hash} (the journal hash of batch {@code seq}), or returns null to skip this batch. */
    Checkpoint sign(long seq, byte[] hash);

    CheckpointSigner NONE = (seq, hash) -> null;
}
