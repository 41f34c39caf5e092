package io.paymentledger.ledger.write;

import io.paymentledger.ledger.account.Balance;
import io.paymentledger.ledger.transfer.TransferStatus;

/**
 * The answer for one transfer: its status, commit timestamp, and both accounts' balances right after it
 * (null when the account is unknown).
 */
public record TransferResult(int index, String id, TransferStatus status, long timestampNs, Balance debitBalance,
        Balance creditBalance) {}
