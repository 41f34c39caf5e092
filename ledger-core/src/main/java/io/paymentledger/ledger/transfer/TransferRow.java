package io.paymentledger.ledger.transfer;

import io.paymentledger.ledger.account.Balance;
import java.util.Map;

/**
 * A written transfer: immutable. {@code debitBalance} / {@code creditBalance} are the two accounts' balances
 * right after it (the balance history).
 */
public record TransferRow(String id, String debitAccountId, String creditAccountId, long amount, String currency,
        long code, int flags, String pendingId, int timeoutSeconds, String paymentId, Map<String, String> metadata,
        long timestampNs, long batchSeq, Balance debitBalance, Balance creditBalance) {

    public boolean has(int flag) {
        return TransferFlags.has(flags, flag);
    }
}
