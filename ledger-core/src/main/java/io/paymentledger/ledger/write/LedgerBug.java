package io.paymentledger.ledger.write;

/**
 * A broken invariant at a money boundary (a batch that does not sum to zero, a batch over its limits): a bug in
 * the ledger, never a bad request. The writer answers the batch UNAVAILABLE, writes nothing, and stops leading
 * (the fault listener hears it), loudly, rather than write money that does not add up.
 */
public final class LedgerBug extends Error {
    public LedgerBug(String message) {
        super(message);
    }
}
