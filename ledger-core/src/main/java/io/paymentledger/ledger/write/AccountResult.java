package io.paymentledger.ledger.write;

import io.paymentledger.ledger.account.AccountStatus;

/** The answer for one account of a CreateAccounts request. */
public record AccountResult(int index, String id, AccountStatus status, long timestampNs) {}
