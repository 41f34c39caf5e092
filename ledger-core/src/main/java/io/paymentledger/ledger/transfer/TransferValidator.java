package io.paymentledger.ledger.transfer;

import io.paymentledger.ledger.Limits;
import io.paymentledger.ledger.validation.Currencies;
import io.paymentledger.ledger.validation.Ids;
import io.paymentledger.ledger.validation.Metadata;

/** Checks of a transfer that need no state. Run on the request threads, before the writer sees the item. */
public final class TransferValidator {

    private TransferValidator() {}

    /** The first problem with the spec, or null when it is well formed. */
    public static TransferStatus check(TransferSpec t) {
        if (!Ids.isValid(t.id())) {
            return TransferStatus.INVALID_ID;
        }
        if ((t.flags() & TransferFlags.EXPIRY) != 0) {
            return TransferStatus.FLAGS_MUTUALLY_EXCLUSIVE;
        }
        int kinds = Integer.bitCount(t.flags() & (TransferFlags.PENDING | TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING));
        if (kinds > 1) {
            return TransferStatus.FLAGS_MUTUALLY_EXCLUSIVE;
        }
        boolean resolves = t.has(TransferFlags.POST_PENDING) || t.has(TransferFlags.VOID_PENDING);
        if (resolves) {
            if (t.pendingId().isEmpty()) {
                return TransferStatus.PENDING_ID_REQUIRED;
            }
            if (!Ids.isValid(t.pendingId())) {
                return TransferStatus.INVALID_PENDING_ID;
            }
            if (t.pendingId().equals(t.id())) {
                return TransferStatus.PENDING_ID_MUST_BE_DIFFERENT;
            }
        } else if (!t.pendingId().isEmpty()) {
            return TransferStatus.PENDING_ID_MUST_BE_EMPTY;
        }
        // Post/void may leave accounts empty: they come from the pending transfer.
        if (!(resolves && t.debitAccountId().isEmpty()) && !Ids.isValid(t.debitAccountId())) {
            return TransferStatus.INVALID_DEBIT_ACCOUNT_ID;
        }
        if (!(resolves && t.creditAccountId().isEmpty()) && !Ids.isValid(t.creditAccountId())) {
            return TransferStatus.INVALID_CREDIT_ACCOUNT_ID;
        }
        if (!t.debitAccountId().isEmpty() && t.debitAccountId().equals(t.creditAccountId())) {
            return TransferStatus.ACCOUNTS_MUST_BE_DIFFERENT;
        }
        if (t.has(TransferFlags.VOID_PENDING)) {
            if (t.amount() != 0) {
                return TransferStatus.VOID_AMOUNT_MUST_BE_ZERO;
            }
        } else if (t.amount() <= 0) {
            return TransferStatus.AMOUNT_MUST_BE_POSITIVE;
        }
        if (!(resolves && t.currency().isEmpty()) && !Currencies.isKnown(t.currency())) {
            return TransferStatus.INVALID_CURRENCY;
        }
        if (t.timeoutSeconds() != 0 && !t.has(TransferFlags.PENDING)) {
            return TransferStatus.TIMEOUT_RESERVED_FOR_PENDING;
        }
        if (t.timeoutSeconds() < 0 || t.timeoutSeconds() > Limits.TIMEOUT_SECONDS_MAX) {
            return TransferStatus.TIMEOUT_TOO_LONG;
        }
        if (!Metadata.isValid(t.metadata())) {
            return TransferStatus.INVALID_METADATA;
        }
        return null;
    }
}
