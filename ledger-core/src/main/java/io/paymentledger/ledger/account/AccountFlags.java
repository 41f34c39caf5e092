package io.paymentledger.ledger.account;

/** Bits of account.flags. */
public final class AccountFlags {

    public static final int DEBITS_MUST_NOT_EXCEED_CREDITS = 1;
    public static final int CREDITS_MUST_NOT_EXCEED_DEBITS = 1 << 1;

    private AccountFlags() {}

    public static boolean has(int flags, int flag) {
        return (flags & flag) != 0;
    }
}
