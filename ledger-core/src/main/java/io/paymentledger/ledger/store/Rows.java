package io.paymentledger.ledger.store;

import static io.paymentledger.db.Tables.ACCOUNT;
import static io.paymentledger.db.Tables.PAYMENT;
import static io.paymentledger.db.Tables.TRANSFER;

import io.paymentledger.ledger.account.AccountState;
import io.paymentledger.ledger.account.Balance;
import io.paymentledger.ledger.payment.PaymentView;
import io.paymentledger.ledger.transfer.TransferRow;
import org.jooq.Record;

/** Maps database rows to the ledger's values. Shared by the writer, the readers and the verifier. */
public final class Rows {

    private Rows() {}

    public static AccountState account(Record r) {
        return new AccountState(r.get(ACCOUNT.ID), r.get(ACCOUNT.CURRENCY), r.get(ACCOUNT.CODE), r.get(ACCOUNT.OWNER),
                r.get(ACCOUNT.FLAGS), MetadataJson.fromJson(r.get(ACCOUNT.METADATA)),
                MetadataJson.listFromJson(r.get(ACCOUNT.GRANTED_MERCHANTS)), r.get(ACCOUNT.CREATED_NS), accountBalance(r));
    }

    public static Balance accountBalance(Record r) {
        return new Balance(r.get(ACCOUNT.DEBITS_PENDING), r.get(ACCOUNT.DEBITS_POSTED), r.get(ACCOUNT.CREDITS_PENDING),
                r.get(ACCOUNT.CREDITS_POSTED));
    }

    public static TransferRow transfer(Record r) {
        return new TransferRow(r.get(TRANSFER.ID), r.get(TRANSFER.DEBIT_ACCOUNT_ID), r.get(TRANSFER.CREDIT_ACCOUNT_ID),
                r.get(TRANSFER.AMOUNT), r.get(TRANSFER.CURRENCY), r.get(TRANSFER.CODE), r.get(TRANSFER.FLAGS),
                r.get(TRANSFER.PENDING_ID), r.get(TRANSFER.TIMEOUT_SECONDS), r.get(TRANSFER.PAYMENT_ID),
                MetadataJson.fromJson(r.get(TRANSFER.METADATA)), r.get(TRANSFER.TIMESTAMP_NS), r.get(TRANSFER.BATCH_SEQ),
                new Balance(r.get(TRANSFER.DR_DEBITS_PENDING), r.get(TRANSFER.DR_DEBITS_POSTED),
                        r.get(TRANSFER.DR_CREDITS_PENDING), r.get(TRANSFER.DR_CREDITS_POSTED)),
                new Balance(r.get(TRANSFER.CR_DEBITS_PENDING), r.get(TRANSFER.CR_DEBITS_POSTED),
                        r.get(TRANSFER.CR_CREDITS_PENDING), r.get(TRANSFER.CR_CREDITS_POSTED)));
    }

    public static PaymentView payment(Record r) {
        return new PaymentView(r.get(PAYMENT.ID), r.get(PAYMENT.PAYER_ACCOUNT_ID), r.get(PAYMENT.MERCHANT_ACCOUNT_ID),
                r.get(PAYMENT.CURRENCY), r.get(PAYMENT.AUTHORIZED_AMOUNT), r.get(PAYMENT.CAPTURED_AMOUNT),
                r.get(PAYMENT.REFUNDED_AMOUNT), r.get(PAYMENT.RELEASED_AMOUNT), r.get(PAYMENT.AUTHORIZED_AT_NS),
                r.get(PAYMENT.EXPIRES_AT_NS), r.get(PAYMENT.RELEASE_REASON), MetadataJson.fromJson(r.get(PAYMENT.METADATA)));
    }
}
