package io.paymentledger.ledger.account;

/** An account's four balances, in minor units. The account's net balance is credits - debits. */
public record Balance(long debitsPending, long debitsPosted, long creditsPending, long creditsPosted) {

    public static final Balance ZERO = new Balance(0, 0, 0, 0);
}
