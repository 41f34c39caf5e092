package io.paymentledger.ledger.transfer;

/** Bits of transfer.flags. */
public final class TransferFlags {

    public static final int LINKED = 1;
    public static final int PENDING = 1 << 1;
    public static final int POST_PENDING = 1 << 2;
    public static final int VOID_PENDING = 1 << 3;
    /** Written by the ledger itself when a hold times out; never accepted from clients. */
    public static final int EXPIRY = 1 << 4;

    private TransferFlags() {}

    public static boolean has(int flags, int flag) {
        return (flags & flag) != 0;
    }

    /** Post or void: acts on a pending transfer. */
    public static boolean resolvesPending(int flags) {
        return (flags & (POST_PENDING | VOID_PENDING | EXPIRY)) != 0;
    }
}
