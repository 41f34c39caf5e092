package io.paymentledger.ledger.write;

import io.paymentledger.ledger.payment.PaymentResultCode;
import io.paymentledger.ledger.payment.PaymentView;

/** The answer to a payments call: result code, the payment after it (null if none), the transfer's timestamp. */
public record PaymentOutcome(PaymentResultCode code, PaymentView payment, long timestampNs) {}
