package io.paymentledger.ledger.support;

import io.paymentledger.api.v1.Account;
import io.paymentledger.api.v1.AccountFlags;
import io.paymentledger.api.v1.Transfer;
import io.paymentledger.api.v1.TransferFlags;
import java.util.concurrent.atomic.AtomicLong;

/** Builders for the messages tests send; ids are unique per JVM so tests never collide. */
public final class Fixtures {

    private static final AtomicLong SEQ = new AtomicLong();

    private Fixtures() {}

    public static String id(String prefix) {
        return prefix + "-" + SEQ.incrementAndGet() + "-" + Long.toHexString(System.nanoTime() & 0xffffff);
    }

    public static Account account(String id, String currency) {
        return Account.newBuilder().setId(id).setCurrency(currency).setCode(1).build();
    }

    /** An account whose debits may not exceed its credits (a wallet that cannot go below zero). */
    public static Account wallet(String id, String currency) {
        return account(id, currency).toBuilder()
                .setFlags(AccountFlags.newBuilder().setDebitsMustNotExceedCredits(true)).build();
    }

    public static Transfer transfer(String id, String debit, String credit, long amount, String currency) {
        return Transfer.newBuilder().setId(id).setDebitAccountId(debit).setCreditAccountId(credit).setAmount(amount)
                .setCurrency(currency).setCode(1).build();
    }

    public static Transfer linked(Transfer t) {
        return t.toBuilder().setFlags(t.getFlags().toBuilder().setLinked(true)).build();
    }

    public static Transfer pending(Transfer t, int timeoutSeconds) {
        return t.toBuilder().setFlags(TransferFlags.newBuilder().setPending(true)).setTimeoutSeconds(timeoutSeconds).build();
    }

    public static Transfer post(String id, String pendingId, long amount) {
        return Transfer.newBuilder().setId(id).setPendingId(pendingId).setAmount(amount).setCode(1)
                .setFlags(TransferFlags.newBuilder().setPostPending(true)).build();
    }

    public static Transfer voidOf(String id, String pendingId) {
        return Transfer.newBuilder().setId(id).setPendingId(pendingId).setCode(1)
                .setFlags(TransferFlags.newBuilder().setVoidPending(true)).build();
    }
}
