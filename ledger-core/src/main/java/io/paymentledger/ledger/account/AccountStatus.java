package io.paymentledger.ledger.account;

/** Outcome of creating one account; one constant per reason, 1:1 with ledger.v1.CreateAccountStatus. */
public enum AccountStatus {
    CREATED,
    EXISTS,
    EXISTS_WITH_DIFFERENT_FIELDS,
    INVALID_ID,
    INVALID_CURRENCY,
    INVALID_OWNER,
    FLAGS_MUTUALLY_EXCLUSIVE,
    INVALID_METADATA,
    BALANCE_MUST_BE_ZERO,
    TIMESTAMP_MUST_BE_ZERO,
    PERMISSION_DENIED,
    INVALID_GRANT;

    public boolean isSuccess() {
        return this == CREATED || this == EXISTS;
    }
}
