package io.paymentledger.cli.bench;

import io.paymentledger.api.v1.Balance;
import io.paymentledger.api.v1.Transfer;

/**
 * What the run's accounts must hold, from the client's side: every accepted transfer's effect, added up per
 * account. Four longs per account and nothing per transfer, so memory stays bounded however long the run.
 */
final class Expected {

    /** How a transfer moves balances (the same rules as LedgerChecks.balancesMatchTransfers). */
    enum Effect {
        /** debits_posted / credits_posted += amount */
        POSTED,
        /** a hold: debits_pending / credits_pending += amount */
        PENDING,
        /** a capture: pending -= amount, posted += amount */
        POST_PENDING,
        /** a void: pending -= amount (the released remainder) */
        VOID_PENDING
    }

    private final long[] debitsPending;
    private final long[] debitsPosted;
    private final long[] creditsPending;
    private final long[] creditsPosted;

    Expected(int accounts) {
        debitsPending = new long[accounts];
        debitsPosted = new long[accounts];
        creditsPending = new long[accounts];
        creditsPosted = new long[accounts];
    }

    int accounts() {
        return debitsPosted.length;
    }

    /** Callers that apply many effects at once hold the monitor of this object around them. */
    synchronized void apply(Effect effect, int debit, int credit, long amount) {
        switch (effect) {
            case POSTED -> {
                debitsPosted[debit] += amount;
                creditsPosted[credit] += amount;
            }
            case PENDING -> {
                debitsPending[debit] += amount;
                creditsPending[credit] += amount;
            }
            case POST_PENDING -> {
                debitsPending[debit] -= amount;
                debitsPosted[debit] += amount;
                creditsPending[credit] -= amount;
                creditsPosted[credit] += amount;
            }
            case VOID_PENDING -> {
                debitsPending[debit] -= amount;
                creditsPending[credit] -= amount;
            }
        }
    }

    static Effect effectOf(Transfer t) {
        if (t.getFlags().getPending()) {
            return Effect.PENDING;
        }
        if (t.getFlags().getPostPending()) {
            return Effect.POST_PENDING;
        }
        if (t.getFlags().getVoidPending()) {
            return Effect.VOID_PENDING;
        }
        return Effect.POSTED;
    }

    synchronized Balance balance(int account) {
        return Balance.newBuilder().setDebitsPending(debitsPending[account]).setDebitsPosted(debitsPosted[account])
                .setCreditsPending(creditsPending[account]).setCreditsPosted(creditsPosted[account]).build();
    }

    /** For the test that proves the check notices a wrong balance. */
    synchronized void corruptForTest(int account) {
        creditsPosted[account] += 1;
    }
}
