package io.paymentledger.ledger.account;

import io.paymentledger.ledger.validation.Currencies;
import io.paymentledger.ledger.validation.Ids;
import io.paymentledger.ledger.validation.Metadata;

/** Checks of an account that need no state; the writer does the rest. */
public final class AccountValidator {

    private AccountValidator() {}

    /** The first problem with the spec, or null when it is well formed. */
    public static AccountStatus check(AccountSpec a) {
        if (!Ids.isValid(a.id())) {
            return AccountStatus.INVALID_ID;
        }
        if (!Currencies.isKnown(a.currency())) {
            return AccountStatus.INVALID_CURRENCY;
        }
        if (!a.owner().isEmpty() && !Ids.isValid(a.owner())) {
            return AccountStatus.INVALID_OWNER;
        }
        if (AccountFlags.has(a.flags(), AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
                && AccountFlags.has(a.flags(), AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)) {
            return AccountStatus.FLAGS_MUTUALLY_EXCLUSIVE;
        }
        if (!Metadata.isValid(a.metadata())) {
            return AccountStatus.INVALID_METADATA;
        }
        return null;
    }
}
