package io.paymentledger.ledger.events;

import io.paymentledger.ledger.account.AccountState;
import io.paymentledger.ledger.account.Balance;
import io.paymentledger.ledger.transfer.TransferRow;

/**
 * One event: a journal row as the stream shows it. Exactly one of {@code account} (ACCOUNT_CREATED; its balance is
 * zero, as right after creation) and {@code transfer} (every other type, carrying both accounts' balances right after
 * it) is set. The owners decide who may see it ({@link io.paymentledger.ledger.access.Access}).
 */
public record LedgerEvent(EventType type, Position position, AccountState account, TransferRow transfer,
        String debitOwner, String creditOwner) {

    /** Stable and unique in the cell: account and transfer ids are each unique, the prefix keeps them apart. */
    public String id(String cell) {
        return account != null ? cell + ":a:" + account.id() : cell + ":t:" + transfer.id();
    }

    public long timestampNs() {
        return position.timestampNs();
    }

    public boolean touches(java.util.Set<String> accountIds) {
        return account != null ? accountIds.contains(account.id())
                : accountIds.contains(transfer.debitAccountId()) || accountIds.contains(transfer.creditAccountId());
    }

    /** The payer of a payment event: the debit side, except for a refund, which pays the payer back. */
    public String payerAccountId() {
        return type == EventType.PAYMENT_REFUNDED ? transfer.creditAccountId() : transfer.debitAccountId();
    }

    public String merchantAccountId() {
        return type == EventType.PAYMENT_REFUNDED ? transfer.debitAccountId() : transfer.creditAccountId();
    }

    /** A balance after the event, for an account created by it. */
    public static final Balance CREATED_BALANCE = Balance.ZERO;
}
